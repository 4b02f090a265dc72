// A loopback stand-in for the Snowflake SQL REST API that snowflake-sdk speaks, for tests and
// the demo (`npm run demo`): the real driver connects to it with `accessUrl: 'http://127.0.0.1:PORT'`.
// Each query runs for real in an in-process DuckDB database (@duckdb/node-api), with the request's
// bindings bound as DuckDB parameters (never spliced into the text), and the rows come back in
// Snowflake's JSON wire format (values as strings, a rowtype per column derived from DuckDB's types).
// Snowflake functions our canary queries use are provided: IFF and DATEADD as DuckDB macros,
// CURRENT_TIMESTAMP() (DuckDB only knows it without parentheses), NULLIF (native in DuckDB).
// Every query text and its bindings are recorded, so tests can assert values were bound.
// Task DDL, SHOW TASKS and anonymous blocks (BEGIN … END;) of task DDL are answered by an
// in-memory task catalog (tasks.ts, which says what it models and what not); everything else runs in DuckDB. TABLE(<db>.INFORMATION_SCHEMA.TASK_HISTORY(
// [TASK_NAME => '…'] [, RESULT_LIMIT => n])) reads the catalog's recorded runs of the account
// (newest first, RESULT_LIMIT default 100), put in a temporary DuckDB table for the statement, so
// WHERE, QUALIFY and ORDER BY around it run for real; its other arguments (time ranges,
// ERROR_ONLY) are refused, and ACCOUNT_USAGE.TASK_HISTORY is not modelled. CREATE TABLE of DATABASE.SCHEMA.TABLE
// creates the database and schema in DuckDB if missing (Snowflake would need them to exist).
// Faults can be injected: the next N statements matching a pattern (or N logins) fail (inside an
// anonymous block, the statement that matches fails and ends the block) with a given
// Snowflake error code and message; and statements can be made slow (answered after a delay, as a
// busy warehouse would), so a client's own timeout can be tested.
//
// It does NOT do: authentication beyond one fixed user/password (no key-pair, OAuth, SSO, MFA;
// no token expiry or renewal), warehouses, roles, databases/schemas as session context (USE …),
// most of Snowflake's SQL dialect (only what DuckDB understands plus IFF/DATEADD/CURRENT_TIMESTAMP();
// DATEADD's unit must be one DuckDB can read as an interval: second, minute, hour, day, week, month,
// year), async queries, cancellation of anything but a statement held by slow(), result chunks or Arrow results (every result is inline
// JSON), multi-statement requests, array (bulk) bindings, PUT/GET, session parameters (the
// statement timeout is not enforced), OCSP, and most of Snowflake's error codes: a query DuckDB
// rejects answers success:false with code 001003 ("SQL compilation error") and DuckDB's message;
// the task catalog answers with the codes of tasks.ts; injected faults with the code given.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { DuckDBConnection, DuckDBInstance, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { SnowflakeSqlError, TaskCatalog } from './tasks.js';

export { TaskCatalog, type TaskRecord, type TaskRunRecord } from './tasks.js';

/** An error the stand-in answers with instead of running a statement or accepting a login. */
export interface InjectedFault {
  /** statements whose text matches; 'login' for login requests */
  match: RegExp | 'login';
  /** how many matching requests fail; default 1 */
  times?: number;
  /** Snowflake's error code, e.g. '100132' (JavaScript execution error) or '390100' (bad credentials) */
  code: string;
  message: string;
  sqlState?: string;
}

export interface SnowflakeBinding { type: string; value: string | string[] | null }

export interface RecordedQuery {
  /** the SQL text exactly as the driver sent it */
  sqlText: string;
  /** the bindings as sent: {"1": {type: "TEXT", value: "…"}, …} */
  bindings: Record<string, SnowflakeBinding>;
  /** the text after the stand-in's dialect rewrites, as DuckDB ran it */
  ranAs: string;
  /** DuckDB's error, when the query failed */
  error?: string;
}

export interface SnowflakeStandInOptions {
  /** credentials the login must carry; default modelship / modelship */
  username?: string;
  password?: string;
  /** runs once on the DuckDB connection after the Snowflake macros exist: create tables, load data */
  setup?: (conn: DuckDBConnection) => Promise<void>;
  /** called with each statement before it runs (tests use it to stop a client after its k-th write) */
  onQuery?: (sqlText: string) => void;
}

export interface SnowflakeStandIn {
  /** the accessUrl to give snowflake-sdk, e.g. http://127.0.0.1:40123 */
  url: string;
  /** every query received, in order */
  queries: RecordedQuery[];
  /** logins received (LOGIN_NAME), in order */
  logins: string[];
  /** sessions ended by the driver (POST /session?delete=true) */
  logouts: number;
  /** the task catalog that answers task DDL and SHOW TASKS */
  tasks: TaskCatalog;
  /** fails the next matching statements (or logins) with the error given */
  inject(fault: InjectedFault): void;
  /** answers the next `times` (default 1) statements matching `match` only after `delayMs` */
  slow(match: RegExp, delayMs: number, times?: number): void;
  /** runs SQL directly on the DuckDB database (setup between tests) */
  run(sql: string): Promise<void>;
  /** the DuckDB connection, for bulk loading */
  connection: DuckDBConnection;
  stop(): Promise<void>;
}

export const snowflakeStandInCredentials = { username: 'modelship', password: 'modelship' };

/** The Snowflake functions our queries use, as DuckDB macros. */
const MACROS = [
  'CREATE OR REPLACE MACRO IFF(c, a, b) AS CASE WHEN c THEN a ELSE b END',
  // The unit arrives as a string: rewrite() quotes DATEADD's bare first argument (hour → 'hour').
  "CREATE OR REPLACE MACRO DATEADD(unit, n, ts) AS CAST(ts AS TIMESTAMPTZ) + n * CAST('1 ' || unit AS INTERVAL)",
];

export async function startSnowflakeStandIn(options: SnowflakeStandInOptions = {}): Promise<SnowflakeStandIn> {
  const expected = { username: options.username ?? snowflakeStandInCredentials.username, password: options.password ?? snowflakeStandInCredentials.password };
  // Loaded lazily: @duckdb/node-api is needed only where the stand-in runs (tests, demo).
  const duckdb = await import('@duckdb/node-api');
  const instance: DuckDBInstance = await duckdb.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  for (const m of MACROS) await connection.run(m);
  if (options.setup) await options.setup(connection);

  const queries: RecordedQuery[] = [];
  const logins: string[] = [];
  const tokens = new Set<string>();
  let serial = 0;
  const tasks = new TaskCatalog();
  const faults: Array<InjectedFault & { left: number }> = [];
  const delays: Array<{ match: RegExp; delayMs: number; left: number }> = [];
  /** statements held by slow(), by the driver's requestId: cancelling one answers it at once */
  const running = new Map<string, () => void>();
  /** The first armed fault matching, consumed once. */
  const fault = (what: string | 'login'): InjectedFault | undefined => {
    const f = faults.find((x) => x.left > 0 && (x.match === 'login' ? what === 'login' : what !== 'login' && x.match.test(what)));
    if (f) f.left--;
    return f;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const raw = await readBody(req);
    const body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    const send = (payload: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };

    if (req.method === 'POST' && url.pathname === '/session/v1/login-request') {
      const data = (body.data ?? {}) as Record<string, unknown>;
      logins.push(String(data.LOGIN_NAME ?? ''));
      const injected = fault('login');
      if (injected) {
        send({ success: false, code: injected.code, message: injected.message, data: null });
        return;
      }
      if (data.LOGIN_NAME !== expected.username || data.PASSWORD !== expected.password) {
        send({ success: false, code: '390100', message: 'Incorrect username or password was specified.', data: null });
        return;
      }
      const token = `token-${++serial}`;
      tokens.add(token);
      send({
        success: true,
        data: {
          token, masterToken: `master-${serial}`, validityInSeconds: 3600, masterValidityInSeconds: 14400,
          sessionId: serial, parameters: [{ name: 'TIMEZONE', value: 'UTC' }],
          sessionInfo: { databaseName: null, schemaName: null, warehouseName: null, roleName: 'PUBLIC' },
        },
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/queries/v1/query-request') {
      const token = /Snowflake Token="([^"]*)"/.exec(String(req.headers.authorization ?? ''))?.[1];
      if (!token || !tokens.has(token)) {
        send({ success: false, code: '390104', message: 'User must login again to access the service.', data: null });
        return;
      }
      send(await query(String(body.sqlText ?? ''), (body.bindings ?? {}) as Record<string, SnowflakeBinding>, url.searchParams.get('requestId') ?? undefined));
      return;
    }
    // What snowflake-sdk's statement.cancel() sends before the statement has a query id.
    if (req.method === 'POST' && url.pathname === '/queries/v1/abort-request') {
      running.get(String(body.requestId ?? ''))?.();
      send({ success: true, data: null });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
      const token = /Snowflake Token="([^"]*)"/.exec(String(req.headers.authorization ?? ''))?.[1];
      if (token && tokens.delete(token)) standIn.logouts++;
      send({ success: true, data: null });
      return;
    }
    // /telemetry/send, heartbeats, token renewal …: acknowledged, ignored.
    send({ success: true, data: null });
  }

  async function query(sqlText: string, bindings: Record<string, SnowflakeBinding>, requestId?: string) {
    const ranAs = rewrite(sqlText);
    const record: RecordedQuery = { sqlText, bindings, ranAs };
    queries.push(record);
    options.onQuery?.(record.sqlText);
    const queryId = `01b0-stand-in-${++serial}`;
    const failure = (code: string, message: string, sqlState = '42000') => {
      record.error = message;
      return { success: false, code, message, data: { queryId, sqlState, errorCode: code } };
    };
    const slow = delays.find((d) => d.left > 0 && d.match.test(sqlText));
    if (slow) {
      slow.left--;
      // A running statement can be cancelled (POST /queries/v1/abort-request with its requestId):
      // Snowflake then answers it with 000604 "SQL execution canceled" (SQLSTATE 57014), as its
      // SQL API reference shows for a cancelled statement.
      const cancelled = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { if (requestId) running.delete(requestId); resolve(false); }, slow.delayMs);
        if (requestId) running.set(requestId, () => { clearTimeout(timer); running.delete(requestId); resolve(true); });
      });
      if (cancelled) return failure('000604', 'SQL execution canceled', '57014');
    }
    // A block's statements meet the faults one by one, as they run (those before stay done).
    const block = TaskCatalog.isBlock(sqlText);
    const injected = block ? undefined : fault(sqlText);
    if (injected) return failure(injected.code, injected.message, injected.sqlState);
    if (TaskCatalog.handles(sqlText)) {
      try {
        const keys = Object.keys(bindings).sort((a, b) => Number(a) - Number(b));
        const answer = tasks.execute(sqlText, keys.map((k) => {
          const v = bindings[k]!.value;
          return Array.isArray(v) ? null : v;
        }), {
          beforeStatement: (statement) => {
            const f = fault(statement);
            if (f) throw new SnowflakeSqlError(f.code, f.message, f.sqlState);
          },
        });
        return { success: true, data: { queryId, ...answer, total: answer.rowset.length, returned: answer.rowset.length, queryResultFormat: 'json', parameters: [] } };
      } catch (e) {
        if (e instanceof SnowflakeSqlError) return failure(e.code, e.message, e.sqlState);
        throw e;
      }
    }
    let history: string | undefined;
    try {
      history = await taskHistory(record);
      await ensureContainers(record.ranAs);
      const keys = Object.keys(bindings).sort((a, b) => Number(a) - Number(b));
      // Typed by each binding's Snowflake type (TEXT, FIXED, REAL, BOOLEAN), as Snowflake does,
      // rather than left for DuckDB to infer from the context of the marker.
      const values = keys.map((k) => bindValue(bindings[k]!));
      const types = keys.map((k) => bindType(duckdb, bindings[k]!));
      const reader = await connection.runAndReadAll(record.ranAs, values, types);
      const columnTypes = reader.columnTypes();
      const rowtype = reader.columnNames().map((name, i) => rowType(name, columnTypes[i]!));
      const rowset = reader.getRows().map((row) => row.map((v, i) => wireValue(v, rowtype[i]!.type)));
      return { success: true, data: { queryId, rowtype, rowset, total: rowset.length, returned: rowset.length, queryResultFormat: 'json', parameters: [] } };
    } catch (e) {
      if (e instanceof SnowflakeSqlError) return failure(e.code, e.message, e.sqlState);
      record.error = (e as Error).message;
      return { success: false, code: '001003', message: `SQL compilation error:\n${record.error}`, data: { queryId, sqlState: '42000', errorCode: '001003' } };
    } finally {
      if (history) await connection.run(`DROP TABLE IF EXISTS ${history}`);
    }
  }

  /**
   * TABLE(<db>.INFORMATION_SCHEMA.TASK_HISTORY(…)) → a temporary table of the catalog's runs;
   * record.ranAs is rewritten to read it. Returns the table's name, or undefined when not used.
   */
  async function taskHistory(record: RecordedQuery): Promise<string | undefined> {
    const part = '"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*';
    const m = new RegExp(`TABLE\\s*\\(\\s*(?:(${part})\\.)?INFORMATION_SCHEMA\\.TASK_HISTORY\\s*\\(([^()]*)\\)\\s*\\)`, 'i').exec(record.ranAs);
    if (!m) return undefined;
    if (!m[1]) throw new SnowflakeSqlError('090105', 'Cannot perform SELECT. This session does not have a current database. Call \'USE DATABASE\', or use a qualified name.', '22000');
    const args: Record<string, string> = {};
    for (const a of m[2]!.split(',').map((x) => x.trim()).filter(Boolean)) {
      const arg = /^([A-Za-z_]+)\s*=>\s*('(?:[^']|'')*'|[0-9]+)$/.exec(a);
      if (!arg) throw new SnowflakeSqlError('001003', `SQL compilation error:\nthe stand-in's TASK_HISTORY takes TASK_NAME => '…' and RESULT_LIMIT => n as literals, not ${a}`);
      const key = arg[1]!.toUpperCase();
      if (key !== 'TASK_NAME' && key !== 'RESULT_LIMIT') throw new SnowflakeSqlError('001003', `SQL compilation error:\nthe stand-in's TASK_HISTORY does not model ${key}`);
      args[key] = arg[2]!.startsWith("'") ? arg[2]!.slice(1, -1).replace(/''/g, "'") : arg[2]!;
    }
    // As Snowflake's TASK_HISTORY (docs.snowflake.com/en/sql-reference/functions/task_history):
    // the history of the entire account (whichever database's INFORMATION_SCHEMA is named), or of
    // the tasks named TASK_NAME (unqualified, case-insensitive, every schema's); the newest
    // RESULT_LIMIT runs (1 to 10000, default 100) before any WHERE of the query.
    const limit = Number(args.RESULT_LIMIT ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10000) {
      throw new SnowflakeSqlError('001003', `SQL compilation error:\ninvalid value [${args.RESULT_LIMIT}] for parameter 'RESULT_LIMIT'`);
    }
    const runs = tasks.runs
      .filter((r) => !args.TASK_NAME || r.name.toUpperCase() === args.TASK_NAME.toUpperCase())
      .sort((a, b) => b.scheduledTime.getTime() - a.scheduledTime.getTime())
      .slice(0, limit);
    const table = `__TASK_HISTORY_${++serial}`;
    await connection.run(`CREATE TEMP TABLE ${table} (QUERY_ID VARCHAR, NAME VARCHAR, DATABASE_NAME VARCHAR, SCHEMA_NAME VARCHAR, STATE VARCHAR, ERROR_CODE VARCHAR, ERROR_MESSAGE VARCHAR, SCHEDULED_TIME TIMESTAMPTZ, QUERY_START_TIME TIMESTAMPTZ, COMPLETED_TIME TIMESTAMPTZ)`);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    for (const r of runs) {
      await connection.run(`INSERT INTO ${table} VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS TIMESTAMPTZ), CAST($9 AS TIMESTAMPTZ), CAST($10 AS TIMESTAMPTZ))`,
        [r.queryId, r.name, r.database, r.schema, r.state, r.errorCode, r.errorMessage, iso(r.scheduledTime), iso(r.queryStartTime), iso(r.completedTime)]);
    }
    record.ranAs = record.ranAs.slice(0, m.index) + table + record.ranAs.slice(m.index + m[0].length);
    return table;
  }

  /** CREATE TABLE [IF NOT EXISTS] DB.SCHEMA.T: attach DB and create SCHEMA in DuckDB when missing. */
  async function ensureContainers(sql: string): Promise<void> {
    const part = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)';
    const m = new RegExp(`^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${part}\\.${part}\\.${part}`, 'i').exec(sql);
    if (!m) return;
    const name = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s.toUpperCase());
    const database = name(m[1]!);
    const schema = name(m[2]!);
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const attached = await connection.runAndReadAll('SELECT database_name FROM duckdb_databases() WHERE lower(database_name) = lower($1)', [database]);
    if (attached.getRows().length === 0) await connection.run(`ATTACH ':memory:' AS ${q(database)}`);
    await connection.run(`CREATE SCHEMA IF NOT EXISTS ${q(database)}.${q(schema)}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, message: `stand-in error: ${(e as Error).message}`, data: null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let stopped = false;

  const standIn: SnowflakeStandIn = {
    url: `http://127.0.0.1:${port}`,
    queries,
    logins,
    logouts: 0,
    connection,
    tasks,
    inject(f: InjectedFault) {
      faults.push({ ...f, left: f.times ?? 1 });
    },
    slow(match: RegExp, delayMs: number, times = 1) {
      delays.push({ match, delayMs, left: times });
    },
    async run(sql: string) {
      await connection.run(sql);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      connection.closeSync();
      instance.closeSync();
    },
  };
  return standIn;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      resolve(req.headers['content-encoding'] === 'gzip' ? gunzipSync(buf) : buf);
    });
  });
}

/**
 * Snowflake → DuckDB dialect, outside quoted text and comments: DATEADD's bare unit becomes a
 * string, CURRENT_TIMESTAMP() loses its parentheses. Bind markers (?) are left as they are.
 */
export function rewrite(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    let next: number;
    if (rest.startsWith('--')) next = end('\n', i + 2);
    else if (rest.startsWith('/*')) next = end('*/', i + 2);
    else if (rest[0] === "'" || rest[0] === '"') next = end(rest[0], i + 1);
    else {
      const dateadd = /^DATEADD\s*\(\s*([A-Za-z_]+)\s*,/i.exec(rest);
      const now = /^CURRENT_TIMESTAMP\s*\(\s*\)/i.exec(rest);
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(rest);
      if (dateadd && (i === 0 || !/[A-Za-z0-9_$.]/.test(sql[i - 1]!))) {
        out += `DATEADD('${dateadd[1]!.toLowerCase()}',`;
        i += dateadd[0].length;
        continue;
      }
      if (now && (i === 0 || !/[A-Za-z0-9_$.]/.test(sql[i - 1]!))) {
        out += 'CURRENT_TIMESTAMP';
        i += now[0].length;
        continue;
      }
      next = i + (word ? word[0].length : 1);
    }
    out += sql.slice(i, next);
    i = next;
  }
  return out;

  function end(delimiter: string, from: number): number {
    const at = sql.indexOf(delimiter, from);
    return at < 0 ? sql.length : at + delimiter.length;
  }
}

function bindType(duckdb: typeof import('@duckdb/node-api'), b: SnowflakeBinding): DuckDBType {
  switch (b.type.toUpperCase()) {
    case 'FIXED': return Number.isSafeInteger(Number(b.value)) ? duckdb.BIGINT : duckdb.HUGEINT;
    case 'REAL': return duckdb.DOUBLE;
    case 'BOOLEAN': return duckdb.BOOLEAN;
    default: return duckdb.VARCHAR;
  }
}

function bindValue(b: SnowflakeBinding): DuckDBValue {
  if (b.value === null || Array.isArray(b.value)) {
    if (Array.isArray(b.value)) throw new Error('array bindings (bulk inserts) are not supported by the stand-in');
    return null;
  }
  switch (b.type.toUpperCase()) {
    case 'FIXED': {
      const n = Number(b.value);
      return Number.isSafeInteger(n) ? n : BigInt(b.value);
    }
    case 'REAL': return Number(b.value);
    case 'BOOLEAN': return b.value === '1' || b.value.toLowerCase() === 'true';
    default: return b.value; // TEXT, and dates/timestamps as text, which DuckDB casts
  }
}

interface RowType { name: string; type: string; scale: number; precision: number; length: number | null; nullable: boolean }

/** DuckDB column type → Snowflake rowtype entry (names uppercased as Snowflake does for unquoted identifiers). */
function rowType(name: string, type: DuckDBType): RowType {
  const text = type.toString().toUpperCase();
  const base = { name: /^[a-z_][a-z0-9_$]*$/i.test(name) ? name.toUpperCase() : name, nullable: true, length: null as number | null };
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(text);
  if (decimal) return { ...base, type: 'fixed', precision: Number(decimal[1]), scale: Number(decimal[2]) };
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(text)) return { ...base, type: 'fixed', precision: 38, scale: 0 };
  if (/^(FLOAT|DOUBLE)$/.test(text)) return { ...base, type: 'real', precision: 0, scale: 0 };
  if (text === 'BOOLEAN') return { ...base, type: 'boolean', precision: 0, scale: 0 };
  if (text === 'DATE') return { ...base, type: 'date', precision: 0, scale: 0 };
  if (text === 'TIMESTAMP WITH TIME ZONE') return { ...base, type: 'timestamp_ltz', precision: 0, scale: 9 };
  if (text.startsWith('TIMESTAMP')) return { ...base, type: 'timestamp_ntz', precision: 0, scale: 9 };
  return { ...base, type: 'text', precision: 0, scale: 0, length: 16_777_216 };
}

/** A DuckDB value in Snowflake's JSON result encoding. */
function wireValue(v: DuckDBValue, type: string): string | null {
  if (v === null || v === undefined) return null;
  if (type === 'boolean') return v ? '1' : '0';
  if (type === 'date') return String(Math.round(new Date(`${String(v)}T00:00:00Z`).getTime() / 86_400_000));
  if (type === 'timestamp_ntz' || type === 'timestamp_ltz') {
    // DuckDB timestamps carry microseconds since the epoch; Snowflake sends seconds.nanoseconds.
    const micros = BigInt((v as { micros: bigint }).micros);
    const seconds = micros / 1_000_000n - (micros < 0n && micros % 1_000_000n !== 0n ? 1n : 0n);
    const frac = micros - seconds * 1_000_000n;
    return `${seconds}.${frac.toString().padStart(6, '0')}000`;
  }
  if (type === 'real') {
    const n = Number(v);
    return Number.isNaN(n) ? 'NaN' : Number.isFinite(n) ? String(n) : n > 0 ? 'inf' : '-inf';
  }
  return String(v);
}

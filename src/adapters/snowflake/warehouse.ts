// A MetricSource over Snowflake through snowflake-sdk, for canary checks with `source: warehouse`.
// The policy's SQL arrives rendered by renderQuery(…, 'sql'): placeholders are `?` markers and
// their values travel as bind parameters, never in the text.
//
// Result convention: the query returns one row. Its first column is the check's value (a number;
// NULL or no row at all means no data). If the row also has a column named REQUESTS (any case,
// e.g. `COUNT(*) AS requests`), that is the number of requests the canary served in the window,
// which minRequests is judged against. More than one row is an error: aggregate in the query.
//
// One connection per source, opened on first use and kept until close(). Each statement has a
// timeout (sent to Snowflake as STATEMENT_TIMEOUT_IN_SECONDS and enforced here by cancelling it);
// failing to reach Snowflake is retried a bounded number of times with backoff; a query Snowflake
// rejects is not retried. Every failure is an ExternalError('snowflake', …).
import { readFileSync } from 'node:fs';
import type { Connection, ConnectionOptions, SnowflakeError } from 'snowflake-sdk';
import { ExternalError } from '../../errors.js';
import { retry } from '../retry.js';
import type { EvaluateOptions, MetricSample, MetricSource, MetricWindow } from '../../metrics/source.js';

export interface WarehouseOptions {
  /** account identifier, e.g. acme-prod (orgname-accountname) or xy12345.eu-west-1 */
  account: string;
  username: string;
  /** key-pair auth (the production way): a PEM private key, or a path to one */
  privateKey?: string;
  privateKeyPath?: string;
  privateKeyPass?: string;
  /** password auth (the stand-in, or accounts that still allow it) */
  password?: string;
  warehouse?: string;
  database?: string;
  schema?: string;
  role?: string;
  /** overrides the account's URL (tests and the demo point it at the loopback stand-in) */
  accessUrl?: string;
  /** per statement, and for connecting; default 60 s */
  timeoutMs?: number;
  /** tries to connect or run a statement when Snowflake cannot be reached, first included; default 3 */
  attempts?: number;
  /** the longest first wait before a retry (full jitter), doubled each time; default 500 ms */
  backoffMs?: number;
}

/** One Snowflake session: the part the metric source and the sync agent's Snowflake target share. */
export interface SnowflakeConnection {
  /** Runs one statement with bound parameters; rows as objects keyed by column name. */
  query(sql: string, binds?: ReadonlyArray<string | number>): Promise<Array<Record<string, unknown>>>;
  /** Ends the session (idempotent). */
  close(): Promise<void>;
}

export interface WarehouseSource extends MetricSource, SnowflakeConnection {}

/**
 * The warehouse configuration from the environment, or undefined when SNOWFLAKE_ACCOUNT is unset.
 * SNOWFLAKE_USER; SNOWFLAKE_PRIVATE_KEY_PATH (+ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) for key-pair
 * auth, else SNOWFLAKE_PASSWORD; SNOWFLAKE_WAREHOUSE, SNOWFLAKE_ROLE, SNOWFLAKE_DATABASE,
 * SNOWFLAKE_SCHEMA; MODELSHIP_SNOWFLAKE_URL overrides the URL (tests, demo).
 */
export function warehouseFromEnv(env: NodeJS.ProcessEnv = process.env): WarehouseOptions | undefined {
  const account = env.SNOWFLAKE_ACCOUNT?.trim();
  if (!account) return undefined;
  const set = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);
  const optional = {
    privateKeyPath: set(env.SNOWFLAKE_PRIVATE_KEY_PATH),
    privateKeyPass: env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE || undefined,
    password: env.SNOWFLAKE_PRIVATE_KEY_PATH?.trim() ? undefined : env.SNOWFLAKE_PASSWORD || undefined,
    warehouse: set(env.SNOWFLAKE_WAREHOUSE),
    role: set(env.SNOWFLAKE_ROLE),
    database: set(env.SNOWFLAKE_DATABASE),
    schema: set(env.SNOWFLAKE_SCHEMA),
    accessUrl: set(env.MODELSHIP_SNOWFLAKE_URL),
  };
  const options: WarehouseOptions = { account, username: set(env.SNOWFLAKE_USER) ?? '' };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (options as unknown as Record<string, string>)[k] = v;
  return options;
}

type Sdk = typeof import('snowflake-sdk');
let sdk: Promise<Sdk> | undefined;

/** snowflake-sdk is loaded on first use (it is large), with its cloud probing and chatter off. */
function loadSdk(): Promise<Sdk> {
  // Without this the driver probes cloud metadata addresses (169.254.169.254 …) on connect.
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION ??= 'true';
  process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE ??= '1';
  sdk ??= import('snowflake-sdk').then((m) => {
    const s = ((m as { default?: Sdk }).default ?? m) as Sdk;
    // The driver would otherwise write ./snowflake.log in the working directory. Its messages are
    // dropped: every failure reaches the user as an ExternalError, and nothing at levels that
    // print connection options is produced (logLevel ERROR).
    const drop = () => undefined;
    s.configure({ logLevel: 'ERROR', customLogger: { error: drop, warn: drop, info: drop, debug: drop, trace: drop } });
    return s;
  });
  return sdk;
}

/** Starts loading the driver now (a command that will need it soon). */
export function preloadSnowflakeSdk(): Promise<unknown> {
  return loadSdk().catch(() => undefined);
}

export function warehouseSource(options: WarehouseOptions): WarehouseSource {
  const connection = snowflakeConnection(options);
  const { query } = connection;
  return {
    query,
    close: connection.close,
    async evaluate(sql: string, _window: MetricWindow, evaluateOptions: EvaluateOptions = {}): Promise<MetricSample> {
      // The window is in the query (DATEADD, {{window}}); requestsQuery is PromQL-only: a warehouse
      // query reports its requests in a REQUESTS column.
      const rows = await query(sql, evaluateOptions.binds ?? []);
      if (rows.length === 0) return {};
      if (rows.length > 1) {
        throw new ExternalError('snowflake', 'query', `${short(sql)} returned ${rows.length} rows; a check needs one row (aggregate in the query)`);
      }
      const row = rows[0]!;
      const columns = Object.keys(row);
      const value = numberOf(row[columns[0]!], columns[0]!, sql);
      const requestsColumn = columns.slice(1).find((c) => c.toUpperCase() === 'REQUESTS');
      const requests = requestsColumn ? numberOf(row[requestsColumn], requestsColumn, sql) : undefined;
      return { ...(value !== undefined ? { value } : {}), ...(requests !== undefined ? { requests } : {}) };
    },
  };
}

/**
 * A lazily opened Snowflake session with per-statement timeouts and bounded retries of failures to
 * reach Snowflake (a statement Snowflake rejects is not retried). Values travel as binds.
 */
export function snowflakeConnection(options: WarehouseOptions): SnowflakeConnection {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const attempts = Math.max(1, options.attempts ?? 3);
  const backoffMs = options.backoffMs ?? 500;
  const where = options.accessUrl ?? `account ${options.account}`;
  let connection: Promise<Connection> | undefined;
  let closed = false;
  /** statements sent and not yet answered (a cancelled one is answered soon after the cancel) */
  const inflight = new Set<Promise<unknown>>();

  if (!options.username) throw new ExternalError('snowflake', 'configure', 'no user name (SNOWFLAKE_USER)');
  if (!options.password && !options.privateKey && !options.privateKeyPath) {
    throw new ExternalError('snowflake', 'configure', 'no credentials: set SNOWFLAKE_PRIVATE_KEY_PATH (key-pair auth) or SNOWFLAKE_PASSWORD');
  }

  function connect(): Promise<Connection> {
    if (closed) return Promise.reject(new ExternalError('snowflake', 'connect', 'the source was closed'));
    connection ??= (async () => {
      const s = await loadSdk();
      const privateKey = options.privateKey ?? (options.privateKeyPath ? readKey(options.privateKeyPath) : undefined);
      const config: ConnectionOptions = {
        account: options.account,
        username: options.username,
        ...(privateKey ? { authenticator: 'SNOWFLAKE_JWT', privateKey } : { password: options.password! }),
        ...(options.privateKeyPass ? { privateKeyPass: options.privateKeyPass } : {}),
        ...(options.warehouse ? { warehouse: options.warehouse } : {}),
        ...(options.database ? { database: options.database } : {}),
        ...(options.schema ? { schema: options.schema } : {}),
        ...(options.role ? { role: options.role } : {}),
        ...(options.accessUrl ? { accessUrl: options.accessUrl } : {}),
        application: 'modelship',
        // The driver's own HTTP timeout re-sends a request that outlives it; ours, a little
        // shorter, cancels the statement instead (and the cancelled statement is answered).
        timeout: timeoutMs + 5_000,
        // Our own loop retries (bounded, with backoff); the driver's would wait minutes.
        sfRetryMaxLoginRetries: 1,
      };
      const conn = s.createConnection(config);
      // connect(callback), not connectAsync(): the latter resolves even when the login failed.
      const connected = new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
      await withTimeout(connected, 'connect', () => void destroy(conn));
      return conn;
    })();
    // A failed connect is forgotten, so the next call tries again.
    connection.catch(() => { connection = undefined; });
    return connection;
  }

  async function once(sql: string, binds: ReadonlyArray<string | number>): Promise<Array<Record<string, unknown>>> {
    let conn: Connection;
    try {
      conn = await connect();
    } catch (e) {
      throw asExternal(e, 'connect');
    }
    let cancel: (() => void) | undefined;
    const run = new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
      const statement = conn.execute({
        sqlText: sql,
        binds: [...binds],
        parameters: { STATEMENT_TIMEOUT_IN_SECONDS: Math.max(1, Math.ceil(timeoutMs / 1000)) },
        complete: (err, _stmt, rows) => (err ? reject(err) : resolve((rows ?? []) as Array<Record<string, unknown>>)),
      });
      cancel = () => statement.cancel(() => undefined);
    });
    inflight.add(run);
    void run.then(() => inflight.delete(run), () => inflight.delete(run));
    try {
      return await withTimeout(run, 'query', () => cancel?.());
    } catch (e) {
      throw asExternal(e, 'query', sql);
    }
  }

  async function query(sql: string, binds: ReadonlyArray<string | number> = []): Promise<Array<Record<string, unknown>>> {
    const isRetryable = (e: unknown) => e instanceof ExternalError && e.details.retryable === true;
    try {
      return await retry(() => once(sql, binds), { attempts, baseDelayMs: backoffMs, retryable: isRetryable });
    } catch (e) {
      if (!isRetryable(e)) throw e;
      const last = e as ExternalError;
      throw new ExternalError('snowflake', last.operation, `${last.message.slice(`snowflake: ${last.operation}: `.length)} (${attempts} attempt${attempts === 1 ? '' : 's'})`,
        { ...last.details, hint: `is ${where} reachable?` });
    }
  }

  function withTimeout<T>(work: Promise<T>, operation: string, onTimeout: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout();
        reject(new ExternalError('snowflake', operation, `timed out after ${timeoutMs} ms`, { retryable: operation === 'connect' }));
      }, timeoutMs);
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }

  function asExternal(e: unknown, operation: string, sql?: string): ExternalError {
    if (e instanceof ExternalError) return e;
    const err = e as SnowflakeError;
    const code = Number(err?.code);
    // 401xxx/402xxx: the driver could not reach Snowflake or got no usable answer; worth another try.
    const transient = code >= 401_000 && code < 403_000;
    const what = sql ? ` in ${short(sql)}` : '';
    return new ExternalError('snowflake', operation, `${err?.message ?? String(e)}${err?.code ? ` (code ${err.code}${err.sqlState ? `, SQL state ${err.sqlState}` : ''})` : ''}${what}`,
      { retryable: transient, cause: e });
  }

  return {
    query,
    async close() {
      closed = true;
      const pending = connection;
      connection = undefined;
      if (!pending) return;
      const conn = await pending.catch(() => undefined);
      // A statement cancelled on timeout is still being answered: ending the session under it
      // makes the driver re-send it (with backoff, for a minute) to a session that is gone.
      if (inflight.size) await settled([...inflight], 5_000);
      if (conn) await destroy(conn);
    },
  };
}

/** Waits until every promise has settled, or `ms` has passed. */
function settled(work: Array<Promise<unknown>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([Promise.allSettled(work).then(() => undefined), limit]).finally(() => clearTimeout(timer));
}

function destroy(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    try {
      conn.destroy(() => resolve());
    } catch {
      resolve(); // never connected: nothing to end
    }
  });
}

function readKey(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ExternalError('filesystem', `read ${path}`, `cannot read the Snowflake private key (SNOWFLAKE_PRIVATE_KEY_PATH): ${(e as Error).message}`, { cause: e });
  }
}

function numberOf(v: unknown, column: string, sql: string): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || typeof v === 'string' ? Number(v) : NaN;
  if (Number.isNaN(n)) {
    throw new ExternalError('snowflake', 'query', `column ${column} of ${short(sql)} is ${JSON.stringify(String(v))}, not a number`);
  }
  return n;
}

const short = (sql: string) => {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}…` : flat;
};

// The stand-in's task catalog: Snowflake TASK DDL and SHOW TASKS, answered from memory, so the sync
// agent's Snowflake target can be tested through the real driver. What it models, after Snowflake's
// docs: a task has an id that CREATE OR ALTER keeps and CREATE OR REPLACE renews; new tasks start
// suspended; altering a started task is refused (the behaviour before bundle 2026_06, BCR-2363);
// SHOW TASKS answers Snowflake's column names, LIKE is case-insensitive with % _ and \ escapes.
// An anonymous Snowflake Scripting block of task statements (BEGIN <statement>; … END;) runs them
// in order as one request, as Snowflake does: "A simple block only requires the keywords BEGIN and
// END" and holds SQL statements (docs.snowflake.com/en/developer-guide/snowflake-scripting/blocks);
// a statement that fails raises an exception, and with no handler "the execution of the block
// stops" and the client reports it as a Snowflake error (…/snowflake-scripting/exceptions): the
// statements before it stay done (DDL is not rolled back). The error keeps the statement's code
// and wraps its message as Snowflake's clients show an uncaught one ("Uncaught exception of type
// 'STATEMENT_ERROR' on line L at position P : …"; the docs do not spell the wording out). The
// block's answer is one row with one column, "anonymous block", NULL (it returns nothing).
// Blocks here hold task statements only: no DECLARE, EXCEPTION, variables, binds or other SQL.
//
// Runs are not executed but can be recorded (recordRun, as if the scheduler had run the task), and
// INFORMATION_SCHEMA.TASK_HISTORY answers from those records (see server.ts).
//
// It does NOT: run tasks on their schedule (nothing executes; the body is stored text), check that the
// database, schema, warehouse or procedure exist, model task graphs (AFTER, FINALIZE), roles and
// ownership, ALTER TASK SET/UNSET/MODIFY, EXECUTE TASK, DESCRIBE TASK, SHOW TERSE / STARTS WITH /
// LIMIT, or session context (a task name must be fully qualified: DATABASE.SCHEMA.NAME).
// `SHOW TASKS LIKE ?` is accepted with a binding, which real Snowflake refuses (SHOW does not bind).

export interface TaskRecord {
  id: string;
  database: string;
  schema: string;
  name: string;
  state: 'started' | 'suspended';
  warehouse: string | null;
  schedule: string | null;
  config: string | null;
  comment: string | null;
  definition: string;
  condition: string | null;
  allowOverlappingExecution: boolean;
  createdOn: Date;
  lastCommittedOn: Date;
  lastSuspendedOn: Date | null;
  lastSuspendedReason: string | null;
}

export interface TaskAnswer {
  rowtype: Array<{ name: string; type: string; scale: number; precision: number; length: number | null; nullable: boolean }>;
  rowset: Array<Array<string | null>>;
}

/** One run of a task, as INFORMATION_SCHEMA.TASK_HISTORY reports it. */
export interface TaskRunRecord {
  queryId: string;
  name: string;
  database: string;
  schema: string;
  state: 'SCHEDULED' | 'EXECUTING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
  scheduledTime: Date;
  queryStartTime: Date | null;
  completedTime: Date | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/** A Snowflake error the stand-in answers with. */
export class SnowflakeSqlError extends Error {
  constructor(readonly code: string, message: string, readonly sqlState = '42000') {
    super(message);
  }
}

type Token = { kind: 'word' | 'ident' | 'string' | 'symbol' | 'bind'; text: string; value: string; start: number; end: number };

export class TaskCatalog {
  readonly tasks = new Map<string, TaskRecord>();
  /** runs recorded with recordRun, oldest first */
  readonly runs: TaskRunRecord[] = [];
  private serial = 0;
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Whether the statement is one the catalog answers (task DDL, SHOW TASKS). */
  static handles(sql: string): boolean {
    return /^\s*(?:CREATE\s+(?:OR\s+(?:ALTER|REPLACE)\s+)?TASK\b|ALTER\s+TASK\b|DROP\s+TASK\b|SHOW\s+TASKS\b)/i.test(sql) || TaskCatalog.isBlock(sql);
  }

  /**
   * An anonymous block (BEGIN followed by a statement), not BEGIN [TRANSACTION|WORK|NAME …], which
   * starts a transaction (docs: "The keyword BEGIN that starts a block is different from the
   * keyword BEGIN that starts a transaction").
   */
  static isBlock(sql: string): boolean {
    return /^\s*BEGIN\s+(?!(?:TRANSACTION|WORK|NAME)\b)[A-Za-z]/i.test(sql);
  }

  /**
   * Runs one task statement, or an anonymous block of them; `binds` are the request's bindings in
   * order. `beforeStatement` sees each statement of a block before it runs (an error it throws is
   * that statement's: the server's injected faults).
   */
  execute(sql: string, binds: Array<string | null>, options: { beforeStatement?: (sql: string) => void } = {}): TaskAnswer {
    const tokens = tokenize(sql);
    const p = new Parser(sql, tokens, binds);
    const head = p.word();
    if (head === 'BEGIN' && TaskCatalog.isBlock(sql)) {
      if (binds.length) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nthe stand-in\'s anonymous blocks take no bind variables.');
      return this.block(sql, tokens, options.beforeStatement);
    }
    if (head === 'SHOW') return this.show(p);
    if (head === 'CREATE') return this.create(p);
    if (head === 'ALTER') return this.alter(p);
    if (head === 'DROP') return this.drop(p);
    throw p.syntax();
  }

  /** BEGIN <statement>; … END[;]: each statement in order; the first that fails ends the block. */
  private block(sql: string, tokens: Token[], beforeStatement?: (sql: string) => void): TaskAnswer {
    const last = tokens.at(-1)?.kind === 'symbol' && tokens.at(-1)!.value === ';' ? tokens.length - 2 : tokens.length - 1;
    if (tokens[last]?.kind !== 'word' || tokens[last]!.value !== 'END') {
      throw new SnowflakeSqlError('001003', `SQL compilation error:\nsyntax error line ${lineOf(sql, sql.length)} at position 0 unexpected '<EOF>'. (the block has no END)`);
    }
    let from = tokens[1]!.start;
    const statements: Array<{ text: string; start: number }> = [];
    for (let i = 1; i <= last; i++) {
      const t = tokens[i]!;
      if (i === last || (t.kind === 'symbol' && t.value === ';')) {
        const text = sql.slice(from, t.start).trim();
        if (text) statements.push({ text, start: from + (sql.slice(from, t.start).length - sql.slice(from, t.start).trimStart().length) });
        else if (i !== last) throw new SnowflakeSqlError('001003', `SQL compilation error:\nsyntax error line ${lineOf(sql, t.start)} at position ${columnOf(sql, t.start)} unexpected ';'.`);
        from = t.end;
      }
    }
    if (!statements.length) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nsyntax error: the block has no statement between BEGIN and END.');
    // What the stand-in cannot run is refused before anything runs (Snowflake compiles a block first).
    const other = statements.find((s) => !TaskCatalog.handles(s.text) || TaskCatalog.isBlock(s.text));
    if (other) throw new SnowflakeSqlError('001003', `SQL compilation error:\nthe stand-in's anonymous blocks hold task statements only, not ${JSON.stringify(other.text.split('\n')[0]!.slice(0, 60))}.`);
    for (const s of statements) {
      try {
        beforeStatement?.(s.text);
        this.execute(s.text, []);
      } catch (e) {
        if (!(e instanceof SnowflakeSqlError)) throw e;
        throw new SnowflakeSqlError(e.code, `Uncaught exception of type 'STATEMENT_ERROR' on line ${lineOf(sql, s.start)} at position ${columnOf(sql, s.start)} : ${e.message}`, e.sqlState);
      }
    }
    return { rowtype: [{ name: 'anonymous block', type: 'text', scale: 0, precision: 0, length: 16_777_216, nullable: true }], rowset: [[null]] };
  }

  /** Finds a task by DATABASE.SCHEMA.NAME (any case for unquoted-style names). */
  get(fqn: string): TaskRecord | undefined {
    return this.tasks.get(fqn.toUpperCase()) ?? this.tasks.get(fqn);
  }

  private create(p: Parser): TaskAnswer {
    let mode: 'create' | 'alter' | 'replace' = 'create';
    if (p.maybe('OR')) mode = p.word() === 'ALTER' ? 'alter' : (p.back(), p.expect('REPLACE'), 'replace');
    p.expect('TASK');
    const ifNotExists = p.maybe('IF') ? (p.expect('NOT'), p.expect('EXISTS'), true) : false;
    const name = p.name();
    const props: Record<string, string | null> = {};
    while (!p.peekWord('AS')) {
      const key = p.word();
      if (!['WAREHOUSE', 'SCHEDULE', 'CONFIG', 'COMMENT', 'ALLOW_OVERLAPPING_EXECUTION', 'USER_TASK_TIMEOUT_MS', 'SUSPEND_TASK_AFTER_NUM_FAILURES'].includes(key)) {
        throw new SnowflakeSqlError('001003', `SQL compilation error:\nsyntax error line 1 at position ${p.position()} unexpected '${key}'.`);
      }
      p.expect('=');
      props[key] = key === 'WAREHOUSE' ? p.identifier() : p.value();
    }
    p.expect('AS');
    const definition = p.rest();
    if (!definition) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nsyntax error: the task has no body after AS.');
    const key = name.key;
    const existing = this.tasks.get(key);
    const now = this.now();
    const fields = {
      warehouse: props.WAREHOUSE ?? null, schedule: props.SCHEDULE ?? null, config: props.CONFIG ?? null, comment: props.COMMENT ?? null,
      definition, condition: null, allowOverlappingExecution: props.ALLOW_OVERLAPPING_EXECUTION?.toUpperCase() === 'TRUE',
    };
    if (existing && mode === 'create') {
      if (ifNotExists) return status(`${name.name} already exists, statement succeeded.`);
      throw new SnowflakeSqlError('002002', `SQL compilation error:\nObject '${name.name}' already exists.`);
    }
    if (existing && mode === 'alter') {
      if (existing.state === 'started') {
        throw new SnowflakeSqlError('091089', `Unable to update graph with root task ${key} since that root task is not suspended.`);
      }
      const changed = (Object.keys(fields) as Array<keyof typeof fields>).some((k) => existing[k] !== fields[k]);
      Object.assign(existing, fields);
      if (changed) existing.lastCommittedOn = now;
      return status(`Statement executed successfully.`);
    }
    // CREATE, or CREATE OR REPLACE: a new task, with a new id, suspended.
    this.tasks.set(key, {
      id: `01b${(++this.serial).toString(16).padStart(5, '0')}-0000-7a5e-0000-${Date.now().toString(16).padStart(12, '0')}`,
      database: name.database, schema: name.schema, name: name.name, state: 'suspended', ...fields,
      createdOn: now, lastCommittedOn: now, lastSuspendedOn: null, lastSuspendedReason: null,
    });
    return status(`Task ${name.name} successfully created.`);
  }

  private alter(p: Parser): TaskAnswer {
    p.expect('TASK');
    const ifExists = p.maybe('IF') ? (p.expect('EXISTS'), true) : false;
    const name = p.name();
    const action = p.word();
    if (action !== 'RESUME' && action !== 'SUSPEND') {
      throw new SnowflakeSqlError('001003', `SQL compilation error:\nthe stand-in supports ALTER TASK … RESUME | SUSPEND only, not ${action}.`);
    }
    p.end();
    const task = this.tasks.get(name.key);
    if (!task) {
      if (ifExists) return status('Statement executed successfully.');
      throw notFound(name.key);
    }
    if (action === 'RESUME') {
      task.state = 'started';
    } else if (task.state === 'started') {
      this.suspend(name.key, 'USER_SUSPENDED');
    }
    return status('Statement executed successfully.');
  }

  /**
   * Records a run of an existing task as Snowflake's scheduler would (the stand-in runs nothing):
   * a finished run by default, started a minute after it was scheduled.
   */
  recordRun(fqn: string, run: { state: TaskRunRecord['state']; scheduledTime: Date; completedTime?: Date | null; errorCode?: string; errorMessage?: string }): TaskRunRecord {
    const task = this.get(fqn);
    if (!task) throw notFound(fqn);
    const started = run.state === 'SCHEDULED' ? null : new Date(run.scheduledTime.getTime() + 1_000);
    const finished = run.state === 'SCHEDULED' || run.state === 'EXECUTING' ? null : new Date(run.scheduledTime.getTime() + 60_000);
    const record: TaskRunRecord = {
      queryId: `01b1-run-${(++this.serial).toString(16).padStart(6, '0')}`, name: task.name, database: task.database, schema: task.schema,
      state: run.state, scheduledTime: run.scheduledTime, queryStartTime: started,
      completedTime: run.completedTime !== undefined ? run.completedTime : finished,
      errorCode: run.errorCode ?? null, errorMessage: run.errorMessage ?? null,
    };
    this.runs.push(record);
    return record;
  }

  /** Suspends a task as Snowflake would, e.g. SUSPENDED_DUE_TO_ERRORS after failed runs. */
  suspend(fqn: string, reason = 'SUSPENDED_DUE_TO_ERRORS'): void {
    const task = this.get(fqn);
    if (!task) throw notFound(fqn);
    task.state = 'suspended';
    task.lastSuspendedOn = this.now();
    task.lastSuspendedReason = reason;
  }

  private drop(p: Parser): TaskAnswer {
    p.expect('TASK');
    const ifExists = p.maybe('IF') ? (p.expect('EXISTS'), true) : false;
    const name = p.name();
    p.end();
    if (!this.tasks.delete(name.key)) {
      if (ifExists) return status(`Drop statement executed successfully (${name.name} already dropped).`);
      throw notFound(name.key);
    }
    return status(`${name.name} successfully dropped.`);
  }

  private show(p: Parser): TaskAnswer {
    p.expect('TASKS');
    let pattern: string | undefined;
    let scope: { database?: string; schema?: string } = {};
    if (p.maybe('LIKE')) pattern = p.value() ?? undefined;
    if (p.maybe('IN')) {
      if (p.maybe('ACCOUNT')) scope = {};
      else if (p.maybe('DATABASE')) scope = { database: p.name(1).name };
      else {
        p.maybe('SCHEMA');
        const n = p.name(2);
        scope = { database: n.database, schema: n.name };
      }
    }
    p.end();
    const like = pattern === undefined ? undefined : likeRegExp(pattern);
    const rows = [...this.tasks.values()]
      .filter((t) => (!scope.database || t.database === scope.database) && (!scope.schema || t.schema === scope.schema) && (!like || like.test(t.name)))
      .sort((a, b) => `${a.database}.${a.schema}.${a.name}`.localeCompare(`${b.database}.${b.schema}.${b.name}`));
    return {
      rowtype: showColumns.map(([name, type]) => ({ name, type, scale: type === 'timestamp_ltz' ? 9 : 0, precision: 0, length: type === 'text' ? 16_777_216 : null, nullable: true })),
      rowset: rows.map((t) => [
        ts(t.createdOn), t.name, t.id, t.database, t.schema, 'MODELSHIP_DEPLOYER', t.comment ?? '', t.warehouse, t.schedule, '[]', t.state,
        t.definition, t.condition, t.allowOverlappingExecution ? 'true' : 'false', null, ts(t.lastCommittedOn), t.lastSuspendedOn ? ts(t.lastSuspendedOn) : null,
        'ROLE', t.config, null, '{"Predecessors":[]}', t.lastSuspendedReason,
      ]),
    };
  }
}

const showColumns: Array<[string, string]> = [
  ['created_on', 'timestamp_ltz'], ['name', 'text'], ['id', 'text'], ['database_name', 'text'], ['schema_name', 'text'], ['owner', 'text'],
  ['comment', 'text'], ['warehouse', 'text'], ['schedule', 'text'], ['predecessors', 'text'], ['state', 'text'], ['definition', 'text'],
  ['condition', 'text'], ['allow_overlapping_execution', 'text'], ['error_integration', 'text'], ['last_committed_on', 'timestamp_ltz'],
  ['last_suspended_on', 'timestamp_ltz'], ['owner_role_type', 'text'], ['config', 'text'], ['budget', 'text'], ['task_relations', 'text'],
  ['last_suspended_reason', 'text'],
];

function status(message: string): TaskAnswer {
  return { rowtype: [{ name: 'status', type: 'text', scale: 0, precision: 0, length: 16_777_216, nullable: true }], rowset: [[message]] };
}

function notFound(key: string): SnowflakeSqlError {
  return new SnowflakeSqlError('002003', `SQL compilation error:\nTask '${key}' does not exist or not authorized.`, '02000');
}

/** Snowflake's wire format for TIMESTAMP_LTZ: seconds since the epoch with a fraction. */
function ts(d: Date): string {
  const ms = d.getTime();
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}000000`;
}

/** SHOW … LIKE: case-insensitive, % and _ wildcards, \ escapes the next character. */
function likeRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 'is');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (sql.startsWith('--', i)) { i = nextOr(sql.indexOf('\n', i), sql.length); continue; }
    if (sql.startsWith('/*', i)) { i = nextOr(sql.indexOf('*/', i), sql.length - 2) + 2; continue; }
    const start = i;
    if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nunterminated quoted identifier.');
        if (sql[i] === '"' && sql[i + 1] === '"') { v += '"'; i += 2; continue; }
        if (sql[i] === '"') { i++; break; }
        v += sql[i++];
      }
      out.push({ kind: 'ident', text: sql.slice(start, i), value: v, start, end: i });
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nunterminated string literal.');
        const ch = sql[i]!;
        if (ch === "'" && sql[i + 1] === "'") { v += "'"; i += 2; continue; }
        if (ch === "'") { i++; break; }
        if (ch === '\\' && i + 1 < sql.length) {
          const n = sql[i + 1]!;
          v += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0' } as Record<string, string>)[n] ?? n;
          i += 2;
          continue;
        }
        v += ch;
        i++;
      }
      out.push({ kind: 'string', text: sql.slice(start, i), value: v, start, end: i });
    } else if (sql.startsWith('$$', i)) {
      const close = sql.indexOf('$$', i + 2);
      if (close < 0) throw new SnowflakeSqlError('001003', 'SQL compilation error:\nunterminated $$ string.');
      i = close + 2;
      out.push({ kind: 'string', text: sql.slice(start, i), value: sql.slice(start + 2, close), start, end: i });
    } else if (c === '?') {
      i++;
      out.push({ kind: 'bind', text: '?', value: '?', start, end: i });
    } else if (/[A-Za-z_]/.test(c)) {
      while (i < sql.length && /[A-Za-z0-9_$]/.test(sql[i]!)) i++;
      out.push({ kind: 'word', text: sql.slice(start, i), value: sql.slice(start, i).toUpperCase(), start, end: i });
    } else if (/[0-9]/.test(c)) {
      while (i < sql.length && /[0-9.]/.test(sql[i]!)) i++;
      out.push({ kind: 'word', text: sql.slice(start, i), value: sql.slice(start, i), start, end: i });
    } else {
      i++;
      out.push({ kind: 'symbol', text: c, value: c, start, end: i });
    }
  }
  return out;
}

/** 1-based line and 0-based column of an offset, as Snowflake's messages count them. */
function lineOf(sql: string, at: number): number {
  let n = 1;
  for (let i = 0; i < at; i++) if (sql[i] === '\n') n++;
  return n;
}

function columnOf(sql: string, at: number): number {
  return at - (sql.lastIndexOf('\n', at - 1) + 1);
}

function nextOr(at: number, fallback: number): number {
  return at < 0 ? fallback : at;
}

class Parser {
  private i = 0;
  private bindIndex = 0;
  constructor(private readonly sql: string, private readonly tokens: Token[], private readonly binds: Array<string | null>) {}

  position(): number {
    return (this.tokens[this.i - 1]?.start ?? 0) + 1;
  }
  syntax(): SnowflakeSqlError {
    const t = this.tokens[this.i];
    return new SnowflakeSqlError('001003', `SQL compilation error:\nsyntax error line 1 at position ${t ? t.start : this.sql.length} unexpected '${t ? t.text : '<EOF>'}'.`);
  }
  word(): string {
    const t = this.tokens[this.i];
    if (!t || (t.kind !== 'word' && t.kind !== 'symbol')) throw this.syntax();
    this.i++;
    return t.value;
  }
  back(): void {
    this.i--;
  }
  peekWord(w: string): boolean {
    const t = this.tokens[this.i];
    return !!t && t.kind === 'word' && t.value === w;
  }
  maybe(w: string): boolean {
    if (this.peekWord(w)) { this.i++; return true; }
    return false;
  }
  expect(w: string): void {
    const t = this.tokens[this.i];
    if (!t || t.value !== w || (t.kind !== 'word' && t.kind !== 'symbol')) throw this.syntax();
    this.i++;
  }
  end(): void {
    const t = this.tokens[this.i];
    if (t && !(t.kind === 'symbol' && t.value === ';' && this.i === this.tokens.length - 1)) throw this.syntax();
  }
  /** An identifier: "Quoted" as written, unquoted upper-cased. */
  identifier(): string {
    const t = this.tokens[this.i];
    if (!t || (t.kind !== 'word' && t.kind !== 'ident')) throw this.syntax();
    this.i++;
    return t.value;
  }
  /** A dotted name of exactly `parts` parts (3 for tasks). */
  name(parts = 3): { database: string; schema: string; name: string; key: string } {
    const got = [this.identifier()];
    while (this.tokens[this.i]?.value === '.' && this.tokens[this.i]?.kind === 'symbol') {
      this.i++;
      got.push(this.identifier());
    }
    if (got.length !== parts) {
      throw new SnowflakeSqlError('090105', `Cannot perform this operation: the stand-in has no current database or schema; use a ${parts === 3 ? 'DATABASE.SCHEMA.NAME' : parts === 2 ? 'DATABASE.SCHEMA' : 'DATABASE'} name (got ${got.join('.')}).`, '22000');
    }
    const [a, b, c] = got;
    return parts === 3 ? { database: a!, schema: b!, name: c!, key: got.join('.') } : parts === 2 ? { database: a!, schema: '', name: b!, key: got.join('.') } : { database: '', schema: '', name: a!, key: a! };
  }
  /** A string literal, a bind marker, or a bare word/number (TRUE, 60000). */
  value(): string | null {
    const t = this.tokens[this.i];
    if (!t) throw this.syntax();
    this.i++;
    if (t.kind === 'string') return t.value;
    if (t.kind === 'bind') {
      const v = this.binds[this.bindIndex++];
      if (v === undefined) throw new SnowflakeSqlError('002049', 'SQL compilation error: Bind variable ? not set.');
      return v;
    }
    if (t.kind === 'word') return t.value;
    this.i--;
    throw this.syntax();
  }
  /** The text after the current position (a task body), trimmed, without a final semicolon. */
  rest(): string {
    const t = this.tokens[this.i];
    if (!t) return '';
    this.i = this.tokens.length;
    return this.sql.slice(t.start).trim().replace(/;\s*$/, '');
  }
}

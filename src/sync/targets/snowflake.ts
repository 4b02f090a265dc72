// The sync agent's Snowflake target: reads the scoring tasks modelship manages (SHOW TASKS, marked
// by a JSON COMMENT), puts tasks in place (suspend, CREATE OR ALTER, resume, as one anonymous
// block: the task keeps its id), drops them, and appends a row per change to
// MODELSHIP_DEPLOYMENTS so data teams can join scores with versions. DDL cannot carry binds in
// Snowflake, so its values are validated and quoted by render/snowflake.ts; the INSERT binds every
// value. Every failure is an ExternalError('snowflake'), retryable only when Snowflake could not
// be reached.

import { ExternalError, ModelshipError } from '../../errors.js';
import type { SnowflakeConnection } from '../../adapters/snowflake/warehouse.js';
import { quoteIdentifier, taskBlock, taskIdentifier } from '../render/snowflake.js';
import { managerName, type LiveTask, type ScoringTask } from '../types.js';

/** One row of MODELSHIP_DEPLOYMENTS: one model's change in one environment at one commit. */
export interface DeploymentRow {
  /** RFC 3339 */
  deployedAt: string;
  environment: string;
  model: string;
  version: string;
  previousVersion?: string;
  artifactSha256?: string;
  commit: string;
  /** promote, rollback, canary-start, … */
  change: string;
  /** online or batch (or both: online+batch) */
  kind: string;
}

export interface SnowflakeTaskTarget {
  /** The tasks in DATABASE.SCHEMA whose COMMENT marks them as modelship's for `environment`. */
  listManaged(database: string, schema: string, environment: string): Promise<LiveTask[]>;
  /**
   * Suspend (if it exists), CREATE OR ALTER TASK, RESUME, in one request (an anonymous block):
   * the task keeps its id and ends up started. `absent`: the plan read the schema and found no
   * task of that name, so there is nothing to suspend (a first sync of 1,800 tasks sent 1,800 such no-op statements).
   */
  upsert(task: ScoringTask, options?: { absent?: boolean }): Promise<void>;
  /** DROP TASK IF EXISTS, only for a task whose COMMENT is modelship's. */
  drop(task: LiveTask): Promise<void>;
  /** Creates MODELSHIP_DEPLOYMENTS if missing and inserts the rows (bound values). */
  recordDeployments(database: string, schema: string, rows: DeploymentRow[]): Promise<void>;
}

export const deploymentsTable = 'MODELSHIP_DEPLOYMENTS';

const deploymentColumns = ['deployed_at', 'environment', 'model', 'version', 'previous_version', 'artifact_sha256', 'commit_sha', 'change', 'kind'] as const;

export function snowflakeTarget(conn: Pick<SnowflakeConnection, 'query'>): SnowflakeTaskTarget {
  async function run(operation: string, sql: string, binds: Array<string | number> = []): Promise<Array<Record<string, unknown>>> {
    try {
      return await conn.query(sql, binds);
    } catch (e) {
      if (e instanceof ExternalError) {
        throw new ExternalError('snowflake', operation, e.message.replace(/^snowflake: [^:]+: /, ''), e.details);
      }
      if (e instanceof ModelshipError) throw e;
      throw new ExternalError('snowflake', operation, (e as Error)?.message ?? String(e), { cause: e });
    }
  }

  return {
    async listManaged(database, schema, _environment) {
      const where = `${quoteIdentifier(database)}.${quoteIdentifier(schema)}`;
      // SHOW does not take binds (snowflake-connector-nodejs#387); the pattern is a constant.
      const rows = await run(`list tasks in ${database}.${schema}`, `SHOW TASKS LIKE 'MODELSHIP\\\\_%' IN SCHEMA ${where}`);
      const tasks: LiveTask[] = [];
      for (const row of rows) {
        // Every MODELSHIP_ task in the schema, whoever it belongs to: the planner keeps this
        // environment's and refuses to touch any other with a name it wants.
        const comment = parseComment(field(row, 'comment'));
        const warehouse = field(row, 'warehouse');
        const schedule = field(row, 'schedule');
        const definition = field(row, 'definition');
        const config = parseConfig(field(row, 'config'));
        tasks.push({
          database: field(row, 'database_name') ?? database.toUpperCase(),
          schema: field(row, 'schema_name') ?? schema.toUpperCase(),
          name: field(row, 'name') ?? '',
          state: field(row, 'state') ?? 'unknown',
          ...(warehouse ? { warehouse } : {}),
          ...(schedule ? { schedule } : {}),
          ...(definition ? { definition } : {}),
          ...(config ? { config } : {}),
          ...(comment ? { comment } : {}),
        });
      }
      return tasks.sort((a, b) => a.name.localeCompare(b.name));
    },

    async upsert(task, options = {}) {
      const what = `${task.database}.${task.schema}.${task.name}`;
      // One request: the statements in an anonymous block (taskBlock says why that is the same).
      const block = taskBlock(task, options);
      await run(`${options.absent ? 'create and resume' : 'suspend, create or alter and resume'} task ${what}`, block.sqlText, block.binds);
    },

    async drop(task) {
      if (task.comment?.managedBy !== managerName) {
        throw new ExternalError('snowflake', `drop task ${task.database}.${task.schema}.${task.name}`, 'refused: the task is not marked as modelship\'s (its COMMENT has no managedBy: modelship)');
      }
      await run(`drop task ${task.database}.${task.schema}.${task.name}`, `DROP TASK IF EXISTS ${taskIdentifier(task)}`);
    },

    async recordDeployments(database, schema, rows) {
      if (rows.length === 0) return;
      const table = `${quoteIdentifier(database)}.${quoteIdentifier(schema)}.${quoteIdentifier(deploymentsTable)}`;
      const what = `${database}.${schema}.${deploymentsTable}`;
      await run(`create table ${what}`, [
        `CREATE TABLE IF NOT EXISTS ${table} (`,
        '  deployed_at TIMESTAMPTZ NOT NULL,',
        '  environment VARCHAR NOT NULL,',
        '  model VARCHAR NOT NULL,',
        '  version VARCHAR NOT NULL,',
        '  previous_version VARCHAR,',
        '  artifact_sha256 VARCHAR,',
        '  commit_sha VARCHAR NOT NULL,',
        '  change VARCHAR NOT NULL,',
        '  kind VARCHAR NOT NULL',
        ')',
      ].join('\n'));
      // NULL cannot travel as a positional bind value here; an absent value is written as NULLIF(?, '').
      const placeholders = `(${deploymentColumns.map((c) => (c === 'previous_version' || c === 'artifact_sha256' ? "NULLIF(?, '')" : '?')).join(', ')})`;
      const binds: string[] = [];
      for (const r of rows) {
        binds.push(r.deployedAt, r.environment, r.model, r.version, r.previousVersion ?? '', r.artifactSha256 ?? '', r.commit, r.change, r.kind);
      }
      await run(`insert into ${what}`, `INSERT INTO ${table} (${deploymentColumns.join(', ')})\nVALUES ${rows.map(() => placeholders).join(',\n       ')}`, binds);
    },
  };
}

/** A SHOW column by name, whatever case the server used. */
function field(row: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(row).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : row[key];
  return v === null || v === undefined || v === '' ? undefined : String(v);
}

/** The COMMENT as modelship wrote it, or undefined when it is someone else's. */
export function parseComment(text: string | undefined): ScoringTask['comment'] | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // a free-text comment: not modelship's task
  }
  const c = parsed as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || c.managedBy !== managerName) return undefined;
  const keys = ['environment', 'model', 'version', 'specHash', 'commit'] as const;
  if (!keys.every((k) => typeof c[k] === 'string')) return undefined;
  return { managedBy: managerName, environment: c.environment as string, model: c.model as string, version: c.version as string, specHash: c.specHash as string, commit: c.commit as string };
}

/** A task's CONFIG as an object; anything else (absent, not JSON, not an object) is undefined. */
function parseConfig(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not ours to interpret; the plan then sees a difference and rewrites it
  }
}

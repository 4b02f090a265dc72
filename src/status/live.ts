// Reads what one environment runs, for the status snapshot, through the sync agent's own readers
// (KubernetesTarget.listManaged, the Snowflake target's listManaged) plus two warehouse queries:
// the last run of each scoring task (INFORMATION_SCHEMA.TASK_HISTORY) and the deployment log
// (MODELSHIP_DEPLOYMENTS), and each running shadow's and A/B's live numbers (status/experiments.ts). Each read that fails becomes { error } for the rows that needed it;
// one unreachable system never hides what the others say.

import type { LoadedRepository } from '../config/load.js';
import { ModelshipError } from '../errors.js';
import type { ModelDrift } from '../metrics/drift-monitor.js';
import { observeDrift } from '../metrics/drift-observe.js';
import { warehouseFor } from '../adapters/snowflake/warehouse-env.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';
import { desiredFor } from '../sync/agent.js';
import { kubeConnection } from '../sync/connect.js';
import { quoteIdentifier, stringLiteral, taskName } from '../sync/render/snowflake.js';
import { KubernetesTarget, loadKubeConfig } from '../adapters/kubernetes/target.js';
import { labels, managerName } from '../sync/types.js';
import { deploymentsTable, snowflakeTarget, type DeploymentRow } from '../sync/targets/snowflake.js';
import type { EnvironmentInput, ReadError, TaskRun } from './snapshot.js';
import { readExperiments } from './experiments.js';

export interface ReadOptions {
  /** per request to Kubernetes and per warehouse query */
  timeoutMs: number;
  /** measure drift (one warehouse aggregation per model) over this window; undefined: do not */
  driftWindow?: { start: Date; end: Date };
  /** deployment log rows to read, newest first (the dashboard's timeline) */
  historyLimit?: number;
  /** read running shadows and A/B tests (one warehouse aggregation each; their start from git history in `root`) as of `now`; undefined: do not */
  experiments?: { root: string; now: Date };
}

/** Everything status shows about one environment, read concurrently. */
export async function readEnvironment(repo: LoadedRepository, name: string, commit: string, vars: NodeJS.ProcessEnv, options: ReadOptions): Promise<EnvironmentInput & { history?: DeploymentRow[] }> {
  const env = repo.environments.get(name)!.data;
  const desired = desiredFor(repo, name, commit);
  let conn: SnowflakeConnection | undefined;
  try {
    const experimenting = !!options.experiments && Object.values(env.models).some((d) => d.shadow || d.canary?.ab);
    conn = env.snowflake || experimenting ? warehouseFor(env, vars, { timeoutMs: options.timeoutMs, attempts: 1 }) : undefined;
    const sql = conn;
    const noWarehouse: ReadError = { error: 'no Snowflake connection is configured (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_PATH)' };
    const kubernetes = env.kubernetes ? attempt(async () => {
      const target = new KubernetesTarget(loadKubeConfig(kubeConnection(vars)), { timeoutMs: options.timeoutMs });
      return (await target.listManaged(env.kubernetes!.namespace, name)).filter((o) => o.metadata.labels?.[labels.managedBy] === managerName && o.metadata.labels?.[labels.environment] === name);
    }) : undefined;
    const sf = env.snowflake;
    const snowflake = sf ? (sql ? attempt(async () => (await snowflakeTarget(sql).listManaged(sf.database, sf.schema, name)).filter((t) => t.comment?.environment === name)) : Promise.resolve(noWarehouse)) : undefined;
    const batchModels = Object.entries(env.models).filter(([, d]) => d.batch).map(([m]) => m);
    const runs = sf ? (sql ? attempt(() => lastRuns(sql, sf.database, sf.schema, batchModels.map(taskName))) : Promise.resolve(noWarehouse)) : undefined;
    const history = sf ? (sql ? attempt(() => deploymentLog(sql, sf.database, sf.schema, name, options.historyLimit ?? 200)) : Promise.resolve(noWarehouse)) : undefined;
    const drift = options.driftWindow && sql && env.snowflake ? measure(repo, sql, name, Object.keys(env.models), options.driftWindow) : Promise.resolve(undefined);
    const experiments = options.experiments && experimenting ? readExperiments(repo, name, commit, { ...options.experiments, conn: sql }) : Promise.resolve(undefined);
    const [k, s, r, h, d, x] = await Promise.all([kubernetes, snowflake, runs, history, drift, experiments]);
    return {
      environment: name, env, desired,
      ...(k ? { kubernetes: k } : {}), ...(s ? { snowflake: s } : {}), ...(r ? { runs: r } : {}),
      ...(h ? { deployments: h, ...(Array.isArray(h) ? { history: h } : {}) } : {}),
      ...(d ? { drift: d } : {}), ...(x ? { experiments: x } : {}),
    };
  } finally {
    await conn?.close();
  }
}

async function attempt<T>(read: () => Promise<T>): Promise<T | ReadError> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof ModelshipError) return { error: e.message.replace(/\s+/g, ' ') };
    throw e;
  }
}

async function measure(repo: LoadedRepository, conn: SnowflakeConnection, environment: string, models: string[], window: { start: Date; end: Date }): Promise<Record<string, ModelDrift>> {
  const results = await observeDrift(repo, conn, models.sort().map((model) => ({ environment, model })), window);
  return Object.fromEntries(results.map((r) => [r.model, r]));
}

/**
 * The newest finished or running run of each task (SCHEDULED rows are the future, not a run).
 * TASK_HISTORY answers for the whole account, newest first, at most RESULT_LIMIT (10,000) rows,
 * before any WHERE: without TASK_NAME a busy account's other tasks push ours out of the window.
 * So one read per task, by TASK_NAME (unqualified and case-insensitive; same-named tasks of
 * other schemas come too, hence the schema filter): docs.snowflake.com/en/sql-reference/functions/task_history.
 */
export async function lastRuns(conn: Pick<SnowflakeConnection, 'query'>, database: string, schema: string, tasks: string[]): Promise<Record<string, TaskRun>> {
  if (!tasks.length) return {};
  const rows: Array<Record<string, unknown>> = [];
  for (const task of tasks) {
    // The table function's own arguments are literals (the name is ours: MODELSHIP_<MODEL>); the filter binds.
    rows.push(...await conn.query([
      'SELECT NAME, STATE, SCHEDULED_TIME, COMPLETED_TIME, ERROR_MESSAGE',
      `FROM TABLE(${quoteIdentifier(database)}.INFORMATION_SCHEMA.TASK_HISTORY(TASK_NAME => ${stringLiteral(task)}, RESULT_LIMIT => 10000))`,
      "WHERE SCHEMA_NAME = ? AND NAME = ? AND STATE <> 'SCHEDULED'",
      'ORDER BY SCHEDULED_TIME DESC LIMIT 1',
    ].join('\n'), [schema.toUpperCase(), task]));
  }
  const out: Record<string, TaskRun> = {};
  for (const row of rows) {
    const v = lower(row);
    const task = String(v.name);
    const completed = time(v.completed_time);
    out[task] = {
      task, state: String(v.state), scheduledTime: time(v.scheduled_time) ?? '',
      ...(completed ? { completedTime: completed } : {}), ...(v.error_message ? { errorMessage: String(v.error_message) } : {}),
    };
  }
  return out;
}

/** The environment's deployment log, newest first; none yet (no table) is an empty log. */
export async function deploymentLog(conn: Pick<SnowflakeConnection, 'query'>, database: string, schema: string, environment: string, limit: number): Promise<DeploymentRow[]> {
  const table = `${quoteIdentifier(database)}.${quoteIdentifier(schema)}.${quoteIdentifier(deploymentsTable)}`;
  let rows: Array<Record<string, unknown>>;
  try {
    rows = await conn.query([
      'SELECT deployed_at, environment, model, version, previous_version, artifact_sha256, commit_sha, change, kind',
      `FROM ${table}`,
      'WHERE environment = ?',
      'ORDER BY deployed_at DESC',
      `LIMIT ${Math.max(1, Math.floor(limit))}`,
    ].join('\n'), [environment]);
  } catch (e) {
    // The sync agent creates the table with its first record: before that there is no log to read.
    if (e instanceof ModelshipError && /does not exist/i.test(e.message)) return [];
    throw e;
  }
  return rows.map((row) => {
    const v = lower(row);
    return {
      deployedAt: time(v.deployed_at) ?? '', environment: String(v.environment), model: String(v.model), version: String(v.version),
      ...(v.previous_version ? { previousVersion: String(v.previous_version) } : {}),
      ...(v.artifact_sha256 ? { artifactSha256: String(v.artifact_sha256) } : {}),
      commit: String(v.commit_sha), change: String(v.change), kind: String(v.kind),
    };
  });
}

function lower(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
}

/** snowflake-sdk gives timestamps as Dates (with their own toJSON); the stand-in's as the same. */
function time(v: unknown): string | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? String(v) : new Date(d.getTime()).toISOString();
}

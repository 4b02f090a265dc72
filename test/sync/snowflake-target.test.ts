// The Snowflake target through the real snowflake-sdk against the loopback stand-in, whose task
// catalog keeps ids and states the way Snowflake does (CREATE OR ALTER keeps the id, CREATE OR
// REPLACE renews it, new tasks are suspended, a started task cannot be altered) and answers SHOW TASKS.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadDocument } from '../../src/config/load.js';
import type { Environment, ModelCard, VersionManifest } from '../../src/config/types.js';
import { ExternalError } from '../../src/errors.js';
import { snowflakeConnection, type SnowflakeConnection } from '../../src/adapters/snowflake/warehouse.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, TaskCatalog, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { renderTasks, taskConfig, taskStatements } from '../../src/sync/render/snowflake.js';
import { snowflakeTarget, type SnowflakeTaskTarget } from '../../src/sync/targets/snowflake.js';
import type { ScoringTask } from '../../src/sync/types.js';
import { projectRoot } from '../helpers/cli.js';

const commit = '4f1c2e9a7b3d5f60718293a4b5c6d7e8f9012345';
const load = <T>(file: string, schema: 'environment' | 'model' | 'version'): T => loadDocument<T>(file, readFileSync(`${projectRoot}${file}`), schema).loaded!.data;

/** The example repository's tasks for an environment, optionally with a model pinned to another version. */
function tasksFor(environment: string, pins: Record<string, string> = {}, at = commit): ScoringTask[] {
  const env = load<Environment>(`environments/${environment}.yaml`, 'environment');
  const models = Object.entries(env.models).flatMap(([model, deployment]) => {
    const card = load<ModelCard>(`models/${model}/model.yaml`, 'model');
    const version = pins[model] ?? deployment.version;
    if (!deployment.batch || !card.serving.batch) return [];
    return [{ card, deployment: { ...deployment, version }, manifest: load<VersionManifest>(`models/${model}/versions/${version}.yaml`, 'version') }];
  });
  return renderTasks({ environment, env, commit: at, models });
}

let standIn: SnowflakeStandIn;
let conn: SnowflakeConnection;
let target: SnowflakeTaskTarget;
const fraudKey = 'ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR';
const writes = () => standIn.queries.filter((q) => !/^\s*SHOW\b/i.test(q.sqlText)).length;

/** The statements of an anonymous block as the target writes it (BEGIN, one indented statement each, END;). */
function blockStatements(sqlText: string): string[] | undefined {
  const m = /^BEGIN\n([\s\S]*);\nEND;$/.exec(sqlText);
  return m ? m[1]!.split(/;\n(?=  \S)/).map((s) => s.replace(/^  /gm, '')) : undefined;
}

t.before(async () => {
  standIn = await startSnowflakeStandIn();
  conn = snowflakeConnection({ ...snowflakeStandInCredentials, account: 'acme-prod', accessUrl: standIn.url, timeoutMs: 10_000, attempts: 1 });
  target = snowflakeTarget(conn);
});
t.teardown(async () => {
  await conn?.close();
  await standIn?.stop();
});

t.test('create: the task exists, is started, and carries the comment and config', async (t) => {
  const fraud = tasksFor('production').find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  await target.upsert(fraud);
  const task = standIn.tasks.get(fraudKey)!;
  t.equal(task.state, 'started');
  t.equal(task.warehouse, 'SCORING_WH_M');
  t.equal(task.schedule, 'USING CRON 0 2 * * * America/New_York');
  t.same(JSON.parse(task.comment!), fraud.comment);
  t.match(JSON.parse(task.config!), { model: 'fraud-detector', version: '2026.11.06-1', artifactSha256: fraud.args[3] });
  t.match(task.definition, /^CALL "ML_PLATFORM"\."SCORING"\."SCORE_WITH_MODEL"\(SYSTEM\$GET_TASK_GRAPH_CONFIG\('model'\)::VARCHAR, /);
  t.notOk(standIn.queries.some((q) => /OR\s+REPLACE/i.test(q.sqlText)), 'never CREATE OR REPLACE');

  const live = await target.listManaged('ML_PROD', 'SCORING', 'production');
  t.same(live, [{
    database: 'ML_PROD', schema: 'SCORING', name: 'MODELSHIP_FRAUD_DETECTOR', state: 'started', warehouse: 'SCORING_WH_M',
    schedule: 'USING CRON 0 2 * * * America/New_York', definition: task.definition, config: taskConfig(fraud), comment: fraud.comment,
  }]);
});

t.test('upsert is one request, an anonymous block; a task the plan found absent gets no SUSPEND, otherwise SUSPEND comes first', async (t) => {
  const fraud = tasksFor('staging').find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  const from = standIn.queries.length;
  await target.upsert(fraud, { absent: true });
  t.equal(standIn.queries.length - from, 1, 'one request');
  t.same(blockStatements(standIn.queries[from]!.sqlText)?.map((s) => s.split('\n')[0]), [
    'CREATE OR ALTER TASK "ML_STAGING"."SCORING"."MODELSHIP_FRAUD_DETECTOR"',
    'ALTER TASK "ML_STAGING"."SCORING"."MODELSHIP_FRAUD_DETECTOR" RESUME',
  ]);
  t.equal(standIn.tasks.get('ML_STAGING.SCORING.MODELSHIP_FRAUD_DETECTOR')?.state, 'started');
  const again = standIn.queries.length;
  await target.upsert(fraud);
  t.equal(standIn.queries.length - again, 1, 'one request');
  t.same(blockStatements(standIn.queries[again]!.sqlText)?.map((s) => s.split('\n')[0]), [
    'ALTER TASK IF EXISTS "ML_STAGING"."SCORING"."MODELSHIP_FRAUD_DETECTOR" SUSPEND',
    'CREATE OR ALTER TASK "ML_STAGING"."SCORING"."MODELSHIP_FRAUD_DETECTOR"',
    'ALTER TASK "ML_STAGING"."SCORING"."MODELSHIP_FRAUD_DETECTOR" RESUME',
  ]);
  // the block's statements are taskStatements' (the golden SQL files), indented
  t.same(blockStatements(standIn.queries[again]!.sqlText), taskStatements(fraud).map((s) => s.sqlText));
});

t.test('a statement that fails in the block stops it: the error is that statement\'s, the ones after it are not run', async (t) => {
  const fraud = tasksFor('staging').find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  const key = 'ML_STAGING.SCORING.MODELSHIP_FRAUD_DETECTOR';
  t.equal(standIn.tasks.get(key)?.state, 'started');
  // The plan's read is stale: it found no task, but one is there and started, which Snowflake
  // refuses to alter. The RESUME after the CREATE OR ALTER does not run.
  const committed = standIn.tasks.get(key)!.lastCommittedOn.getTime();
  const changed = { ...fraud, comment: { ...fraud.comment, commit: 'c'.repeat(40) } };
  const e = await t.rejects(target.upsert(changed, { absent: true }), { name: 'ExternalError' }) as unknown as ExternalError;
  t.match(e.message, /^snowflake: create and resume task ML_STAGING\.SCORING\.MODELSHIP_FRAUD_DETECTOR: Uncaught exception of type 'STATEMENT_ERROR' on line 2 at position 2 : Unable to update graph with root task ML_STAGING\.SCORING\.MODELSHIP_FRAUD_DETECTOR since that root task is not suspended\. \(code 091089, SQL state 42000\) in BEGIN CREATE OR ALTER TASK/);
  t.equal(e.details.retryable, false);
  t.equal(standIn.tasks.get(key)!.lastCommittedOn.getTime(), committed, 'nothing altered');
  // A fault on the RESUME: the SUSPEND and the CREATE OR ALTER before it stay done, the task stays suspended.
  standIn.inject({ match: /^ALTER TASK "ML_STAGING"\."SCORING"\."MODELSHIP_FRAUD_DETECTOR" RESUME$/, code: '003001', message: 'SQL access control error:\nInsufficient privileges to operate on task \'MODELSHIP_FRAUD_DETECTOR\'', sqlState: '42501' });
  const e2 = await t.rejects(target.upsert(changed), { name: 'ExternalError' }) as unknown as ExternalError;
  t.match(e2.message, /^snowflake: suspend, create or alter and resume task ML_STAGING\.SCORING\.MODELSHIP_FRAUD_DETECTOR: Uncaught exception of type 'STATEMENT_ERROR' on line 10 at position 2 : SQL access control error:\nInsufficient privileges/);
  t.equal(standIn.tasks.get(key)!.state, 'suspended');
  t.equal(JSON.parse(standIn.tasks.get(key)!.comment!).commit, 'c'.repeat(40), 'altered before the RESUME failed');
  await target.upsert(changed); // the fault is spent
  t.equal(standIn.tasks.get(key)!.state, 'started');
});

t.test('re-upsert with the same spec keeps the id and the task started', async (t) => {
  const fraud = tasksFor('production').find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  const before = { ...standIn.tasks.get(fraudKey)! };
  await target.upsert(fraud);
  const after = standIn.tasks.get(fraudKey)!;
  t.equal(after.id, before.id, 'identity survives');
  t.equal(after.state, 'started');
  t.equal(after.lastCommittedOn.getTime(), before.lastCommittedOn.getTime(), 'nothing changed, nothing committed');
});

t.test('a version change alters the task in place: new config and comment, same id, started', async (t) => {
  const before = { ...standIn.tasks.get(fraudKey)! };
  const next = tasksFor('production', { 'fraud-detector': '2026.11.13-1' }, 'b'.repeat(40)).find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  const mark = standIn.queries.length;
  await target.upsert(next);
  const after = standIn.tasks.get(fraudKey)!;
  t.equal(after.id, before.id, 'same id: auditors follow one task');
  t.equal(after.state, 'started');
  t.equal(JSON.parse(after.config!).version, '2026.11.13-1');
  t.equal(JSON.parse(after.comment!).version, '2026.11.13-1');
  t.not(JSON.parse(after.comment!).specHash, JSON.parse(before.comment!).specHash);
  t.equal(after.definition, before.definition, 'the body carries no values, so it does not change');
  t.same(standIn.queries.slice(mark).flatMap((q) => blockStatements(q.sqlText) ?? [q.sqlText]).map((q) => q.split('\n')[0]!.replace(/ ".*$/, '')), ['ALTER TASK IF EXISTS', 'CREATE OR ALTER TASK', 'ALTER TASK'],
    'suspended first (Snowflake refuses to alter a started task), then altered, then resumed');
});

t.test('altering a started task without suspending it is refused, as Snowflake does', async (t) => {
  await t.rejects(conn.query(`CREATE OR ALTER TASK "ML_PROD"."SCORING"."MODELSHIP_FRAUD_DETECTOR" WAREHOUSE = "X" AS SELECT 1`), { message: /not suspended/ });
});

t.test('the stand-in\'s anonymous blocks: one row "anonymous block" NULL; task statements only; BEGIN TRANSACTION is not one', async (t) => {
  t.same(await conn.query('BEGIN\n  CREATE TASK "ML_PROD"."SCORING"."BLOCKED" AS SELECT 1;\n  DROP TASK "ML_PROD"."SCORING"."BLOCKED";\nEND;'), [{ 'anonymous block': null }]);
  t.notOk(standIn.tasks.get('ML_PROD.SCORING.BLOCKED'), 'both statements ran, in order');
  await t.rejects(conn.query('BEGIN\n  CREATE TASK "ML_PROD"."SCORING"."BLOCKED" AS SELECT 1;\n  SELECT 1;\nEND;'), { message: /the stand-in's anonymous blocks hold task statements only, not "SELECT 1"/ });
  t.notOk(standIn.tasks.get('ML_PROD.SCORING.BLOCKED'), 'a block it cannot run is refused before it runs anything');
  await t.rejects(conn.query('BEGIN\n  DROP TASK "ML_PROD"."SCORING"."BLOCKED";'), { message: /the block has no END/ });
  t.notOk(TaskCatalog.isBlock('BEGIN TRANSACTION'));
  t.notOk(TaskCatalog.isBlock('BEGIN;'));
  t.ok(TaskCatalog.isBlock('begin\n  drop task a.b.c;\nend;'));
});

t.test('CREATE OR REPLACE would give the task a new id (why it is never used)', async (t) => {
  await conn.query(`CREATE TASK "ML_PROD"."SCORING"."SCRATCH" AS SELECT 1`);
  const id = standIn.tasks.get('ML_PROD.SCORING.SCRATCH')!.id;
  await conn.query(`CREATE OR REPLACE TASK "ML_PROD"."SCORING"."SCRATCH" AS SELECT 1`);
  t.not(standIn.tasks.get('ML_PROD.SCORING.SCRATCH')!.id, id);
  t.equal(standIn.tasks.get('ML_PROD.SCORING.SCRATCH')!.state, 'suspended', 'and leaves it suspended');
  await conn.query('DROP TASK "ML_PROD"."SCORING"."SCRATCH"');
});

t.test('listManaged returns every MODELSHIP_ task in the schema with its owner (COMMENT), for the planner to tell apart', async (t) => {
  for (const task of tasksFor('staging')) await target.upsert(task);
  // Same database and schema as production's tasks: the environment is in each task's COMMENT.
  const stagingHere = tasksFor('staging').map((x) => ({ ...x, database: 'ML_PROD' }));
  await target.upsert(stagingHere[0]!);
  await conn.query(`CREATE TASK "ML_PROD"."SCORING"."MODELSHIP_HANDMADE" COMMENT = 'nightly clean-up, owned by data eng' AS SELECT 1`);
  await conn.query(`CREATE TASK "ML_PROD"."SCORING"."MODELSHIP_OTHER" COMMENT = '{"managedBy":"someone-else","environment":"production"}' AS SELECT 1`);
  await conn.query(`CREATE TASK "ML_PROD"."SCORING"."REFRESH_FEATURES" COMMENT = '{"managedBy":"modelship","environment":"production","model":"x","version":"1","specHash":"a","commit":"b"}' AS SELECT 1`);

  const all = await target.listManaged('ML_PROD', 'SCORING', 'production');
  t.same(all.map((x) => [x.name, x.comment?.environment ?? 'not modelship\'s']), [
    ['MODELSHIP_CHARGEBACK_RISK', 'staging'], ['MODELSHIP_FRAUD_DETECTOR', 'production'],
    ['MODELSHIP_HANDMADE', 'not modelship\'s'], ['MODELSHIP_OTHER', 'not modelship\'s'],
  ], 'every MODELSHIP_ task, its COMMENT parsed only when it is modelship\'s; names outside MODELSHIP_% are not listed');
  const staging = await target.listManaged('ML_STAGING', 'SCORING', 'staging');
  t.same(staging.map((x) => x.name), ['MODELSHIP_CHARGEBACK_RISK', 'MODELSHIP_FRAUD_DETECTOR']);
  t.same(staging.map((x) => x.state), ['started', 'started']);
  t.match(standIn.queries.filter((q) => /^SHOW TASKS/.test(q.sqlText)).at(-1)!.sqlText, /^SHOW TASKS LIKE 'MODELSHIP\\\\_%' IN SCHEMA "ML_STAGING"\."SCORING"$/);
});

t.test('drop removes modelship tasks only', async (t) => {
  const [live] = (await target.listManaged('ML_PROD', 'SCORING', 'staging')).filter((x) => x.comment?.environment === 'staging');
  await target.drop(live!);
  t.notOk(standIn.tasks.get('ML_PROD.SCORING.MODELSHIP_CHARGEBACK_RISK'));
  await target.drop(live!); // already gone: DROP TASK IF EXISTS, no error
  const before = writes();
  await t.rejects(target.drop({ database: 'ML_PROD', schema: 'SCORING', name: 'MODELSHIP_HANDMADE', state: 'started' }), { name: 'ExternalError', message: /not marked as modelship's/ });
  t.equal(writes(), before, 'nothing sent for a task that is not ours');
  t.ok(standIn.tasks.get('ML_PROD.SCORING.MODELSHIP_HANDMADE'));
});

t.test('a task suspended by errors is resumed by upsert', async (t) => {
  standIn.tasks.suspend(fraudKey, 'SUSPENDED_DUE_TO_ERRORS');
  const [live] = await target.listManaged('ML_PROD', 'SCORING', 'production');
  t.equal(live!.state, 'suspended');
  const id = standIn.tasks.get(fraudKey)!.id;
  const next = tasksFor('production', { 'fraud-detector': '2026.11.13-1' }, 'b'.repeat(40)).find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  await target.upsert(next);
  t.equal(standIn.tasks.get(fraudKey)!.state, 'started');
  t.equal(standIn.tasks.get(fraudKey)!.id, id);
});

t.test('recordDeployments creates MODELSHIP_DEPLOYMENTS and inserts bound rows', async (t) => {
  const rows = [
    { deployedAt: '2026-11-20T14:02:11Z', environment: 'production', model: 'fraud-detector', version: '2026.11.13-1', previousVersion: '2026.11.06-1', artifactSha256: 'a'.repeat(64), commit: 'b'.repeat(40), change: 'promote', kind: 'online+batch' },
    { deployedAt: '2026-11-20T14:02:12Z', environment: 'production', model: 'chargeback-risk', version: "2026.10.15-1'); DROP TABLE x; --", commit: 'b'.repeat(40), change: 'new model', kind: 'batch' },
  ];
  await target.recordDeployments('ML_PROD', 'SCORING', rows);
  await target.recordDeployments('ML_PROD', 'SCORING', rows.slice(0, 1)); // the table exists now: CREATE IF NOT EXISTS is a no-op
  const insert = standIn.queries.filter((q) => /^INSERT INTO/.test(q.sqlText)).at(0)!;
  t.notMatch(insert.sqlText, /fraud-detector|DROP TABLE/, 'values are not in the text');
  t.equal(Object.keys(insert.bindings).length, 18);
  const back = await conn.query('SELECT model, version, previous_version, artifact_sha256, change, kind, deployed_at FROM "ML_PROD"."SCORING"."MODELSHIP_DEPLOYMENTS" ORDER BY deployed_at, model');
  t.equal(back.length, 3);
  t.match(back[0], { MODEL: 'fraud-detector', VERSION: '2026.11.13-1', PREVIOUS_VERSION: '2026.11.06-1', CHANGE: 'promote', KIND: 'online+batch' });
  t.match(back[2], { MODEL: 'chargeback-risk', VERSION: "2026.10.15-1'); DROP TABLE x; --", PREVIOUS_VERSION: null, ARTIFACT_SHA256: null });
  t.equal((back[0]!.DEPLOYED_AT as Date).toISOString(), '2026-11-20T14:02:11.000Z');
});

t.test('a SQL error from Snowflake is an ExternalError naming the task, not retryable', async (t) => {
  const task = tasksFor('production').find((x) => x.name === 'MODELSHIP_FRAUD_DETECTOR')!;
  standIn.inject({ match: /^CREATE OR ALTER TASK/, code: '003001', message: 'SQL access control error:\nInsufficient privileges to operate on task \'MODELSHIP_FRAUD_DETECTOR\'', sqlState: '42501' });
  const e = await t.rejects(target.upsert(task), { name: 'ExternalError' }) as unknown as ExternalError;
  t.type(e, ExternalError);
  t.match(e.message, /^snowflake: suspend, create or alter and resume task ML_PROD\.SCORING\.MODELSHIP_FRAUD_DETECTOR: Uncaught exception of type 'STATEMENT_ERROR' on line 3 at position 2 : SQL access control error:\nInsufficient privileges .* \(code 003001, SQL state 42501\) in BEGIN ALTER TASK IF EXISTS/s);
  t.equal(e.details.retryable, false);
  await target.upsert(task); // the fault is spent; the task is put back in place and started
  t.equal(standIn.tasks.get(fraudKey)!.state, 'started');
});

t.test('login failure: a clear ExternalError, not retried', async (t) => {
  const wrong = snowflakeTarget(snowflakeConnection({ account: 'acme-prod', username: 'modelship', password: 'nope', accessUrl: standIn.url, timeoutMs: 5000, attempts: 3, backoffMs: 10 }));
  const logins = standIn.logins.length;
  const e = await t.rejects(wrong.listManaged('ML_PROD', 'SCORING', 'production'), { name: 'ExternalError' }) as unknown as ExternalError;
  t.match(e.message, /^snowflake: list tasks in ML_PROD\.SCORING: Incorrect username or password was specified\./);
  t.equal(e.details.retryable, false);
  t.equal(standIn.logins.length - logins, 1, 'a refused login is not retried');

  standIn.inject({ match: 'login', code: '390144', message: 'JWT token is invalid.' });
  const injected = snowflakeConnection({ ...snowflakeStandInCredentials, account: 'acme-prod', accessUrl: standIn.url, timeoutMs: 5000, attempts: 1 });
  await t.rejects(snowflakeTarget(injected).listManaged('ML_PROD', 'SCORING', 'production'), { name: 'ExternalError', message: /JWT token is invalid/ });
  await injected.close();
});

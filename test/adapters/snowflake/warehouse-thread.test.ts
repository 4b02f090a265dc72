// Snowflake sessions on a worker thread (what `modelship sync` uses), through the real
// snowflake-sdk in the worker against the loopback stand-in: rows and bound values cross the
// thread boundary intact, equal connection options share one login, and errors arrive as the
// same ExternalError an in-process session throws.
// The worker runs compiled code, so this test loads the build (npm test builds first).
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../../tools/sandbox/snowflake/server.js';
import { projectRoot } from '../../helpers/cli.js';

const { ExternalError } = (await import(join(projectRoot, 'dist/errors.js'))) as typeof import('../../../src/errors.js');
type ExternalError = InstanceType<typeof ExternalError>;
const { startSnowflakeThread } = (await import(join(projectRoot, 'dist/adapters/snowflake/warehouse-thread.js'))) as typeof import('../../../src/adapters/snowflake/warehouse-thread.js');

/** The stand-in and a worker thread, both stopped when the test ends; options for a session against the stand-in. */
async function threadAndStandIn(t: Test, timeoutMs: number) {
  const standIn = await startSnowflakeStandIn();
  const thread = startSnowflakeThread();
  t.teardown(async () => {
    await thread.close();
    await standIn.stop();
  });
  return { standIn, thread, options: { ...snowflakeStandInCredentials, account: 'acme', accessUrl: standIn.url, timeoutMs, attempts: 1 } };
}

t.test('sessions on the worker thread', async (t) => {
  const { standIn, thread, options } = await threadAndStandIn(t, 10_000);

  const a = thread.connection({ ...options, role: 'MODELSHIP_SYNC' });
  const b = thread.connection({ role: 'MODELSHIP_SYNC', ...options });
  t.same(await a.query('SELECT ? AS model, ? + 1 AS n', ['fraud-detector', 41]), [{ MODEL: 'fraud-detector', N: 42 }], 'binds in, rows out');
  await b.query('SELECT 1 AS one');
  t.equal(standIn.logins.length, 1, 'equal options (in any order) share one login');

  const other = thread.connection({ ...options, role: 'ANALYST' });
  await other.query('SELECT 1 AS one');
  t.equal(standIn.logins.length, 2, 'another role is another session');

  const e = await a.query('SELECT * FROM NO_SUCH_TABLE').catch((x: unknown) => x);
  t.type(e, ExternalError);
  t.equal((e as ExternalError).system, 'snowflake');
  t.equal((e as ExternalError).operation, 'query');
  t.match((e as ExternalError).message, /^snowflake: query: [\s\S]*NO_SUCH_TABLE/i);

  const denied = thread.connection({ ...options, password: 'wrong' });
  const login = await denied.query('SELECT 1').catch((x: unknown) => x);
  t.type(login, ExternalError);
  t.match((login as ExternalError).message, /^snowflake: connect: /);
  t.notMatch((login as ExternalError).message, /wrong/, 'the password is not in the message');

  const before = standIn.logins.length;
  await thread.closeSessions();
  await a.query('SELECT 1 AS one');
  t.equal(standIn.logins.length, before + 1, 'after closeSessions the next statement logs in again');

  await thread.close();
  const closed = await a.query('SELECT 1').catch((x: unknown) => x);
  t.type(closed, ExternalError, 'a closed thread refuses with an ExternalError, it does not hang');
});

t.test('a SHOW TASKS of 10,000 tasks fits in the worker\'s capped heap (workerOldGenerationMb)', async (t) => {
  const { standIn, thread, options } = await threadAndStandIn(t, 60_000);
  const now = new Date();
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    // a task as sync writes it: a long definition, CONFIG and COMMENT (~1.3 KB a row)
    const name = `MODELSHIP_MODEL_${String(i).padStart(5, '0')}`;
    standIn.tasks.tasks.set(`ML_PROD.SCORING.${name}`, {
      id: `01b${i}`, database: 'ML_PROD', schema: 'SCORING', name, state: 'started', warehouse: 'SCORING_WH_M', schedule: 'USING CRON 0 2 * * * America/New_York',
      config: JSON.stringify({ model: `model-${i}`, version: '2026.11.06-1', artifactUri: `s3://acme-model-registry/model-${i}/${'a'.repeat(64)}/model.json`, artifactSha256: 'a'.repeat(64), source: 'ANALYTICS.FEATURES.TXN_FEATURES_DAILY', target: 'ANALYTICS.SCORES.FRAUD_SCORES' }),
      comment: JSON.stringify({ managedBy: 'modelship', environment: 'production', model: `model-${i}`, version: '2026.11.06-1', specHash: 'b'.repeat(64), commit: 'c'.repeat(40) }),
      definition: `CALL "ML_PLATFORM"."SCORING"."SCORE_WITH_MODEL"(${['model', 'version', 'artifactUri', 'artifactSha256', 'source', 'target'].map((k) => `SYSTEM$GET_TASK_GRAPH_CONFIG('${k}')::VARCHAR`).join(', ')})`,
      condition: null, allowOverlappingExecution: false, createdOn: now, lastCommittedOn: now, lastSuspendedOn: null, lastSuspendedReason: null,
    });
  }
  const rows = await thread.connection(options).query(`SHOW TASKS LIKE 'MODELSHIP\\\\_%' IN SCHEMA "ML_PROD"."SCORING"`);
  t.equal(rows.length, n);
  t.equal(rows[n - 1]!.name, 'MODELSHIP_MODEL_09999');
});

// Snowflake sessions on a worker thread (what `modelship sync` uses), through the real
// snowflake-sdk in the worker against the loopback stand-in: rows and bound values cross the
// thread boundary intact, equal connection options share one login, and errors arrive as the
// same ExternalError an in-process session throws.
// The worker runs compiled code, so this test loads the build (npm test builds first).
import { join } from 'node:path';
import t from 'tap';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../../tools/sandbox/snowflake/server.js';
import { projectRoot } from '../../helpers/cli.js';

const { ExternalError } = (await import(join(projectRoot, 'dist/errors.js'))) as typeof import('../../../src/errors.js');
type ExternalError = InstanceType<typeof ExternalError>;
const { startSnowflakeThread } = (await import(join(projectRoot, 'dist/adapters/snowflake/warehouse-thread.js'))) as typeof import('../../../src/adapters/snowflake/warehouse-thread.js');

t.test('sessions on the worker thread', async (t) => {
  const standIn = await startSnowflakeStandIn();
  const thread = startSnowflakeThread();
  t.teardown(async () => {
    await thread.close();
    await standIn.stop();
  });
  const options = { ...snowflakeStandInCredentials, account: 'acme', accessUrl: standIn.url, timeoutMs: 10_000, attempts: 1 };

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

// The production warehouse check (decline-rate ratio, policies/production.yaml) run through the real
// snowflake-sdk against the loopback Snowflake stand-in, whose SQL runs in DuckDB over an
// ANALYTICS.DECISIONS.AUTHORISATIONS table of the last hour's card decisions, then judged by canaryGate.
// Versions: the stable one (4% declines), a healthy canary (~4.2%), one declining twice as often
// (~8.3%), and one whose traffic all lies outside the one-hour window.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadDocument } from '../../../src/config/load.js';
import type { Policy } from '../../../src/config/types.js';
import { ExternalError } from '../../../src/errors.js';
import { collectEvidence } from '../../../src/check/evidence.js';
import { canaryGate, type CanaryCheckRow } from '../../../src/gates/canary.js';
import { observeChecks, renderQuery, type MetricWindow } from '../../../src/metrics/source.js';
import { warehouseFromEnv, warehouseSource, type WarehouseSource } from '../../../src/adapters/snowflake/warehouse.js';
import { rewrite, snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../../tools/sandbox/snowflake/server.js';
import { projectRoot } from '../../helpers/cli.js';

const loaded = loadDocument<Policy>('policies/production.yaml', readFileSync(`${projectRoot}policies/production.yaml`), 'policy');
const production = loaded.loaded!.data.canary!;
const policy = { ...production, checks: production.checks.filter((c) => c.source === 'warehouse') };
const declineRatio = policy.checks.find((c) => c.name === 'decline-rate-ratio')!;

const end = new Date();
const window: MetricWindow = { start: new Date(end.getTime() - 3 * 3_600_000), end };
const context = (version: string) => ({ namespace: 'fraud', model: 'fraud-detector', version, environment: 'production' });

/** rows, one decline every `every` rows, spread over the last `spreadS` seconds ending `agoS` seconds ago */
const traffic: Array<{ version: string; rows: number; every: number; agoS: number; spreadS: number }> = [
  { version: '2026.11.13-1', rows: 20_000, every: 25, agoS: 5, spreadS: 3300 }, // stable: 4.0%
  { version: '2026.11.20-1', rows: 2_000, every: 24, agoS: 5, spreadS: 3300 }, // healthy canary: 4.17%
  { version: '2026.11.20-2', rows: 2_000, every: 12, agoS: 5, spreadS: 3300 }, // unhealthy: 8.33%
  { version: '2026.11.20-3', rows: 500, every: 25, agoS: 3.5 * 3600, spreadS: 1800 }, // all 3.5-4 h ago: before the window
];

let standIn: SnowflakeStandIn;
let source: WarehouseSource;

t.before(async () => {
  standIn = await startSnowflakeStandIn({
    setup: async (conn) => {
      // Three-part names: an attached database ANALYTICS with a schema DECISIONS.
      await conn.run("ATTACH ':memory:' AS ANALYTICS");
      await conn.run('CREATE SCHEMA ANALYTICS.DECISIONS');
      await conn.run(`CREATE TABLE ANALYTICS.DECISIONS.AUTHORISATIONS (
        authorisation_id VARCHAR, ts TIMESTAMP, model VARCHAR, version VARCHAR, decision VARCHAR,
        score DOUBLE, amount_usd DECIMAL(12,2), mcc VARCHAR)`);
      for (const v of traffic) {
        await conn.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATIONS
          SELECT 'auth-' || $version || '-' || i, CAST(now() AS TIMESTAMP) - to_seconds($ago + (i * 7919) % $spread),
                 'fraud-detector', $version, CASE WHEN i % $every = 0 THEN 'decline' ELSE 'approve' END,
                 CASE WHEN i % $every = 0 THEN 0.9 ELSE 0.1 END, CAST(5 + (i * 37) % 500 AS DECIMAL(12,2)),
                 CAST(5411 + i % 7 AS VARCHAR)
          FROM range(1, $rows + 1) r(i)`, { version: v.version, ago: v.agoS, spread: v.spreadS, every: v.every, rows: v.rows });
      }
      // Another model's traffic, which the queries must not count.
      await conn.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATIONS
        SELECT 'auth-other-' || i, CAST(now() AS TIMESTAMP) - to_seconds(i % 3000), 'chargeback-scorer', '2026.11.01-1',
               'decline', 0.99, 10, '5411' FROM range(1, 3001) r(i)`);
    },
  });
  source = warehouseSource({ ...snowflakeStandInCredentials, account: 'acme-prod', accessUrl: standIn.url, timeoutMs: 10_000 });
});
t.teardown(async () => {
  await source?.close();
  await standIn?.stop();
});

async function judge(version: string, using: WarehouseSource = source) {
  const observations = await observeChecks({ checks: policy.checks, sources: { warehouse: using }, window, context: context(version) });
  const gate = canaryGate({
    policy, observations, now: end, change: 'promote-canary',
    canary: { version, traffic: 10, startedAt: window.start },
  });
  return { gate, observations, rows: gate.data?.checks as CanaryCheckRow[] };
}

t.test('the policy query runs unchanged: a healthy canary declines as often as the rest', async (t) => {
  const rendered = renderQuery(declineRatio.query, { ...context('2026.11.20-1'), window }, 'sql');
  const sample = await source.evaluate(rendered.text, window, { binds: rendered.binds });
  // 83 / 2000 declines against (800 + 166) / 22000 of the other versions in the hour
  t.ok(sample.value! > 0.8 && sample.value! < 1.25, `ratio ${sample.value} within [0.8, 1.25]`);
  t.equal(sample.value!.toFixed(3), ((83 / 2000) / ((800 + 166) / 22_000)).toFixed(3), 'the 3.5 h old rows of 2026.11.20-3 are outside the window');
  t.equal(sample.requests, 2000, 'the canary\'s rows in the window (the REQUESTS column)');
});

t.test('values were bound, not spliced', async (t) => {
  const before = standIn.queries.length;
  const rendered = renderQuery(declineRatio.query, { ...context('2026.11.20-2'), window }, 'sql');
  await source.evaluate(rendered.text, window, { binds: rendered.binds });
  const received = standIn.queries.slice(before);
  t.equal(received.length, 1);
  const q = received[0]!;
  t.equal(q.sqlText, rendered.text, 'the driver sent the rendered text as it was');
  t.notMatch(q.sqlText, /2026\.11\.20-2|fraud-detector/, 'neither the version nor the model is in the SQL text');
  t.equal(q.sqlText.split('?').length - 1, 8, 'eight ? markers: model, version and the window\'s bounds, twice');
  const [from, to] = [{ type: 'TEXT', value: window.start.toISOString() }, { type: 'TEXT', value: window.end.toISOString() }];
  t.same(q.bindings, {
    1: { type: 'TEXT', value: 'fraud-detector' }, 2: { type: 'TEXT', value: '2026.11.20-2' }, 3: from, 4: to,
    5: { type: 'TEXT', value: 'fraud-detector' }, 6: { type: 'TEXT', value: '2026.11.20-2' }, 7: from, 8: to,
  });
});

t.test('a version whose traffic is all older than the window has no data', async (t) => {
  const rendered = renderQuery(declineRatio.query, { ...context('2026.11.20-3'), window }, 'sql');
  t.same(await source.evaluate(rendered.text, window, { binds: rendered.binds }), { requests: 0 }, 'AVG over no rows is NULL: no value, and no requests');
  const none = await source.evaluate('SELECT COUNT(*) FROM ANALYTICS.DECISIONS.AUTHORISATIONS WHERE version = ? GROUP BY model', window, { binds: ['never-deployed'] });
  t.same(none, {}, 'no row at all: no value');
});

t.test('a REQUESTS column reports the traffic; binds of numbers work', async (t) => {
  const rendered = renderQuery(
    'SELECT AVG(score) AS mean_score, COUNT(*) AS requests FROM ANALYTICS.DECISIONS.AUTHORISATIONS WHERE model = {{model}} AND version = {{version}} AND ts > DATEADD(second, -{{window}}, CURRENT_TIMESTAMP())',
    { ...context('2026.11.20-1'), window }, 'sql');
  t.same(rendered.binds, ['fraud-detector', '2026.11.20-1', 3 * 3600]);
  const sample = await source.evaluate(rendered.text, window, { binds: rendered.binds });
  t.equal(sample.requests, 2000);
  t.equal(sample.value!.toFixed(4), ((83 * 0.9 + (2000 - 83) * 0.1) / 2000).toFixed(4));
  t.same(standIn.queries.at(-1)!.bindings['3'], { type: 'FIXED', value: '10800' });
});

t.test('rows come back in Snowflake types through the driver', async (t) => {
  const [row] = await source.query("SELECT 42 AS n, CAST(12.50 AS DECIMAL(12,2)) AS amount, 0.25 :: DOUBLE AS share, 'x' AS s, true AS b, NULL AS z, TIMESTAMP '2026-11-20 10:00:00' AS at, IFF(1 > 2, 'yes', 'no') AS iff");
  t.match(row, { N: 42, AMOUNT: 12.5, SHARE: 0.25, S: 'x', B: true, Z: null, IFF: 'no' });
  t.equal(new Date((row!.AT as Date).getTime()).toISOString(), '2026-11-20T10:00:00.000Z');
});

t.test('the end to end gate: a healthy canary passes, an unhealthy one fails, no data fails', async (t) => {
  const healthy = await judge('2026.11.20-1');
  t.equal(healthy.gate.status, 'pass', healthy.gate.summary);
  t.same(healthy.rows.map((r) => [r.name, r.source, r.status]), [['decline-rate-ratio', 'warehouse', 'pass']]);

  const unhealthy = await judge('2026.11.20-2');
  t.equal(unhealthy.gate.status, 'fail', unhealthy.gate.summary);
  t.ok(unhealthy.observations[0]!.value! > 1.25, `ratio ${unhealthy.observations[0]!.value} above 1.25`);

  const quiet = await judge('2026.11.20-3');
  t.equal(quiet.gate.status, 'fail', quiet.gate.summary);
  t.equal(quiet.observations[0]!.value, undefined);
});

t.test('a query Snowflake rejects is an error observation, not retried', async (t) => {
  const before = standIn.queries.length;
  const error = await source.evaluate('SELECT no_such_column FROM ANALYTICS.DECISIONS.AUTHORISATIONS', window).then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof ExternalError, 'an ExternalError');
  t.match(error, { system: 'snowflake', operation: 'query', details: { retryable: false }, message: /SQL compilation error:.*no_such_column/s });
  t.equal(standIn.queries.length - before, 1, 'sent once');
});

t.test('wrong credentials are an error', async (t) => {
  const wrong = warehouseSource({ account: 'acme-prod', username: 'modelship', password: 'nope', accessUrl: standIn.url, timeoutMs: 5000, attempts: 1 });
  await t.rejects(wrong.evaluate('SELECT 1', window), { name: 'ExternalError', system: 'snowflake', operation: 'connect', message: /Incorrect username or password/ });
  await wrong.close();
});

t.test('a stopped warehouse: bounded retries, then an error the gate reports', async (t) => {
  const gone = await startSnowflakeStandIn();
  const url = gone.url;
  await gone.stop();
  const unreachable = warehouseSource({ account: 'acme-prod', ...snowflakeStandInCredentials, accessUrl: url, timeoutMs: 3000, attempts: 2, backoffMs: 50 });
  const started = Date.now();
  const { gate, observations } = await judge('2026.11.20-1', unreachable);
  t.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
  t.match(observations[0]!.error, /^snowflake: connect: .*ECONNREFUSED.*\(2 attempts\)/);
  t.equal(gate.status, 'error', gate.summary);
  await unreachable.close();
});

t.test('warehouseFromEnv', async (t) => {
  t.equal(warehouseFromEnv({}), undefined, 'no SNOWFLAKE_ACCOUNT: no warehouse');
  t.same(warehouseFromEnv({
    SNOWFLAKE_ACCOUNT: 'acme-prod', SNOWFLAKE_USER: 'MODELSHIP_CI', SNOWFLAKE_PRIVATE_KEY_PATH: '/run/secrets/sf.p8',
    SNOWFLAKE_PASSWORD: 'ignored', SNOWFLAKE_WAREHOUSE: 'CANARY_XS', SNOWFLAKE_ROLE: 'MODELSHIP_READER',
  }), {
    account: 'acme-prod', username: 'MODELSHIP_CI', privateKeyPath: '/run/secrets/sf.p8', warehouse: 'CANARY_XS', role: 'MODELSHIP_READER',
  }, 'key-pair auth wins over a password');
  t.same(warehouseFromEnv({ SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: 'p', MODELSHIP_SNOWFLAKE_URL: 'http://127.0.0.1:1' }),
    { account: 'acme', username: 'u', password: 'p', accessUrl: 'http://127.0.0.1:1' });
  t.throws(() => warehouseSource(warehouseFromEnv({ SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'u' })!), { name: 'ExternalError', message: /no credentials/ });
});

t.test('collectEvidence uses the warehouse configured in the environment, and ends its session', async (t) => {
  const names = ['SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_PASSWORD', 'MODELSHIP_SNOWFLAKE_URL'] as const;
  const saved = names.map((n) => process.env[n]);
  t.teardown(() => names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i]))));
  Object.assign(process.env, { SNOWFLAKE_ACCOUNT: 'acme-prod', SNOWFLAKE_USER: 'modelship', SNOWFLAKE_PASSWORD: 'modelship', MODELSHIP_SNOWFLAKE_URL: standIn.url });
  const logins = standIn.logins.length;
  const logouts = standIn.logouts;
  const ev = await collectEvidence({
    artifacts: new Map(), dbtManifests: new Map(), timelines: new Map(), serving: new Map(), teams: new Set(),
    canaries: new Map([['production/fraud-detector', { environment: 'production', model: 'fraud-detector', version: '2026.11.20-2', traffic: 10, policy }]]),
  }, { root: projectRoot, base: 'HEAD', now: new Date(), namespaces: { production: 'fraud' } });
  const [observation] = ev.canaries.get('production/fraud-detector')!.observations;
  t.equal(observation!.check, 'decline-rate-ratio');
  t.ok(observation!.value! > 1.25, `ratio ${observation!.value}`);
  t.equal(standIn.logins.length - logins, 1, 'one login');
  t.equal(standIn.logouts - logouts, 1, 'and the session was ended');
});

t.test('the stand-in rewrites only Snowflake dialect outside quotes and comments', async (t) => {
  t.equal(rewrite("SELECT DATEADD(hour, -1, CURRENT_TIMESTAMP()), 'DATEADD(hour, 1, x)' -- CURRENT_TIMESTAMP()\n"),
    "SELECT DATEADD('hour', -1, CURRENT_TIMESTAMP), 'DATEADD(hour, 1, x)' -- CURRENT_TIMESTAMP()\n");
});

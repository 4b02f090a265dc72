// The drift aggregation: built from a version's training histograms, run for real in DuckDB and,
// unchanged, through the real snowflake-sdk against the Snowflake stand-in. Its counts are
// checked against an independent count of the same rows in JavaScript.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { load as parseYaml } from 'js-yaml';
import type { VersionManifest } from '../../src/config/types.js';
import { readServingHistograms, servingHistograms, servingQuery, isTimeout } from '../../src/metrics/serving-drift.js';
import { snowflakeConnection } from '../../src/adapters/snowflake/warehouse.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { projectRoot } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';
import { countOn, fraudLogSpec, loadLog, makeRows } from './serving-log.js';

const manifest = parseYaml(readFileSync(join(projectRoot, 'models/fraud-detector/versions/2026.11.06-1.yaml'), 'utf8')) as VersionManifest;
const table = 'ANALYTICS.SCORES.FRAUD_SCORES';
const window = { start: new Date('2026-11-19T00:00:00Z'), end: new Date('2026-11-20T00:00:00Z') };
const spec = fraudLogSpec(manifest);
const query = () => servingQuery({
  table, version: manifest.version, window, features: manifest.histograms!,
  score: { column: 'fraud_score', histogram: manifest.scoreHistogram! },
});

// In the window, by the version: drifted amounts, values outside the frozen edges, an unseen
// category, more nulls. Outside the window or by another version: rows that must not count.
const inWindow = makeRows(spec, {
  n: 3000, version: manifest.version, ...window, seed: 7,
  shifts: {
    txn_amount: { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] },
    merchant_category: { unseen: { value: 'crypto', share: 0.05 } },
    amount_zscore_30d: { nullShare: 0.12 },
  },
});
inWindow[0]!.TXN_AMOUNT = -3; // below the first edge: first bin
inWindow[1]!.TXN_AMOUNT = 2_000_000; // at/above the last edge: last bin
inWindow[2]!.TXN_AMOUNT = 5; // exactly an inner edge: the bin it opens
const noise = [
  ...makeRows(spec, { n: 200, version: manifest.version, start: new Date('2026-11-18T00:00:00Z'), end: window.start, seed: 8 }),
  ...makeRows(spec, { n: 200, version: '2026.11.13-1', ...window, seed: 9 }),
];

function expected() {
  const col = (name: string) => inWindow.map((r) => {
    const v = r[name.toUpperCase()]!;
    return typeof v === 'boolean' ? String(v) : v;
  });
  return {
    rows: inWindow.length,
    features: Object.fromEntries(Object.entries(manifest.histograms!).map(([n, h]) => [n, countOn(h, col(n))])),
    score: countOn(manifest.scoreHistogram!, col('fraud_score')),
  };
}

t.test('one aggregation per model: every value bound, identifiers quoted, the SQL text is golden', async (t) => {
  const q = query();
  golden(t, 'drift/fraud-detector.sql', q.sqlText + '\n');
  t.equal((q.sqlText.match(/\?/g) ?? []).length, q.binds.length, 'one bind per marker');
  t.notMatch(q.sqlText, /2026\.11\.06-1|grocery|1000000/, 'no value in the text');
  t.match(q.sqlText, /FROM "ANALYTICS"\."SCORES"\."FRAUD_SCORES"/);
  t.same(q.binds.slice(-3), [manifest.version, window.start.toISOString(), window.end.toISOString()]);
  t.equal(q.features.length, 6);
  t.throws(() => servingQuery({ table: 'ANALYTICS.SCORES', version: 'v', window, features: {} }), /not DATABASE\.SCHEMA\.TABLE/);
  t.throws(() => servingQuery({ table, version: 'v', window, features: { 'amount"; DROP': manifest.histograms!.txn_amount! } }), /not a plain identifier/);
});

t.test('runs in DuckDB and counts exactly what an independent count finds', async (t) => {
  const duckdb = await import('@duckdb/node-api');
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  t.teardown(() => { conn.closeSync(); instance.closeSync(); });
  await conn.run("SET TimeZone = 'UTC'");
  await loadLog(conn, table, spec, [...inWindow, ...noise]);
  const q = query();
  const reader = await conn.runAndReadAll(q.sqlText, q.binds);
  const names = reader.columnNames();
  const row = Object.fromEntries(reader.getRows()[0]!.map((v, i) => [names[i]!, typeof v === 'bigint' ? Number(v) : v]));
  const got = servingHistograms(q, row);
  t.same(got, expected());
  t.equal(got.features.merchant_category!.kind === 'categorical' && got.features.merchant_category!.other! > 100, true, 'the unseen category counts as (other)');
});

t.test('the same text through snowflake-sdk and the Snowflake stand-in: no dialect rewrite, same counts', async (t) => {
  const snow = await startSnowflakeStandIn({ setup: (c) => loadLog(c, table, spec, [...inWindow, ...noise]) });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 10_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const q = query();
  const got = await readServingHistograms(conn, q);
  t.same(got, expected());
  const sent = snow.queries.at(-1)!;
  t.equal(sent.sqlText, q.sqlText, 'the driver sent the text as built');
  t.equal(sent.ranAs, sent.sqlText, 'DuckDB ran exactly the text Snowflake would get');
  t.same(Object.values(sent.bindings).map((b) => b.value), q.binds.map(String), 'the values travelled as binds');
  t.same(Object.values(sent.bindings).slice(0, 2).map((b) => b.type), ['FIXED', 'FIXED'], 'edges as numbers');
});

t.test('a window with no rows: zero rows and empty bins, not an error', async (t) => {
  const snow = await startSnowflakeStandIn({ setup: (c) => loadLog(c, table, spec, noise) });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 10_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const got = await readServingHistograms(conn, servingQuery({ table, version: '2026.12.01-1', window, features: manifest.histograms! }));
  t.equal(got.rows, 0);
  t.same((got.features.txn_amount as { counts: number[] }).counts, new Array(10).fill(0));
});

t.test('timeouts are recognised: ours and Snowflake\'s statement timeout', async (t) => {
  t.ok(isTimeout(new Error('snowflake: query: timed out after 2000 ms')));
  t.ok(isTimeout(new Error('snowflake: query: Statement reached its statement or warehouse timeout of 60 second(s) and was canceled. (code 000630, SQL state 57014)')));
  t.notOk(isTimeout(new Error('snowflake: query: SQL compilation error: Object does not exist (code 002003)')));
});

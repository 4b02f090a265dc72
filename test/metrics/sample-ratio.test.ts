// The chi-square test behind the sample ratio check: p-values against published critical values,
// small p-values without cancellation, and the per-version counts through the real snowflake-sdk
// against the Snowflake stand-in fed prediction log rows.
import t from 'tap';
import { chiSquareTest, chiSquareUpperTail } from '../../src/metrics/sample-ratio.js';
import { readVersionCounts, versionCountsQuery } from '../../src/metrics/prediction-log.js';
import { snowflakeConnection } from '../../src/adapters/snowflake/warehouse.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

t.test('upper tail at the critical values of the chi-square table (NIST/SEMATECH e-Handbook 1.3.6.7.4)', async (t) => {
  // [df, critical value, upper-tail probability], three decimals as the table prints them
  const table: Array<[number, number, number]> = [
    [1, 3.841, 0.05], [1, 6.635, 0.01], [1, 10.828, 0.001],
    [2, 5.991, 0.05], [2, 9.210, 0.01], [2, 13.816, 0.001],
    [5, 11.070, 0.05], [10, 23.209, 0.01], [30, 43.773, 0.05],
  ];
  for (const [df, x, p] of table) t.ok(Math.abs(chiSquareUpperTail(x, df) - p) / p < 2e-3, `df ${df}, x ${x}: p ${chiSquareUpperTail(x, df)} ≈ ${p}`);
  // df 2 has a closed form: P(X ≥ x) = exp(−x/2).
  for (const x of [0.5, 3, 20, 200]) t.ok(Math.abs(chiSquareUpperTail(x, 2) / Math.exp(-x / 2) - 1) < 1e-12, `df 2, x ${x}: exp(−x/2)`);
  // Far in the tail, where 1 − CDF would be 0: erfc(√50) ≈ 1.524e-23.
  const far = chiSquareUpperTail(100, 1);
  t.ok(far > 1.5e-23 && far < 1.55e-23, `df 1, x 100: ${far}`);
  t.equal(chiSquareUpperTail(0, 1), 1);
  t.equal(chiSquareUpperTail(Infinity, 1), 0);
  t.throws(() => chiSquareUpperTail(1, 0), { message: 'chiSquareUpperTail: df must be positive, got 0' });
});

t.test('goodness of fit of a split', async (t) => {
  t.same(chiSquareTest([9000, 1000], [0.9, 0.1]), { statistic: 0, df: 1, pValue: 1 });
  const r = chiSquareTest([8900, 1100], [0.9, 0.1]);
  t.ok(Math.abs(r.statistic - (100 ** 2 / 9000 + 100 ** 2 / 1000)) < 1e-9, 'Σ (o − e)² / e');
  t.ok(r.pValue > 8.5e-4 && r.pValue < 8.7e-4, `p ${r.pValue}`);
  t.equal(chiSquareTest([10, 1], [1, 0]).pValue, 0, 'something where nothing was expected');
  t.throws(() => chiSquareTest([1, 2], [0.5, 0.6]), { message: 'chiSquareTest: shares must be ≥ 0 and sum to 1 (they sum to 1.1)' });
  t.throws(() => chiSquareTest([1], [1]), { message: 'chiSquareTest: one share per observed count, at least two' });
});

t.test('requests per version: one aggregation through snowflake-sdk and the stand-in, values bound', async (t) => {
  const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
  const start = new Date('2026-12-06T08:00:00Z');
  const end = new Date('2026-12-06T10:00:00Z');
  const row = (i: number, version: string, at: Date, model = 'fraud-detector'): PredictionRow => ({ requestId: `r${i}`, model, version, score: 0.1, latencyMs: 5, error: null, requestedAt: at });
  const rows: PredictionRow[] = [];
  for (let i = 0; i < 1200; i++) rows.push(row(i, i % 10 === 0 ? '2026.11.13-1' : '2026.11.06-1', new Date(start.getTime() + i * 5000)));
  rows.push(row(9000, '2026.11.13-1', new Date(start.getTime() - 1)), row(9001, '2026.11.13-1', end), row(9002, '2026.11.13-1', start, 'chargeback-risk'));
  const snow = await startSnowflakeStandIn({ setup: async (c) => { await createPredictionLog(c, table); await appendPredictionLog(c, table, rows); } });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const q = versionCountsQuery({ table, model: 'fraud-detector', versions: ['2026.11.06-1', '2026.11.13-1'], window: { start, end } });
  t.notMatch(q.sqlText, /2026|fraud/, 'no value in the text');
  t.same(await readVersionCounts(conn, q), [1080, 120]);
  t.same(Object.values(snow.queries.at(-1)!.bindings).map((b) => b.value), q.binds.map(String));
  t.throws(() => versionCountsQuery({ table: 'LOG', model: 'm', versions: ['a'], window: { start, end } }), { message: 'the prediction log "LOG" is not DATABASE.SCHEMA.TABLE of plain identifiers' });
});

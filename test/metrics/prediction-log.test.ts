// The shadow gate's aggregation over the prediction log: built with every value bound, run
// unchanged through the real snowflake-sdk against the Snowflake stand-in (DuckDB underneath) fed
// rows in the documented schema, and its figures checked against an independent count in JavaScript.
import t from 'tap';
import { readShadowFigures, shadowQuery, type ShadowFigures, type ShadowQueryInput } from '../../src/metrics/prediction-log.js';
import { snowflakeConnection } from '../../src/adapters/snowflake/warehouse.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const start = new Date('2026-12-01T00:00:00Z');
const end = new Date('2026-12-02T00:00:00Z');
const edges = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
const input: ShadowQueryInput = {
  table, model: 'fraud-detector', champion: '2026.11.06-1', candidate: '2026.11.13-1', window: { start, end },
  scoreEdges: edges, threshold: 0.5, slices: [{ name: 'region=eu', column: 'region', value: 'eu' }],
};

const n = 2000;
const at = (i: number) => new Date(start.getTime() + Math.floor((i * 86_400_000) / n));
const region = (i: number) => (i % 4 === 0 ? 'eu' : 'us');
const championScore = (i: number) => ((i * 37) % 1000) / 1000;
// The shadow scores a little higher, and more so in the EU; it starts at request 100 and misses every 50th.
const shadowScore = (i: number) => Math.min(1, championScore(i) + (region(i) === 'eu' ? 0.08 : 0.02));
const shadowLogs = (i: number) => i >= 100 && i % 50 !== 0;
const championFails = (i: number) => i % 200 === 7;
const shadowFails = (i: number) => i % 100 === 3;

function rows(): PredictionRow[] {
  const out: PredictionRow[] = [];
  for (let i = 0; i < n; i++) {
    const slices = { REGION: region(i) };
    out.push({ requestId: `r${i}`, model: 'fraud-detector', version: input.champion, score: championFails(i) ? null : championScore(i), decision: null,
      latencyMs: championFails(i) ? null : 10 + (i % 20), error: championFails(i) ? 'no response' : null, requestedAt: at(i), slices });
    if (shadowLogs(i)) {
      out.push({ requestId: `r${i}`, model: 'fraud-detector', version: input.candidate, score: shadowFails(i) ? null : shadowScore(i), decision: null,
        latencyMs: shadowFails(i) ? null : 12 + (i % 25), error: shadowFails(i) ? '503' : null, requestedAt: new Date(at(i).getTime() + 3), slices });
    }
  }
  // Rows that must not count: another model, another version, outside the window, no request id.
  out.push({ requestId: 'r5', model: 'chargeback-risk', version: input.champion, score: 0.9, latencyMs: 1, error: null, requestedAt: at(5) });
  out.push({ requestId: 'r6', model: 'fraud-detector', version: '2026.10.30-1', score: 0.9, latencyMs: 1, error: null, requestedAt: at(6) });
  out.push({ requestId: 'old', model: 'fraud-detector', version: input.champion, score: 0.9, latencyMs: 1, error: null, requestedAt: new Date(start.getTime() - 1000) });
  out.push({ requestId: 'old', model: 'fraud-detector', version: input.candidate, score: 0.1, latencyMs: 1, error: null, requestedAt: new Date(start.getTime() - 1000) });
  out.push({ requestId: null as unknown as string, model: 'fraud-detector', version: input.candidate, score: 0.1, latencyMs: 1, error: null, requestedAt: at(7) });
  return out;
}

/** PERCENTILE_CONT: linear interpolation between the closest ranks. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = p * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

function expected(): ShadowFigures {
  // From the first request both logged on (request 101: the shadow starts at 100 and misses every 50th).
  const champion = [...Array(n).keys()].filter((i) => i >= 101);
  const joined = champion.filter(shadowLogs);
  const both = joined.filter((i) => !championFails(i) && !shadowFails(i));
  const bin = (x: number) => Math.min(edges.length - 2, edges.slice(1, -1).filter((e) => e <= x).length);
  const counts = (score: (i: number) => number) => {
    const c = new Array(edges.length - 1).fill(0);
    for (const i of both) c[bin(score(i))]++;
    return c;
  };
  const agrees = (i: number) => (championScore(i) >= 0.5) === (shadowScore(i) >= 0.5);
  const eu = both.filter((i) => region(i) === 'eu');
  return {
    duplicates: { champion: 0, candidate: 0 },
    candidateRequests: [...Array(n).keys()].filter(shadowLogs).length,
    championRequests: champion.length,
    joined: joined.length,
    errors: { champion: joined.filter(championFails).length, candidate: joined.filter(shadowFails).length },
    bothAnswered: both.length,
    latency: {
      champion: { p50: percentile(both.map((i) => 10 + (i % 20)), 0.5), p99: percentile(both.map((i) => 10 + (i % 20)), 0.99) },
      candidate: { p50: percentile(both.map((i) => 12 + (i % 25)), 0.5), p99: percentile(both.map((i) => 12 + (i % 25)), 0.99) },
    },
    agree: both.filter(agrees).length,
    scores: { champion: { kind: 'numeric', edges, counts: counts(championScore) }, candidate: { kind: 'numeric', edges, counts: counts(shadowScore) } },
    slices: [{ name: 'region=eu', pairs: eu.length, agree: eu.filter(agrees).length }],
  };
}

const slices = ['REGION'];

t.test('one statement: identifiers quoted, every value bound, no value in the text', async (t) => {
  const q = shadowQuery(input);
  t.equal((q.sqlText.match(/\?/g) ?? []).length, q.binds.length, 'one bind per marker');
  t.notMatch(q.sqlText, /fraud-detector|2026\.11|eu'|0\.5\b(?!\))|2026-12/, 'no value in the text');
  t.match(q.sqlText, /FROM "ANALYTICS"\."INFERENCE"\."PREDICTION_LOG"/);
  t.match(q.sqlText, /"REGION" AS "SLICE_0"/);
  t.equal(q.sqlText.match(/^SELECT$/gm)?.length, 1, 'one outer SELECT: one row of figures');
  t.same(q.binds.slice(0, 4), ['fraud-detector', input.candidate, start.toISOString(), end.toISOString()]);
  t.throws(() => shadowQuery({ ...input, table: 'ANALYTICS.LOG' }), { message: 'the prediction log "ANALYTICS.LOG" is not DATABASE.SCHEMA.TABLE of plain identifiers' });
  t.throws(() => shadowQuery({ ...input, table: 'A.B."C"; DROP TABLE X' }), { message: /is not DATABASE\.SCHEMA\.TABLE/ });
  t.throws(() => shadowQuery({ ...input, slices: [{ name: 'x', column: 'REGION" OR 1=1 --', value: 'eu' }] }),
    { message: 'slice "x": "REGION\\" OR 1=1 --" cannot be a column of the prediction log: not a plain identifier' });
  t.throws(() => shadowQuery({ ...input, scoreEdges: [0.5, 0.2] }), { message: 'the score edges must be at least two finite numbers in increasing order' });
});

t.test('through snowflake-sdk and the stand-in: the figures an independent count finds', async (t) => {
  const snow = await startSnowflakeStandIn({
    setup: async (c) => {
      await createPredictionLog(c, table, slices);
      await appendPredictionLog(c, table, rows(), slices);
    },
  });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const q = shadowQuery(input);
  const got = await readShadowFigures(conn, q);
  const want = expected();
  t.same({ ...got, latency: undefined }, { ...want, latency: undefined });
  for (const side of ['champion', 'candidate'] as const) {
    for (const p of ['p50', 'p99'] as const) t.ok(Math.abs(got.latency[side][p]! - want.latency[side][p]!) < 1e-9, `${side} ${p}: ${got.latency[side][p]} = ${want.latency[side][p]}`);
  }
  const sent = snow.queries.at(-1)!;
  t.equal(sent.sqlText, q.sqlText, 'the driver sent the text as built');
  t.equal(sent.ranAs, sent.sqlText, 'DuckDB ran exactly the text Snowflake would get');
  t.same(Object.values(sent.bindings).map((b) => b.value), q.binds.map(String), 'the values travelled as binds');
  t.equal(snow.queries.filter((x) => /PREDICTION_LOG/.test(x.sqlText)).length, 1, 'one statement');
});

t.test('request ids that repeat are counted, and a shadow that logged nothing leaves every champion request uncovered', async (t) => {
  const base = rows().filter((r) => r.version === input.champion && r.model === 'fraud-detector' && r.requestedAt >= start);
  const snow = await startSnowflakeStandIn({
    setup: async (c) => {
      await createPredictionLog(c, table, slices);
      await appendPredictionLog(c, table, [...base, base[1]!, base[2]!], slices);
    },
  });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const got = await readShadowFigures(conn, shadowQuery(input));
  t.same(got.duplicates, { champion: 2, candidate: 0 });
  t.equal(got.candidateRequests, 0);
  t.equal(got.championRequests, n + 2, 'no shadow request: the whole window counts');
  t.equal(got.joined, 0);
  t.same(got.latency, { champion: {}, candidate: {} }, 'no percentile over nothing');
});

// The A/B metric's one aggregation, through the real snowflake-sdk against the Snowflake stand-in
// (DuckDB runs the text as sent): per-arm counts and sums equal what an independent count of the
// same rows finds; identifiers are validated, values bound; duplicate request ids are reported.
import t from 'tap';
import type { DuckDBConnection } from '@duckdb/node-api';
import { abQuery, readAbFigures, type AbFigures } from '../../src/metrics/ab-metric.js';
import { snowflakeConnection } from '../../src/adapters/snowflake/warehouse.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';

const log = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const outcomes = 'ANALYTICS.OUTCOMES.AUTHORISATIONS';
const A = '2026.11.06-1';
const B = '2026.11.20-1';
const window = { start: new Date('2026-11-28T00:00:00Z'), end: new Date('2026-12-06T00:00:00Z') };

interface Row { id: string; model: string; version: string; at: string; outcome?: number | null }

/** 3,000 requests: both arms and a third version in the window, another model, and requests before the A/B. */
function rows(): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < 3000; i++) {
    const version = i % 7 === 6 ? '2026.10.01-1' : i % 3 === 0 ? B : A;
    const model = i % 11 === 10 ? 'chargeback-risk' : 'fraud-detector';
    const at = new Date(window.start.getTime() + (i % 5 === 4 ? -3_600_000 : (i * 229_000) % (8 * 86_400_000))).toISOString();
    // four in five requests have an outcome; some outcome rows hold NULL (not known yet)
    const outcome = i % 5 === 3 ? undefined : i % 17 === 0 ? null : ((i * 7919) % 13) < (version === B ? 3 : 2) ? 1 : 0;
    out.push({ id: `req-${i}`, model, version, at, ...(outcome !== undefined ? { outcome } : {}) });
  }
  return out;
}

function expected(data: Row[]): AbFigures {
  const arm = (v: string) => {
    const mine = data.filter((r) => r.model === 'fraud-detector' && r.version === v && r.at >= window.start.toISOString() && r.at < window.end.toISOString());
    const known = mine.filter((r) => typeof r.outcome === 'number');
    const sum = known.reduce((s, r) => s + r.outcome!, 0);
    return { requests: mine.length, n: known.length, sum, sumSquares: known.reduce((s, r) => s + r.outcome! ** 2, 0) };
  };
  return { a: arm(A), b: arm(B), duplicates: 0 };
}

async function load(conn: DuckDBConnection, data: Row[], extraOutcomes: Array<[string, number]> = []): Promise<void> {
  await conn.run("ATTACH ':memory:' AS ANALYTICS");
  await conn.run('CREATE SCHEMA ANALYTICS.INFERENCE');
  await conn.run('CREATE SCHEMA ANALYTICS.OUTCOMES');
  await conn.run(`CREATE TABLE ${log} (REQUEST_ID VARCHAR, MODEL_NAME VARCHAR, MODEL_VERSION VARCHAR, SCORE DOUBLE, DECISION VARCHAR, LATENCY_MS DOUBLE, ERROR VARCHAR, REQUESTED_AT TIMESTAMPTZ)`);
  await conn.run(`CREATE TABLE ${outcomes} (REQUEST_ID VARCHAR, APPROVED INTEGER, DECIDED_AT TIMESTAMPTZ)`);
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  for (let i = 0; i < data.length; i += 500) {
    const part = data.slice(i, i + 500);
    await conn.run(`INSERT INTO ${log} VALUES ${part.map((r) => `(${q(r.id)}, ${q(r.model)}, ${q(r.version)}, 0.5, 'approve', 12.5, NULL, ${q(r.at)})`).join(', ')}`);
    const known = part.filter((r) => r.outcome !== undefined);
    if (known.length) await conn.run(`INSERT INTO ${outcomes} VALUES ${known.map((r) => `(${q(r.id)}, ${r.outcome === null ? 'NULL' : r.outcome}, ${q(r.at)})`).join(', ')}`);
  }
  for (const [id, v] of extraOutcomes) await conn.run(`INSERT INTO ${outcomes} VALUES (${q(id)}, ${v}, NULL)`);
}

const input = { log, outcomes, column: 'approved', model: 'fraud-detector', a: A, b: B, window };

t.test('the query: quoted identifiers, every value a bind, one statement', async (t) => {
  const q = abQuery(input);
  t.match(q.sqlText, /FROM "ANALYTICS"\."INFERENCE"\."PREDICTION_LOG" AS l\nLEFT JOIN "ANALYTICS"\."OUTCOMES"\."AUTHORISATIONS" AS o ON o\."REQUEST_ID" = l\."REQUEST_ID"/);
  t.match(q.sqlText, /CAST\(o\."APPROVED" AS DOUBLE\)/);
  t.notMatch(q.sqlText, /fraud-detector|2026\./, 'no value in the text');
  t.same(q.binds, [A, A, A, A, B, B, B, B, 'fraud-detector', A, B, window.start.toISOString(), window.end.toISOString()]);
  t.throws(() => abQuery({ ...input, log: 'ANALYTICS.INFERENCE' }), { message: 'the prediction log "ANALYTICS.INFERENCE" is not DATABASE.SCHEMA.TABLE of plain identifiers' });
  t.throws(() => abQuery({ ...input, outcomes: 'A.B.C; DROP TABLE X' }), { message: 'the outcomes table "A.B.C; DROP TABLE X" is not DATABASE.SCHEMA.TABLE of plain identifiers' });
  t.throws(() => abQuery({ ...input, column: 'approved" OR 1=1 --' }), { message: '"approved\\" OR 1=1 --" cannot be the outcomes table\'s column: not a plain identifier' });
});

t.test('through snowflake-sdk and the stand-in: the same figures as an independent count', async (t) => {
  const data = rows();
  const snow = await startSnowflakeStandIn({ setup: (c) => load(c, data) });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const q = abQuery(input);
  const got = await readAbFigures(conn, q);
  const want = expected(data);
  t.same(got, want);
  t.ok(want.a.n > 500 && want.b.n > 300 && want.a.requests > want.a.n, `A ${want.a.n}/${want.a.requests}, B ${want.b.n}/${want.b.requests}: both arms, some outcomes missing`);
  const sent = snow.queries.filter((x) => /PREDICTION_LOG/.test(x.sqlText));
  t.equal(sent.length, 1, 'one statement');
  t.equal(sent[0]!.sqlText, q.sqlText);
  t.equal(sent[0]!.ranAs, q.sqlText, 'DuckDB ran the text Snowflake would get, unrewritten');
  t.same(Object.values(sent[0]!.bindings).map((b) => b.value), q.binds);
});

t.test('a request id with two outcomes is counted as a duplicate; a window with no rows gives zeros', async (t) => {
  const data = rows();
  const twice = data.find((r) => r.model === 'fraud-detector' && r.version === A && typeof r.outcome === 'number' && r.at >= window.start.toISOString())!;
  const snow = await startSnowflakeStandIn({ setup: (c) => load(c, data, [[twice.id, 1]]) });
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  t.equal((await readAbFigures(conn, abQuery(input))).duplicates, 1);
  const empty = await readAbFigures(conn, abQuery({ ...input, window: { start: new Date('2027-01-01T00:00:00Z'), end: new Date('2027-01-02T00:00:00Z') } }));
  t.same(empty, { a: { requests: 0, n: 0, sum: 0, sumSquares: 0 }, b: { requests: 0, n: 0, sum: 0, sumSquares: 0 }, duplicates: 0 });
});

t.test('a missing table is the warehouse\'s error, named', async (t) => {
  const snow = await startSnowflakeStandIn();
  const conn = snowflakeConnection({ account: 'acme', ...snowflakeStandInCredentials, accessUrl: snow.url, timeoutMs: 20_000, attempts: 1 });
  t.teardown(async () => { await conn.close(); await snow.stop(); });
  const e = await readAbFigures(conn, abQuery(input)).then(() => undefined, (x: Error) => x);
  t.match(e?.message, /^snowflake: query: SQL compilation error:.*"ANALYTICS" does not exist.*\(code 001003, SQL state 42000\)/s);
});

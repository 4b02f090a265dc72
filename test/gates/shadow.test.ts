// The shadow gate with plain figures: what passes, what fails and with which message, and that
// too little or unknown data never passes.
import t from 'tap';
import type { ShadowPolicy } from '../../src/config/types.js';
import { shadowGate, shadowStartedAt, type ShadowEvidence, type ShadowGateInput } from '../../src/gates/shadow.js';
import { gatesFor } from '../../src/gates/run.js';
import type { ShadowFigures } from '../../src/metrics/prediction-log.js';

const window = { start: new Date('2026-12-05T12:00:00Z'), end: new Date('2026-12-06T12:00:00Z') };
const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const span = `(${table}, 24h to 2026-12-06T12:00:00.000Z)`;
const head = 'shadow 2026.11.13-1 vs champion 2026.11.06-1';

function figures(change: Partial<ShadowFigures> = {}): ShadowFigures {
  return {
    duplicates: { champion: 0, candidate: 0 },
    candidateRequests: 9990, championRequests: 10_000, joined: 9950,
    errors: { champion: 10, candidate: 20 }, bothAnswered: 9920,
    latency: { champion: { p50: 10, p99: 40 }, candidate: { p50: 11, p99: 48 } },
    agree: 9870,
    scores: { champion: { kind: 'numeric', edges: [0, 0.5, 1], counts: [5000, 4920] }, candidate: { kind: 'numeric', edges: [0, 0.5, 1], counts: [4950, 4970] } },
    slices: [{ name: 'region=eu', pairs: 2000, agree: 1990 }],
    ...change,
  };
}

const policy: ShadowPolicy = {
  minRequests: 5000, coverage: { min: 0.99 }, errorRate: { maxIncrease: 0.002 }, latency: { p50MaxRatio: 1.2, p99MaxRatio: 1.5 },
  agreement: { threshold: 0.5, min: 0.98 }, slices: [{ name: 'region=eu', column: 'REGION', value: 'eu', minRequests: 1000 }],
};

function gate(change: Partial<ShadowGateInput> = {}, f: Partial<ShadowFigures> = {}) {
  const evidence: ShadowEvidence = { figures: figures(f), table, window };
  return shadowGate({ policy, environment: 'production', model: 'fraud-detector', champion: '2026.11.06-1', candidate: '2026.11.13-1', table, evidence, ...change });
}

t.test('a shadow within every bound passes, with its numbers', async (t) => {
  const r = gate();
  t.equal(r.status, 'pass');
  t.equal(r.summary, `${head}: coverage 99.5% of 10,000 requests; error rate 0.20% vs 0.10%; latency p50 11.0 vs 10.0 ms; latency p99 48.0 vs 40.0 ms; score PSI 0.000; decision agreement 99.5% at 0.5; slice region=eu: agreement 99.5% ${span}`);
  t.equal(r.data?.psi !== undefined && (r.data.psi as number) < 0.01, true);
});

t.test('each bound fails with its own message', async (t) => {
  const cases: Array<[string, Partial<ShadowFigures>, string]> = [
    ['coverage', { joined: 9000, errors: { champion: 9, candidate: 18 }, bothAnswered: 8950, agree: 8900 }, 'coverage 90.0% of 10,000 requests, need ≥ 99.0%'],
    ['error rate', { errors: { champion: 10, candidate: 60 } }, 'error rate 0.60% vs 0.10% (+0.5 pp, allowed 0.2 pp)'],
    ['p99', { latency: { champion: { p50: 10, p99: 40 }, candidate: { p50: 11, p99: 80 } } }, 'latency p99 80.0 vs 40.0 ms (×2.00, allowed ×1.5)'],
    ['agreement', { agree: 9000 }, 'decision agreement 90.7% at 0.5, need ≥ 98.0%'],
    ['slice agreement', { slices: [{ name: 'region=eu', pairs: 2000, agree: 1800 }] }, 'slice region=eu: decision agreement 90.0%, need ≥ 98.0%'],
    ['slice too small', { slices: [{ name: 'region=eu', pairs: 300, agree: 300 }] }, 'slice region=eu: too little data: 300 requests answered by both, need 1,000'],
    ['psi', { scores: { champion: { kind: 'numeric', edges: [0, 0.5, 1], counts: [8000, 1920] }, candidate: { kind: 'numeric', edges: [0, 0.5, 1], counts: [2000, 7920] } } }, 'score PSI 1.696 ≥ 0.25'],
  ];
  for (const [name, f, message] of cases) {
    const r = gate({}, f);
    t.equal(r.status, 'fail', name);
    t.equal(r.summary, `${head}: ${message} ${span}`, name);
  }
  const warn = gate({}, { scores: { champion: { kind: 'numeric', edges: [0, 0.5, 1], counts: [5000, 4920] }, candidate: { kind: 'numeric', edges: [0, 0.5, 1], counts: [3400, 6520] } } });
  t.equal(warn.status, 'warn');
  t.equal(warn.summary, `${head}: score PSI 0.108 ≥ 0.1 ${span}`);
  const two = gate({}, { errors: { champion: 10, candidate: 60 }, agree: 9000 });
  t.equal(two.summary, `${head}: error rate 0.60% vs 0.10% (+0.5 pp, allowed 0.2 pp); decision agreement 90.7% at 0.5, need ≥ 98.0% ${span}`, 'every failure is named');
});

t.test('too little or unknown data is never a pass', async (t) => {
  const cases: Array<[string, Partial<ShadowGateInput>, Partial<ShadowFigures>, 'fail' | 'error', string]> = [
    ['too few', {}, { bothAnswered: 4999 }, 'fail', `${head}: too little data: 4,999 requests answered by both, need 5,000 ${span}`],
    ['no champion', {}, { championRequests: 0, joined: 0, bothAnswered: 0 }, 'fail', `${head}: no requests of 2026.11.06-1 in the log: nothing to compare with ${span}`],
    ['no shadow', {}, { candidateRequests: 0, joined: 0, bothAnswered: 0 }, 'fail', `${head}: no requests of 2026.11.13-1 in the log: the shadow answered nothing (is it receiving the mirrored traffic?) ${span}`],
    ['no common id', {}, { joined: 0, bothAnswered: 0 }, 'fail', `${head}: none of the 10,000 requests of 2026.11.06-1 has a request id the shadow logged too (9,990 shadow requests): does the caller or the gateway set Ce-Id on each request? ${span}`],
    ['duplicates', {}, { duplicates: { champion: 3, candidate: 0 } }, 'error', `${head}: request ids repeat (3 of 2026.11.06-1 rows share an id with another row of the same version); the log must hold one row per request and version to be joined ${span}`],
    ['latency unknown', {}, { latency: { champion: {}, candidate: {} } }, 'fail', `${head}: latency p50 unknown (no LATENCY_MS on the requests both answered); latency p99 unknown (no LATENCY_MS on the requests both answered) ${span}`],
    ['no score bins', {}, { scores: undefined }, 'fail', `${head}: score PSI unknown: 2026.11.13-1 records no training score histogram to bin the scores on ${span}`],
    ['no log configured', { table: undefined }, {}, 'error', `${head}: environments/production.yaml names no inferenceLog, so the shadow's answers were not logged and cannot be judged`],
    ['not read', { evidence: undefined }, {}, 'error', `${head}: the prediction log ${table} was not read`],
    ['no connection', { evidence: { unavailable: `the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)` } }, {}, 'error',
      `${head}: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)`],
    ['query failed', { evidence: { error: 'SQL compilation error: Object does not exist (code 002003)' } }, {}, 'error',
      `${head}: the prediction log ${table} could not be read: SQL compilation error: Object does not exist (code 002003)`],
  ];
  for (const [name, input, f, status, summary] of cases) {
    const r = gate(input, f);
    t.equal(r.status, status, name);
    t.equal(r.summary, summary, name);
  }
  t.equal(shadowGate({ policy: undefined, environment: 'staging', model: 'm', champion: 'a', candidate: 'b', table, evidence: undefined }).summary,
    'the staging policy sets no shadow bounds (gates.shadow)', 'no policy: skipped, and says so');
});

t.test('the shadow gate judges a shadow promotion, and only that', async (t) => {
  t.ok(gatesFor('shadow-promote').includes('shadow'));
  t.notOk(gatesFor('promote').includes('shadow'));
  t.notOk(gatesFor('canary-promote').includes('shadow'));
});

t.test('when the shadow started: the unbroken run of commits that pinned it', async (t) => {
  const c = (iso: string, shadow?: string) => ({ at: new Date(iso), pins: { 'fraud-detector': { version: 'a', ...(shadow ? { shadow: { version: shadow } } : {}) } } });
  const history = [c('2026-12-06T10:00:00Z', 'b'), { at: new Date('2026-12-05T10:00:00Z') }, c('2026-12-04T10:00:00Z', 'b'), c('2026-12-03T10:00:00Z'), c('2026-12-01T10:00:00Z', 'b')];
  t.same(shadowStartedAt(history, 'fraud-detector', 'b'), new Date('2026-12-04T10:00:00Z'));
  t.equal(shadowStartedAt(history, 'fraud-detector', 'c'), undefined);
});

// The canary's sample ratio check with plain counts: the judgement, the canary gate blocking a
// promotion on a mismatch, and canary watch's guardrails counting it as a breach.
import t from 'tap';
import { judgeSampleRatio, type SampleRatioEvidence } from '../../src/gates/sample-ratio.js';
import { canaryGate, type CanaryPolicy } from '../../src/gates/canary.js';
import { judgeGuardrails } from '../../src/canary/guardrails.js';

const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const window = { start: new Date('2026-12-06T08:00:00Z'), end: new Date('2026-12-06T10:00:00Z') };
const counts = (stable: number, canary: number): SampleRatioEvidence => ({ counts: { stable, canary }, table, window });
const judge = (evidence: SampleRatioEvidence | undefined, extra: { table?: string | undefined; minRequests?: number } = {}) => judgeSampleRatio({
  policy: { minPValue: 0.001, ...(extra.minRequests !== undefined ? { minRequests: extra.minRequests } : {}) },
  environment: 'production', stable: '2026.11.06-1', canary: '2026.11.13-1', traffic: 10,
  table: 'table' in extra ? extra.table : table, evidence,
});

t.test('the observed split against the configured one', async (t) => {
  const ok = judge(counts(9_020, 980));
  t.same({ status: ok.status, mismatch: ok.mismatch }, { status: 'pass', mismatch: false });
  t.equal(ok.message, 'sample ratio: canary 2026.11.13-1 has 9.80% of 10,000 logged requests, configured 10%; χ² 0.44, p 0.5 ≥ 0.001');
  const bad = judge(counts(8_800, 1_200));
  t.same({ status: bad.status, mismatch: bad.mismatch }, { status: 'fail', mismatch: true });
  t.equal(bad.message, 'sample ratio mismatch: canary 2026.11.13-1 has 12.00% of 10,000 logged requests, configured 10%; χ² 44.44, p 2.6e-11 < 0.001');
  const edge = judge(counts(8_900, 1_100));
  t.equal(edge.status, 'fail', 'p 0.00086 is below 0.001');
  t.equal(edge.message, 'sample ratio mismatch: canary 2026.11.13-1 has 11.00% of 10,000 logged requests, configured 10%; χ² 11.11, p 0.00086 < 0.001');
});

t.test('too little or unknown data is never a pass', async (t) => {
  const few = judge(counts(700, 100));
  t.same({ status: few.status, mismatch: few.mismatch }, { status: 'fail', mismatch: false });
  t.equal(few.message, 'sample ratio: too little data: 800 requests logged (2026.11.06-1 700, 2026.11.13-1 100), need 1,000');
  t.equal(judge(counts(40, 10), { minRequests: 100 }).message, 'sample ratio: too little data: 50 requests logged (2026.11.06-1 40, 2026.11.13-1 10), need 100');
  const cases: Array<[SampleRatioEvidence | undefined, string | undefined, string]> = [
    [counts(9000, 1000), undefined, 'sample ratio: environments/production.yaml names no inferenceLog, so the requests per version are unknown'],
    [undefined, table, `sample ratio: the prediction log ${table} was not read`],
    [{ error: 'SQL compilation error: Object does not exist (code 002003)' }, table, `sample ratio: the prediction log ${table} could not be read: SQL compilation error: Object does not exist (code 002003)`],
    [{ unavailable: `the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)` }, table, `sample ratio: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)`],
  ];
  for (const [evidence, tableName, message] of cases) {
    const r = judge(evidence, { table: tableName });
    t.same({ status: r.status, mismatch: r.mismatch, message: r.message }, { status: 'error', mismatch: false, message });
  }
});

const policy: CanaryPolicy = {
  minDuration: '2h', failureThreshold: 3, sampleRatio: { minPValue: 0.001 },
  checks: [{ name: 'error-rate', source: 'prometheus', query: 'q', max: 0.01, minRequests: 500 }],
};
const now = new Date('2026-12-06T10:00:00Z');
const canary = { version: '2026.11.13-1', traffic: 10, startedAt: new Date('2026-12-06T07:00:00Z') };
const observations = [{ check: 'error-rate', value: 0.002, requests: 1000 }];

t.test('the canary gate: a mismatch blocks promotion; a matching split is in the summary', async (t) => {
  const ok = canaryGate({ policy, now, observations, change: 'promote-canary', canary, sampleRatio: judge(counts(9_020, 980)) });
  t.equal(ok.status, 'pass');
  t.equal(ok.summary, 'canary 2026.11.13-1 at 10% for 3h: 1 check in bounds (error-rate: 0.002 ≤ 0.01; sample ratio: canary 2026.11.13-1 has 9.80% of 10,000 logged requests, configured 10%; χ² 0.44, p 0.5 ≥ 0.001)');
  const bad = canaryGate({ policy, now, observations, change: 'promote-canary', canary, sampleRatio: judge(counts(8_800, 1_200)) });
  t.equal(bad.status, 'fail');
  t.equal(bad.summary, 'canary 2026.11.13-1 at 10% for 3h: sample ratio mismatch: canary 2026.11.13-1 has 12.00% of 10,000 logged requests, configured 10%; χ² 44.44, p 2.6e-11 < 0.001');
  t.match(bad.details, ['✓ error-rate: 0.002 ≤ 0.01', '✗ sample ratio mismatch: canary 2026.11.13-1 has 12.00% of 10,000 logged requests, configured 10%; χ² 44.44, p 2.6e-11 < 0.001']);
  const step = canaryGate({ policy, now, observations, change: 'step', canary, sampleRatio: judge(counts(8_800, 1_200)) });
  t.equal(step.status, 'fail', 'a step is judged the same way');
  const unmeasured = canaryGate({ policy, now, observations, change: 'promote-canary', canary });
  t.equal(unmeasured.status, 'error');
  t.equal(unmeasured.summary, 'canary 2026.11.13-1 at 10% for 3h: sample ratio: not measured (no request counts per version)');
  const start = canaryGate({ policy, now, observations: [], change: 'start', canary });
  t.equal(start.status, 'skipped', 'nothing to judge when the canary starts');
  const { sampleRatio: _, ...without } = policy;
  t.equal(canaryGate({ policy: without, now, observations, change: 'promote-canary', canary }).status, 'pass', 'no sampleRatio in the policy: not checked');
});

t.test('canary watch: a mismatch is a breach at once; too little data is not; no data source is an alert', async (t) => {
  const intervals = [{ end: now, observations }];
  const breach = judgeGuardrails({ policy, intervals, intervalText: '5m', sampleRatio: judge(counts(8_800, 1_200)) });
  t.equal(breach.status, 'breached');
  t.same(breach.reasons, ['sample ratio mismatch: canary 2026.11.13-1 has 12.00% of 10,000 logged requests, configured 10%; χ² 44.44, p 2.6e-11 < 0.001: the traffic split is not the configured one']);
  t.equal(judgeGuardrails({ policy, intervals, intervalText: '5m', sampleRatio: judge(counts(9_020, 980)) }).status, 'healthy');
  t.equal(judgeGuardrails({ policy, intervals, intervalText: '5m', sampleRatio: judge(counts(700, 100)) }).status, 'healthy', 'too little data never rolls back');
  const down = judgeGuardrails({ policy, intervals, intervalText: '5m', sampleRatio: judge({ error: 'timed out after 60000 ms' }) });
  t.equal(down.status, 'unknown');
  t.same(down.alerts, [`sample ratio: the prediction log ${table} could not be read: timed out after 60000 ms`]);
});

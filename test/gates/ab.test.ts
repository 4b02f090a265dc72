// The A/B gate with plain data: the plan at the start, each verdict at the conclusion, too
// little or unknown data, and the override.
import t from 'tap';
import { abGate, abVerdict, type AbInput } from '../../src/gates/ab.js';
import type { AbPolicy } from '../../src/config/types.js';

const policy: AbPolicy = {
  metric: { name: 'approval-rate', kind: 'proportion', direction: 'increase', outcomes: 'ANALYTICS.OUTCOMES.AUTHORISATIONS', column: 'APPROVED', log: 'ANALYTICS.INFERENCE.PREDICTION_LOG' },
  baseline: { mean: 0.1 }, mde: { absolute: 0.02 }, minDuration: '7d',
};
/** An arm of n requests with an outcome (0/1) at this rate, and 10 more without one yet. */
const arm = (n: number, rate: number) => ({ requests: n + 10, n, sum: Math.round(n * rate), sumSquares: Math.round(n * rate) });
const now = new Date('2026-12-06T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
const who = 'A/B of fraud-detector 2026.11.20-1 (B, 50%) against 2026.11.06-1 (A)';

function conclude(a: ReturnType<typeof arm>, b: ReturnType<typeof arm>, keeps: 'a' | 'b', over: Partial<AbInput> = {}) {
  return abGate({
    policy, environment: 'production', model: 'fraud-detector', a: '2026.11.06-1', b: '2026.11.20-1', traffic: 50,
    change: 'conclude', keeps, now, startedAt: daysAgo(8),
    evidence: { figures: { a, b, duplicates: 0 }, window: { start: daysAgo(8).toISOString(), end: now.toISOString() } }, ...over,
  });
}

t.test('start: the plan, with the sample sizes per arm', async (t) => {
  const r = abGate({ policy, environment: 'production', model: 'fraud-detector', a: '2026.11.06-1', b: '2026.11.20-1', traffic: 50, change: 'start', now });
  t.equal(r.status, 'pass');
  t.equal(r.summary, `${who} on approval-rate (proportion, better when it increases); plan: an effect of 0.02 needs 3,841 A / 3,841 B requests with an outcome for a fixed-horizon z-test (α 0.05, power 0.8); the always-valid test reaches that power by 7,438 A / 7,438 B`);
  // B at 10 % (k = 1/9): B's arm fills nine times slower, so the unequal design asks more of A and less of B
  const small = abGate({ policy, environment: 'production', model: 'fraud-detector', a: '2026.11.06-1', b: '2026.11.20-1', traffic: 10, change: 'start', now });
  t.match(small.summary, /needs 18,691 A \/ 2,077 B requests with an outcome for a fixed-horizon z-test \(α 0\.05, power 0\.8\); the always-valid test reaches that power by 39,563 A \/ 4,396 B$/);
});

t.test('start or conclude without an A/B design in the policy fails', async (t) => {
  const r = abGate({ policy: undefined, environment: 'production', model: 'fraud-detector', a: '1', b: '2', traffic: 50, change: 'start', now });
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'no A/B design for production: policies/production.yaml needs an ab section (metric, baseline, mde) before an A/B can start');
});

t.test('promoting B: passes when B is significantly better and the A/B ran long enough', async (t) => {
  const r = conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'b');
  t.equal(r.status, 'pass');
  t.equal(r.summary, `${who}: B is significantly better; effect +0.02 (+20%), 95% CI [+0.01013, +0.02987], always-valid p 1.39e-8; requests with an outcome: A 20,000, B 20,000 (always-valid horizon 7,438 / 7,438)`);
  t.same((r.data as { ci: number[] }).ci.map((x) => Number(x.toFixed(5))), [0.01013, 0.02987]);
});

t.test('promoting B: blocks before the minimum duration, however significant', async (t) => {
  const r = conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'b', { startedAt: daysAgo(2) });
  t.equal(r.status, 'fail');
  t.match(r.summary, /: B is significantly better, but the A\/B has run 48h of the required 168h; effect \+0\.02/);
  const unknown = conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'b', { startedAt: undefined });
  t.equal(unknown.status, 'error');
  t.match(unknown.summary, /B is significantly better, but when the A\/B started is unknown, so its minimum duration cannot be checked/);
});

t.test('promoting B: blocks while the test is not significant, or when B is worse or shows no gain', async (t) => {
  const early = conclude(arm(2000, 0.10), arm(2000, 0.105), 'b');
  t.equal(early.status, 'fail');
  t.equal(early.summary, `${who}: promoting B needs B significantly better; not significant yet: keep the A/B running; effect +0.005 (+5%), 95% CI [-0.02446, +0.03446], always-valid p 1; requests with an outcome: A 2,000, B 2,000 (always-valid horizon 7,438 / 7,438)`);
  t.match(conclude(arm(20_000, 0.10), arm(20_000, 0.085), 'b').summary, /promoting B needs B significantly better; B is significantly worse in approval-rate/);
  t.match(conclude(arm(8000, 0.10), arm(8000, 0.10), 'b').summary, /no gain of 0\.02 found \(the interval rules it out\): conclude by keeping A/);
});

t.test('keeping A: passes when B is worse, when no gain is possible, or at the horizon; warns when B was better', async (t) => {
  const worse = conclude(arm(20_000, 0.10), arm(20_000, 0.085), 'a');
  t.equal(worse.status, 'pass');
  t.match(worse.summary, /: B is significantly worse: A kept; effect -0\.015 \(-15%\), 95% CI \[-0\.0242, -0\.005802\]/);
  const futile = conclude(arm(5000, 0.10), arm(5000, 0.10), 'a');
  t.equal(futile.status, 'pass');
  t.match(futile.summary, /no gain of 0\.02 is left in the interval: A kept; effect 0 \(0%\), 95% CI \[-0\.01825, \+0\.01825\]/);
  const horizon = conclude(arm(8000, 0.10), arm(8000, 0.106), 'a');
  t.equal(horizon.status, 'pass');
  t.match(horizon.summary, /the planned horizon is reached without a significant difference: A kept/);
  const better = conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'a');
  t.equal(better.status, 'warn');
  t.match(better.summary, /B is significantly better, and A is kept anyway/);
});

t.test('keeping A before a verdict blocks; an AB-Override lets it through with the reason', async (t) => {
  const r = conclude(arm(2000, 0.10), arm(2000, 0.105), 'a');
  t.equal(r.status, 'fail');
  t.match(r.summary, /: inconclusive: neither significant nor at the planned horizon; keep the A\/B running, or end it with an AB-Override: <reason> trailer; effect \+0\.005/);
  const o = conclude(arm(2000, 0.10), arm(2000, 0.105), 'a', { override: 'fraud pattern shift: the test is void, rerun after the holidays' });
  t.equal(o.status, 'warn');
  t.equal(o.summary, `overridden: fraud pattern shift: the test is void, rerun after the holidays (the A/B test said: ${r.summary})`);
  t.equal((o.data as { override: string }).override, 'fraud pattern shift: the test is void, rerun after the holidays');
  t.equal((o.data as { overridden: string }).overridden, 'fail');
  // an override does not turn a passing verdict into anything else
  t.equal(conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'b', { override: 'x' }).status, 'pass');
  // a blank reason is no override
  t.equal(conclude(arm(2000, 0.10), arm(2000, 0.105), 'a', { override: '  ' }).status, 'fail');
});

t.test('too little, no or unknown data is never a pass', async (t) => {
  const few = conclude(arm(50, 0.1), arm(120, 0.1), 'b');
  t.equal(few.status, 'fail');
  t.equal(few.summary, `${who}: too little data: requests with an outcome: A 50, B 120 (always-valid horizon 7,438 / 7,438); each arm needs ≥ 100 before any verdict`);
  const none = conclude(arm(0, 0), arm(0, 0), 'a');
  t.equal(none.status, 'fail');
  t.equal(none.summary, `${who}: no data: no request answered by either arm since ${daysAgo(8).toISOString()} has an outcome in ANALYTICS.OUTCOMES.AUTHORISATIONS (20 requests logged)`);
  const failed = conclude(arm(0, 0), arm(0, 0), 'b', { evidence: { error: 'no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) to read ANALYTICS.OUTCOMES.AUTHORISATIONS' } });
  t.equal(failed.status, 'error');
  t.equal(failed.summary, `${who}: the north-star metric could not be measured: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) to read ANALYTICS.OUTCOMES.AUTHORISATIONS`);
  const unread = conclude(arm(0, 0), arm(0, 0), 'b', { evidence: undefined });
  t.equal(unread.status, 'error');
  t.equal(unread.summary, `${who}: the north-star metric was not measured`);
  const dup = conclude(arm(20_000, 0.10), arm(20_000, 0.12), 'b', { evidence: { figures: { a: arm(20_000, 0.1), b: arm(20_000, 0.12), duplicates: 3 }, window: { start: '', end: '' } } });
  t.equal(dup.status, 'error');
  t.equal(dup.summary, `${who}: 3 join rows repeat a request id; the prediction log and ANALYTICS.OUTCOMES.AUTHORISATIONS must hold one row per request`);
  const constant = conclude({ requests: 500, n: 500, sum: 0, sumSquares: 0 }, { requests: 500, n: 500, sum: 0, sumSquares: 0 }, 'b');
  t.equal(constant.status, 'fail');
  t.equal(constant.summary, `${who}: the metric does not vary in either arm (A mean 0, B mean 0); no test is possible`);
});

t.test('a metric that should decrease: B lower is better', async (t) => {
  const loss: AbPolicy = { ...policy, metric: { ...policy.metric, name: 'fraud-loss', kind: 'mean', direction: 'decrease', column: 'LOSS_USD' }, baseline: { mean: 40, sd: 120 }, mde: { relative: 0.05 }, minDuration: undefined };
  // mean loss 40 → 36 per request, sd 120, 200,000 requests each: sums from mean and variance
  const m = (n: number, mean: number, sd: number) => ({ requests: n, n, sum: n * mean, sumSquares: (n - 1) * sd * sd + n * mean * mean });
  const r = abGate({ policy: loss, environment: 'production', model: 'fraud-detector', a: '2026.11.06-1', b: '2026.11.20-1', traffic: 50, change: 'conclude', keeps: 'b', now,
    evidence: { figures: { a: m(200_000, 40, 120), b: m(200_000, 36, 120), duplicates: 0 }, window: { start: '', end: '' } } });
  t.equal(r.status, 'pass');
  t.match(r.summary, /B is significantly better; effect -4 \(-10%\)/);
  t.equal(abVerdict({ effect: -4, se: 1, likelihoodRatio: 100, pValue: 0.01, ci: [-6, -2], alpha: 0.05 }, 'decrease', 2, { a: 1, b: 1 }, { a: 9, b: 9 }), 'b-better');
  t.equal(abVerdict({ effect: -4, se: 1, likelihoodRatio: 100, pValue: 0.01, ci: [-6, -2], alpha: 0.05 }, 'increase', 2, { a: 1, b: 1 }, { a: 9, b: 9 }), 'b-worse');
  t.equal(abVerdict({ effect: 0, se: 1, likelihoodRatio: 1, pValue: 1, ci: [-3, 3], alpha: 0.05 }, 'increase', 2, { a: 9, b: 8 }, { a: 9, b: 9 }), 'continue');
  t.equal(abVerdict({ effect: 0, se: 1, likelihoodRatio: 1, pValue: 1, ci: [-3, 3], alpha: 0.05 }, 'increase', 2, { a: 9, b: 9 }, { a: 9, b: 9 }), 'horizon');
});

t.test('the A/B window starts when its split was set (git history, newest first)', async (t) => {
  const { abStartedAt } = await import('../../src/gates/ab.js');
  const at = (h: number) => new Date(Date.UTC(2026, 10, 22, h));
  const pin = (canary?: { version: string; traffic: number; ab?: true }) => ({ 'fraud-detector': { version: '2026.11.06-1', ...(canary ? { canary } : {}) } });
  const b = { version: '2026.11.20-1', traffic: 50 };
  const history = [
    { commit: 'c4', at: at(9), subject: '', trailers: {}, pins: pin({ ...b, ab: true }) },
    { commit: 'c3', at: at(8), subject: '', trailers: {} }, // unreadable: neither extends nor breaks the run
    { commit: 'c2', at: at(7), subject: '', trailers: {}, pins: pin({ ...b, ab: true }) },
    { commit: 'c1', at: at(6), subject: '', trailers: {}, pins: pin(b) }, // the same split as a plain canary: before the A/B
    { commit: 'c0', at: at(5), subject: '', trailers: {}, pins: pin() },
  ];
  t.same(abStartedAt(history, 'fraud-detector', b), at(7));
  t.equal(abStartedAt(history, 'fraud-detector', { ...b, traffic: 20 }), undefined, 'the history does not show this split');
  t.equal(abStartedAt([], 'fraud-detector', b), undefined);
});

import t from 'tap';
import { performanceGate, type MetricRow, type PerformancePolicy } from '../../src/gates/performance.js';
import type { Evaluation } from '../../src/config/types.js';

// The production policy as policies/production.yaml states it.
const production: PerformancePolicy = {
  mode: 'block',
  metrics: {
    auc: { direction: 'higher', min: 0.92, maxRegression: 0.005 },
    precision_at_1pct_fpr: { direction: 'higher', maxRegression: 0.01 },
    logloss: { direction: 'lower', maxRegression: 0.01 },
  },
  slices: { minRows: 10000, metrics: { auc: { direction: 'higher', min: 0.88, maxRegression: 0.01 } } },
};

// fraud-detector 2026.11.06-1, live in production
const champion: Evaluation = {
  overall: { auc: 0.941, precision_at_1pct_fpr: 0.607, logloss: 0.263 },
  slices: [
    { name: 'region=us', rows: 409000, metrics: { auc: 0.944 } },
    { name: 'region=eu', rows: 117000, metrics: { auc: 0.929 } },
  ],
};
const candidate = (overall: Record<string, number> = {}, slices?: Evaluation['slices']): Evaluation => ({
  overall: { auc: 0.943, precision_at_1pct_fpr: 0.609, logloss: 0.261, ...overall },
  slices: slices ?? [
    { name: 'region=us', rows: 412000, metrics: { auc: 0.945 } },
    { name: 'region=eu', rows: 118500, metrics: { auc: 0.930 } },
  ],
});
// Arguments left out mean production's policy and its live version; pass them to vary either.
function gate(c: Evaluation, ...over: [policy?: PerformancePolicy, champ?: Evaluation]) {
  const policy = over.length >= 1 ? over[0] : production;
  const champ = over.length >= 2 ? over[1] : champion;
  return performanceGate({ candidate: c, champion: champ, championVersion: champ ? '2026.11.06-1' : undefined, environment: 'production', policy });
}
const rows = (r: ReturnType<typeof gate>) => r.data!.rows as MetricRow[];

t.test('a candidate better than production everywhere passes, with a comparison table', async (t) => {
  const r = gate(candidate());
  t.equal(r.status, 'pass');
  t.equal(r.summary, '3 metrics and 2 slices within bounds against production 2026.11.06-1');
  const auc = rows(r).find((x) => x.metric === 'auc' && !x.slice)!;
  t.equal(auc.candidate, 0.943);
  t.equal(auc.champion, 0.941);
  t.ok(Math.abs(auc.delta! - 0.002) < 1e-12);
  t.equal(auc.bound, 'higher is better; ≥ 0.920; regression ≤ 0.005');
  t.equal(auc.status, 'pass');
  t.equal(r.data!.championVersion, '2026.11.06-1');
});

t.test('blocks an AUC regression beyond the policy bound', async (t) => {
  const r = gate(candidate({ auc: 0.930 }));
  t.equal(r.status, 'fail');
  t.match(r.summary, /^auc 0\.930 is 0\.011 below production \(0\.941\); allowed 0\.005$/);
  t.equal(rows(r).find((x) => x.metric === 'auc' && !x.slice)!.status, 'fail');
});

t.test('a regression of exactly the allowed amount passes (no floating-point surprise)', async (t) => {
  // 0.941 - 0.936 is 0.0050000000000000044 in binary floating point
  t.equal(gate(candidate({ auc: 0.936 })).status, 'pass');
  t.equal(gate(candidate({ auc: 0.935 })).status, 'fail');
});

t.test('regression is direction-aware: a higher logloss is worse, a lower one is not', async (t) => {
  const worse = gate(candidate({ logloss: 0.280 }));
  t.equal(worse.status, 'fail');
  t.match(worse.summary, /logloss 0\.280 is 0\.017 above production \(0\.263\); allowed 0\.010/);
  t.equal(gate(candidate({ logloss: 0.200 })).status, 'pass', 'a much lower logloss is an improvement');
  t.equal(gate(candidate({ auc: 0.990 })).status, 'pass', 'a much higher auc is an improvement');
});

t.test('absolute bounds apply even with nothing to compare against', async (t) => {
  const r = gate(candidate({ auc: 0.915 }), production, undefined);
  t.equal(r.status, 'fail');
  t.match(r.summary, /auc 0\.915 is below the minimum 0\.920/);
  const ok = gate(candidate(), production, undefined);
  t.equal(ok.status, 'pass');
  t.match(ok.summary, /nothing live in production to compare with/);
  t.ok(ok.details!.includes('no version is live in production; regression not judged'));

  const capped = gate(candidate({ logloss: 0.5 }), { metrics: { logloss: { direction: 'lower', max: 0.4 } } });
  t.match(capped.summary, /logloss 0\.500 is above the maximum 0\.400/);
});

t.test('a metric the policy names but the candidate lacks fails', async (t) => {
  const c = candidate();
  delete c.overall.precision_at_1pct_fpr;
  const r = gate(c);
  t.equal(r.status, 'fail');
  t.match(r.summary, /precision_at_1pct_fpr is missing from the candidate's evaluation; the policy bounds it/);
  t.equal(gate(candidate({ auc: Number.NaN })).status, 'fail', 'NaN is not a value');
});

t.test('a metric the live version lacks cannot be compared: warn, not pass', async (t) => {
  const r = gate(candidate(), production, { overall: { auc: 0.941, logloss: 0.263 } });
  t.equal(r.status, 'warn');
  t.match(r.summary, /the version live in production has no precision_at_1pct_fpr; regression not judged/);
});

t.test('slices: a slice that regresses beyond its bound fails, naming the slice', async (t) => {
  const r = gate(candidate({}, [
    { name: 'region=us', rows: 412000, metrics: { auc: 0.945 } },
    { name: 'region=eu', rows: 118500, metrics: { auc: 0.915 } },
  ]));
  t.equal(r.status, 'fail');
  t.match(r.summary, /auc on region=eu 0\.915 is 0\.014 below production \(0\.929\); allowed 0\.010/);
  const eu = rows(r).find((x) => x.slice === 'region=eu')!;
  t.equal(eu.status, 'fail');
});

t.test('slices below minRows are reported but not judged', async (t) => {
  const r = gate(candidate({}, [
    { name: 'region=us', rows: 412000, metrics: { auc: 0.945 } },
    { name: 'region=apac', rows: 4200, metrics: { auc: 0.61 } },
  ]));
  t.equal(r.status, 'pass');
  const apac = rows(r).find((x) => x.slice === 'region=apac')!;
  t.equal(apac.status, 'skipped');
  t.equal(apac.candidate, 0.61);
  t.ok(r.details!.includes('auc on region=apac: 4,200 rows, under the 10,000 needed to judge a slice'));
  t.equal(r.summary, '3 metrics and 1 slice within bounds against production 2026.11.06-1');
  // one row more and it is judged (and fails its minimum)
  const big = gate(candidate({}, [{ name: 'region=apac', rows: 10000, metrics: { auc: 0.61 } }]));
  t.equal(big.status, 'fail');
  t.match(big.summary, /auc on region=apac 0\.610 is below the minimum 0\.880/);
});

t.test('a new slice absent from the live version is judged by its absolute bound only', async (t) => {
  const r = gate(candidate({}, [{ name: 'card_present=false', rows: 187300, metrics: { auc: 0.919 } }]));
  t.equal(r.status, 'pass');
  t.ok(r.details!.some((d) => /no slice card_present=false in production 2026\.11\.06-1; regression not judged/.test(d)));
});

t.test('policy bounds slices but the candidate reports none: warn', async (t) => {
  const r = gate({ overall: candidate().overall });
  t.equal(r.status, 'warn');
  t.match(r.summary, /the candidate reports no slices/);
});

t.test('no bounds in the policy: skipped', async (t) => {
  t.equal(gate(candidate(), undefined).status, 'skipped');
  t.equal(gate(candidate(), { mode: 'block', metrics: {} }).status, 'skipped');
});

t.test('every failure is in the details, the summary counts the rest', async (t) => {
  const r = gate(candidate({ auc: 0.90, logloss: 0.4 }));
  t.equal(r.status, 'fail');
  t.match(r.summary, /^auc 0\.900 is below the minimum 0\.920; auc 0\.900 is 0\.041 below production \(0\.941\); allowed 0\.005; and 1 more$/);
  t.ok(r.details!.some((d) => d.startsWith('logloss 0.400 is 0.137 above production')));
});

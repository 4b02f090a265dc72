// The drift gate on AcmeRisk's fraud detector: training histograms from the registered version
// manifest, serving histograms as the warehouse would bin them on the same edges.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import type { Histogram, Policy, VersionManifest } from '../../src/config/types.js';
import { driftGate, type DriftRow } from '../../src/gates/drift.js';
import { projectRoot } from '../helpers/cli.js';

const manifest = parse(readFileSync(`${projectRoot}models/fraud-detector/versions/2026.10.30-1.yaml`, 'utf8')) as VersionManifest;
const training = manifest.histograms!;
const productionDrift = (parse(readFileSync(`${projectRoot}policies/production.yaml`, 'utf8')) as Policy).gates.drift;

/** Serving traffic shaped like training: a tenth of the volume, same shares (PSI ≈ 0). */
function servingLikeTraining(): Record<string, Histogram> {
  const tenth = (n: number) => Math.round(n / 10);
  return Object.fromEntries(Object.entries(training).map(([name, h]) => [name, h.kind === 'numeric'
    ? { ...h, counts: h.counts.map(tenth), ...(h.nulls ? { nulls: tenth(h.nulls) } : {}) }
    : { ...h, counts: Object.fromEntries(Object.entries(h.counts).map(([k, v]) => [k, tenth(v)])), ...(h.other ? { other: tenth(h.other) } : {}) }]));
}

const gate = (current: Record<string, Histogram>, policy: Policy['gates']['drift'] = productionDrift, scores?: { reference?: Histogram; current?: Histogram }) =>
  driftGate({ reference: training, current, referenceLabel: 'training 2026.10.30-1', currentLabel: 'serving, last 7d', policy, ...(scores ? { scores } : {}) });

const rows = (r: ReturnType<typeof driftGate>) => r.data!.features as DriftRow[];
const amount = (counts: number[]): Histogram => ({ ...(training.txn_amount as Extract<Histogram, { kind: 'numeric' }>), counts });

t.test('serving traffic shaped like training passes, with every feature measured', async (t) => {
  const r = gate(servingLikeTraining());
  t.equal(r.status, 'pass');
  t.match(r.summary, /^6 features within bounds; largest PSI 0\.000 \(\w+\) — serving, last 7d vs training 2026\.10\.30-1$/);
  t.equal(rows(r).length, 6);
  t.ok(rows(r).every((row) => row.status === 'pass' && row.psi! < 0.001));
});

t.test('a large shift in transaction amounts fails, and that feature tops the rows', async (t) => {
  // Roughly reversed bin shares: PSI 0.9047 (Σ (p−q)·ln(p/q) over the ten bins, as in test/metrics/psi.test.ts).
  const current = { ...servingLikeTraining(), txn_amount: amount([241, 251, 277, 305, 341, 403, 465, 633, 780, 1042]) };
  const r = gate(current);
  t.equal(r.status, 'fail');
  t.match(r.summary, /^txn_amount: PSI 0\.905 ≥ 0\.25 — serving, last 7d vs training 2026\.10\.30-1$/);
  t.equal(rows(r)[0]!.feature, 'txn_amount');
  t.same(rows(r).map((x) => x.psi), [...rows(r).map((x) => x.psi)].sort((a, b) => b! - a!), 'rows are sorted by PSI, descending');
  t.equal(rows(r)[0]!.topBins!.length, 3, 'the bins that moved most are kept for the report');
  t.same(r.details, ['txn_amount: PSI 0.905 ≥ 0.25']);
});

t.test('a moderate shift warns without blocking', async (t) => {
  // PSI 0.139: between warn 0.1 and fail 0.25.
  const r = gate({ ...servingLikeTraining(), txn_amount: amount([500, 550, 550, 480, 450, 420, 400, 380, 360, 360]) });
  t.equal(r.status, 'warn');
  t.match(r.summary, /^txn_amount: PSI 0\.139 ≥ 0\.1 — /);
});

t.test('thresholds come from the policy: a stricter policy fails the same shift', async (t) => {
  const current = { ...servingLikeTraining(), txn_amount: amount([500, 550, 550, 480, 450, 420, 400, 380, 360, 360]) };
  const r = gate(current, { psi: { fail: 0.12 } });
  t.equal(r.status, 'fail');
  t.match(r.summary, /txn_amount: PSI 0\.139 ≥ 0\.12/);
  t.match(r.data!.thresholds, { psi: { warn: 0.1, fail: 0.12 }, nullRateDelta: { fail: 0.05 }, categoricalLinf: { fail: 0.1 } }, 'unset bands keep their defaults');
});

t.test('without a drift policy the defaults apply (PSI warn 0.1, fail 0.25)', async (t) => {
  const r = gate({ ...servingLikeTraining(), txn_amount: amount([500, 550, 550, 480, 450, 420, 400, 380, 360, 360]) }, undefined);
  t.equal(r.status, 'warn');
});

t.test('a rare category tripling its share fails on L∞ even where PSI only warns', async (t) => {
  // travel 8120/74981 = 10.8% in training → 1900/7740 = 24.5% in serving: L∞ 0.137 ≥ 0.1; PSI 0.155 (warn band).
  const current = { ...servingLikeTraining(), merchant_category: { kind: 'categorical' as const,
    counts: { grocery: 2300, travel: 1900, electronics: 620, gaming: 210, fuel: 980, restaurants: 1400 }, other: 330 } };
  const r = gate(current);
  t.equal(r.status, 'fail');
  t.match(r.summary, /^merchant_category: L∞ 0\.137 ≥ 0\.1 \(travel: 24\.5% vs 10\.8%\)/, 'serving first, as in "serving vs training" and the null rate');
  const row = rows(r).find((x) => x.feature === 'merchant_category')!;
  t.same(row.reasons, ['L∞ 0.137 ≥ 0.1 (travel: 24.5% vs 10.8%)', 'PSI 0.155 ≥ 0.1'], 'worst reason first');
});

t.test('a feature going null upstream fails on the null-rate delta, not on PSI', async (t) => {
  // training: 1204 / (44855 + 1204) = 2.6% null; serving: 400 / (4486 + 400) = 8.2% null → +5.6 pp ≥ 5 pp.
  const current = servingLikeTraining();
  current.amount_zscore_30d = { ...(current.amount_zscore_30d as Extract<Histogram, { kind: 'numeric' }>), nulls: 400 };
  const r = gate(current);
  t.equal(r.status, 'fail');
  t.match(r.summary, /^amount_zscore_30d: null rate 8\.2% vs 2\.6% \(\+5\.6 pp, limit 5 pp\)/);
  const row = rows(r).find((x) => x.feature === 'amount_zscore_30d')!;
  t.ok(row.psi! < 0.001, 'the non-null values did not move');
});

t.test('a feature missing from serving data warns: "no data for" it', async (t) => {
  const { card_age_days: _dropped, ...current } = servingLikeTraining();
  const r = gate(current);
  t.equal(r.status, 'warn');
  t.match(r.summary, /^no data for card_age_days — /);
  t.match(rows(r).at(-1), { feature: 'card_age_days', status: 'warn', missing: true }, 'rows without PSI come last');
});

t.test('an empty serving histogram counts as no data too', async (t) => {
  const current = { ...servingLikeTraining(), txn_amount: amount([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) };
  t.match(gate(current), { status: 'warn', summary: /^no data for txn_amount/ });
});

t.test('no serving data at all is an error, never a pass', async (t) => {
  const r = gate({});
  t.equal(r.status, 'error');
  t.equal(r.summary, 'no serving data for any of the 6 features (serving, last 7d vs training 2026.10.30-1)');
});

t.test('serving data binned on other edges is an error for that feature', async (t) => {
  const current = { ...servingLikeTraining(), txn_amount: { ...amount([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), edges: [0, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 1000000] } };
  const r = gate(current);
  t.equal(r.status, 'error');
  t.match(r.summary, /txn_amount: current histogram edge 2 is 10, reference 12/);
});

t.test('a version without training histograms cannot be judged: error', async (t) => {
  const r = driftGate({ reference: {}, current: servingLikeTraining(), referenceLabel: 'training 2026.10.30-1', currentLabel: 'serving, last 7d', policy: productionDrift });
  t.equal(r.status, 'error');
  t.match(r.summary, /no reference histograms in training 2026\.10\.30-1/);
});

t.test('the score distribution is judged with the same PSI bands', async (t) => {
  const reference = manifest.scoreHistogram!;
  const shifted: Histogram = { ...(reference as Extract<Histogram, { kind: 'numeric' }>), counts: [318, 357, 426, 470, 592, 721, 952] };
  const r = gate(servingLikeTraining(), productionDrift, { reference, current: shifted });
  t.equal(r.status, 'fail');
  t.match(r.summary, /^model score: PSI 0\.\d+ ≥ 0\.25/);
  t.match(r.data!.score, { feature: 'model score', status: 'fail' });

  const missing = gate(servingLikeTraining(), productionDrift, { reference });
  t.equal(missing.status, 'warn', 'no serving scores: a warning, like a missing feature');
});

t.test('serving features the reference does not know are listed, not judged', async (t) => {
  const r = gate({ ...servingLikeTraining(), device_risk: { kind: 'categorical', counts: { low: 10 } } });
  t.equal(r.status, 'pass');
  t.same(r.data!.notInReference, ['device_risk']);
  t.same(r.details, ['not in the reference, not judged: device_risk']);
});

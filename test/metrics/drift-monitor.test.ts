// Drift verdicts from plain data: measured histograms (or a failed measurement) in, a verdict
// per model out; unknown is never ok; the retraining issue's title names the worst feature.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { load as parseYaml } from 'js-yaml';
import type { Histogram, VersionManifest } from '../../src/config/types.js';
import { driftExitCode, driftText, judgeDrift, retrainIssue, type ModelDrift } from '../../src/metrics/drift-monitor.js';
import { projectRoot } from '../helpers/cli.js';

const manifest = parseYaml(readFileSync(join(projectRoot, 'models/fraud-detector/versions/2026.11.06-1.yaml'), 'utf8')) as VersionManifest;
const window = { start: new Date('2026-11-19T00:00:00Z'), end: new Date('2026-11-20T00:00:00Z') };
const policy = { psi: { warn: 0.1, fail: 0.25 }, nullRateDelta: { fail: 0.05 } };

/** Serving = training, except the features given. */
function serving(overrides: Record<string, Histogram> = {}, score?: Histogram) {
  return { rows: 74_828, features: { ...manifest.histograms!, ...overrides }, score: score ?? manifest.scoreHistogram! };
}

const judge = (measured: Parameters<typeof judgeDrift>[0]['measured']) =>
  judgeDrift({ environment: 'production', model: 'fraud-detector', manifest, policy, window, table: 'ANALYTICS.SCORES.FRAUD_SCORES', measured });

// Amounts moved to the top bins: PSI well past 0.25.
const shiftedAmounts: Histogram = { kind: 'numeric', edges: manifest.histograms!.txn_amount!.kind === 'numeric' ? manifest.histograms!.txn_amount!.edges : [], counts: [2000, 2000, 2000, 3000, 4000, 5000, 7000, 9000, 11000, 12000] };

t.test('serving like training: ok, exit 0', async (t) => {
  const d = judge(serving());
  t.equal(d.status, 'ok');
  t.match(d.summary, /^ok: 6 features within bounds; largest PSI 0\.000/);
  t.equal(d.features.length, 6);
  t.equal(d.score?.feature, 'model score');
  t.equal(driftExitCode([d]), 0);
});

t.test('a feature past the PSI bound: fail, exit 1, the issue says which and by how much', async (t) => {
  const d = judge(serving({ txn_amount: shiftedAmounts }));
  t.equal(d.status, 'fail');
  t.equal(d.features[0]!.feature, 'txn_amount', 'most drifted first');
  t.ok(d.features[0]!.psi! > 0.25);
  t.equal(driftExitCode([d]), 1);
  const issue = retrainIssue(d, { commit: 'a'.repeat(40) });
  t.equal(issue.title, `retrain fraud-detector: PSI ${d.features[0]!.psi!.toFixed(2)} on txn_amount`);
  t.match(issue.body, /^<!-- modelship:retrain production\/fraud-detector -->/);
  t.match(issue.body, /\| txn_amount \| \*\*fail\*\* \| \d\.\d{3} \|/);
  t.match(issue.body, /74,828 rows scored by 2026\.11\.06-1/);
  t.same(issue.labels, ['retrain']);
});

t.test('null rate up by more than the bound: the title names the null rate', async (t) => {
  const z = manifest.histograms!.amount_zscore_30d! as Extract<Histogram, { kind: 'numeric' }>;
  const d = judge(serving({ amount_zscore_30d: { ...z, nulls: 9000 } }));
  t.equal(d.status, 'fail');
  t.match(retrainIssue(d).title, /^retrain fraud-detector: null rate \+\d+\.\dpp on amount_zscore_30d$/);
});

t.test('score distribution shift alone fails too', async (t) => {
  const d = judge(serving({}, { kind: 'numeric', edges: [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], counts: [100, 100, 200, 400, 2000, 9000, 20000] }));
  t.equal(d.status, 'fail');
  t.match(d.summary, /model score: PSI/);
  t.match(retrainIssue(d).title, /on model score$/);
});

t.test('a warning band: warn, exit 0', async (t) => {
  const a = manifest.histograms!.txn_amount! as Extract<Histogram, { kind: 'numeric' }>;
  const d = judge(serving({ txn_amount: { ...a, counts: a.counts.map((c, i) => (i < 3 ? c * 0.6 : c * 1.25)) } }));
  t.equal(d.status, 'warn', d.summary);
  t.equal(driftExitCode([d]), 0);
});

t.test('a timed-out query is unknown, never ok; exit 3 even beside a model that is ok', async (t) => {
  const d = judge({ error: 'snowflake: query: timed out after 2000 ms', timedOut: true });
  t.equal(d.status, 'unknown');
  t.equal(d.timedOut, true);
  t.match(d.summary, /^unknown: the warehouse query timed out: snowflake: query: timed out after 2000 ms/);
  t.equal(driftExitCode([judge(serving()), d]), 3);
  t.equal(driftExitCode([judge(serving({ txn_amount: shiftedAmounts })), d]), 3, 'unknown outranks a failure: the run could not see everything');
  t.match(driftText([d]), /production {2}fraud-detector@2026\.11\.06-1 {2}UNKNOWN/);
});

t.test('no serving rows in the window is unknown, not ok', async (t) => {
  const d = judge({ rows: 0, features: {} });
  t.equal(d.status, 'unknown');
  t.match(d.summary, /no serving rows scored by 2026\.11\.06-1 in the last 24h \(ANALYTICS\.SCORES\.FRAUD_SCORES\)/);
});

t.test('the table: one line per feature, bounds breached stand out', async (t) => {
  const text = driftText([judge(serving({ txn_amount: shiftedAmounts }))]);
  const lines = text.split('\n');
  t.match(lines[0], /^production {2}fraud-detector@2026\.11\.06-1 {2}FAIL, 74,828 rows {2}\(2026-11-19T00:00Z → 2026-11-20T00:00Z\)$/);
  t.match(lines[1], /^ {2}feature +status +PSI +L∞ +nulls +Δnulls +why$/);
  t.match(lines[2], /^ {2}txn_amount +FAIL +\d\.\d{3} +— +0\.0% +\+0\.0pp +PSI \d\.\d{3} ≥ 0\.25$/);
  t.match(text, /model score +ok/);
});

t.test('exit codes over several models', async (t) => {
  const ok = { status: 'ok' } as ModelDrift;
  const warn = { status: 'warn' } as ModelDrift;
  const fail = { status: 'fail' } as ModelDrift;
  t.equal(driftExitCode([]), 0);
  t.equal(driftExitCode([ok, warn]), 0);
  t.equal(driftExitCode([ok, fail, warn]), 1);
});

// `modelship drift` through the CLI: the real snowflake-sdk against the Snowflake stand-in, whose
// DuckDB holds a scoring log drawn from the training histograms (some of it drifted); the real
// Octokit against the GitHub stand-in for the retraining issue. Asserted: what the user sees,
// the exit code, and what GitHub ends up holding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { load as parseYaml } from 'js-yaml';
import type { VersionManifest } from '../../src/config/types.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { projectRoot, runCli, type CliResult } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { chargebackLogSpec, fraudLogSpec, loadLog, makeRows, type Shift } from '../metrics/serving-log.js';

const manifest = (model: string, version: string) => parseYaml(readFileSync(join(projectRoot, `models/${model}/versions/${version}.yaml`), 'utf8')) as VersionManifest;
const fraud = manifest('fraud-detector', '2026.11.06-1');
const chargeback = manifest('chargeback-risk', '2026.10.15-1');
const at = '2026-11-20T00:00:00Z';
const day = { start: new Date('2026-11-19T00:00:00Z'), end: new Date(at) };
/** Card-not-present fraud moved amounts up: the top bins fill. */
export const amountsUp: Shift = { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] };

interface Stage {
  snow: SnowflakeStandIn;
  env: Record<string, string>;
  root: string;
  drift: (...args: string[]) => Promise<CliResult>;
}

async function stage(t: Test, options: { shifts?: Record<string, Shift>; gh?: GitHubStandIn; rows?: number } = {}): Promise<Stage> {
  // drift reads the repository and writes nothing to it; when its first commit was made does not matter
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  const snow = await startSnowflakeStandIn({
    setup: async (c) => {
      await loadLog(c, 'ANALYTICS.SCORES.FRAUD_SCORES', fraudLogSpec(fraud),
        makeRows(fraudLogSpec(fraud), { n: options.rows ?? 4000, version: fraud.version, ...day, seed: 11, ...(options.shifts ? { shifts: options.shifts } : {}) }));
      await loadLog(c, 'ANALYTICS.SCORES.CHARGEBACK_SCORES', chargebackLogSpec(chargeback),
        makeRows(chargebackLogSpec(chargeback), { n: 4000, version: chargeback.version, ...day, seed: 12 }));
    },
  });
  t.teardown(() => snow.stop());
  const env: Record<string, string> = {
    SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
    MODELSHIP_SNOWFLAKE_URL: snow.url,
    ...(options.gh ? { GITHUB_TOKEN: 'ghs_drift', GITHUB_API_URL: options.gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases' } : {}),
  };
  return { snow, env, root: repo.root, drift: (...args) => runCli(['drift', ...args, '-C', repo.root], { env }) };
}

t.test('serving like training: every feature ok, exit 0', async (t) => {
  const s = await stage(t);
  const r = await s.drift('--env', 'production', '--window', '24h', '--at', at);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^production {2}chargeback-risk@2026\.10\.15-1 {2}ok, 4,000 rows {2}\(2026-11-19T00:00Z → 2026-11-20T00:00Z\)$/m);
  t.match(r.stdout, /^production {2}fraud-detector@2026\.11\.06-1 {2}ok, 4,000 rows/m);
  t.match(r.stdout, /^ {2}txn_amount +ok +0\.0\d\d/m);
  const aggregations = s.snow.queries.filter((q) => /^SELECT\n {2}COUNT\(\*\) AS N_ROWS/.test(q.sqlText));
  t.equal(aggregations.length, 2, 'one aggregation per model');
  t.ok(aggregations.every((q) => q.ranAs === q.sqlText && !q.error), 'ran unchanged, in the warehouse');
});

t.test('a feature past the policy\'s PSI bound: the table says which, exit 1', async (t) => {
  const s = await stage(t, { shifts: { txn_amount: amountsUp } });
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', at);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /fraud-detector@2026\.11\.06-1 {2}FAIL, 4,000 rows/);
  t.match(r.stdout, /^ {2}txn_amount +FAIL +\d\.\d{3} +— +0\.0% +\+0\.0pp +PSI \d\.\d{3} ≥ 0\.25$/m);
  t.match(r.stdout, /^ {2}fail: txn_amount: PSI \d\.\d{3} ≥ 0\.25 — serving, last 24h vs training data of 2026\.11\.06-1$/m);
  t.notMatch(r.stdout, /chargeback-risk/, '--model limits the run');
});

t.test('--json: the verdict and every feature\'s numbers', async (t) => {
  const s = await stage(t, { shifts: { txn_amount: amountsUp } });
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', at, '--json');
  t.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.ok, false);
  t.match(out.models[0], { environment: 'production', model: 'fraud-detector', version: '2026.11.06-1', status: 'fail', rows: 4000, table: 'ANALYTICS.SCORES.FRAUD_SCORES', window: { start: '2026-11-19T00:00:00.000Z', end: '2026-11-20T00:00:00.000Z' } });
  t.match(out.models[0].features[0], { feature: 'txn_amount', status: 'fail', kind: 'numeric', nullRate: { delta: 0 } });
  t.ok(out.models[0].features[0].psi > 0.25);
  t.equal(out.models[0].score.feature, 'model score');
});

t.test('the window defaults to the policy\'s (production: 7d)', async (t) => {
  const s = await stage(t);
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--at', at, '--json');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(JSON.parse(r.stdout).models[0].window.start, '2026-11-13T00:00:00.000Z');
});

t.test('--open-issue opens the retraining issue once; a second run updates it, never a duplicate', async (t) => {
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', token: 'ghs_drift' });
  t.teardown(() => gh.stop());
  const s = await stage(t, { shifts: { txn_amount: amountsUp }, gh });
  const first = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', at, '--open-issue');
  t.equal(first.code, 1, first.stdout + first.stderr);
  t.match(first.stdout, /issue #1 opened: retrain fraud-detector: PSI \d\.\d\d on txn_amount — https:\/\/github\.com\/acmerisk\/model-releases\/issues\/1/);
  const issue = gh.state.issues.get(1)!;
  t.match(issue.title, /^retrain fraud-detector: PSI \d\.\d\d on txn_amount$/);
  t.match(issue.body, /<!-- modelship:retrain production\/fraud-detector -->/);
  t.same(issue.labels, ['retrain']);

  const second = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '48h', '--at', at, '--open-issue');
  t.equal(second.code, 1, second.stdout + second.stderr);
  t.match(second.stdout, /issue #1 updated: retrain fraud-detector/);
  t.equal([...gh.state.issues.values()].length, 1, 'one issue');
  t.match(gh.state.issues.get(1)!.body, /2026-11-18T00:00:00\.000Z/, 'its body shows the latest run');
  t.same(gh.requests.map((q) => `${q.operationId} ${q.status}`),
    ['issues/list-for-repo 200', 'issues/create 201', 'issues/list-for-repo 200', 'issues/update 200'], 'every call matched its OpenAPI operation');
});

t.test('--open-issue with no drift opens nothing', async (t) => {
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', token: 'ghs_drift' });
  t.teardown(() => gh.stop());
  const s = await stage(t, { gh });
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', at, '--open-issue');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /no model is past its bounds: no retraining issue opened/);
  t.equal(gh.requests.length, 0);
});

t.test('Snowflake\'s statement timeout: drift is "unknown", never "ok", exit 3', async (t) => {
  const s = await stage(t);
  s.snow.inject({ match: /FRAUD_SCORES/, code: '000630', sqlState: '57014', message: 'Statement reached its statement or warehouse timeout of 60 second(s) and was canceled.' });
  const r = await s.drift('--env', 'production', '--window', '24h', '--at', at);
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stdout, /production {2}fraud-detector@2026\.11\.06-1 {2}UNKNOWN {2}\(/);
  t.match(r.stdout, /unknown: the warehouse query timed out: .*timeout of 60 second\(s\)/);
  t.match(r.stdout, /chargeback-risk@2026\.10\.15-1 {2}ok/, 'the other model is still measured');
  t.notMatch(r.stdout, /fraud-detector@2026\.11\.06-1 {2}ok/);
});

t.test('a query slower than --timeout: cancelled on our side, "unknown", exit 3', async (t) => {
  const s = await stage(t);
  s.snow.slow(/FRAUD_SCORES/, 4000);
  const started = Date.now();
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', at, '--timeout', '1s', '--json');
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.ok(Date.now() - started < 15_000);
  const d = JSON.parse(r.stdout).models[0];
  t.match(d, { status: 'unknown', timedOut: true, error: /timed out after 1000 ms/ });
  t.same(d.features, []);
});

t.test('a missing scoring log table is unknown too, with Snowflake\'s message', async (t) => {
  const s = await stage(t);
  await s.snow.run('DROP TABLE ANALYTICS.SCORES.CHARGEBACK_SCORES');
  const r = await s.drift('--env', 'production', '--model', 'chargeback-risk', '--window', '24h', '--at', at);
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stdout, /UNKNOWN[\s\S]*unknown: the warehouse query failed: .*CHARGEBACK_SCORES/);
});

t.test('no serving rows in the window: unknown, exit 3', async (t) => {
  const s = await stage(t);
  const r = await s.drift('--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', '2026-12-20T00:00:00Z');
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stdout, /unknown: no serving rows scored by 2026\.11\.06-1 in the last 24h \(ANALYTICS\.SCORES\.FRAUD_SCORES\)/);
});

t.test('bad input: exit 2 with a clear message, nothing queried', async (t) => {
  const s = await stage(t);
  const cases: Array<[string[], RegExp]> = [
    [['--env', 'prod'], /error: no such environment: prod; environments: production, staging/],
    [['--env', 'production', '--model', 'fraud-detektor'], /error: no such model: fraud-detektor; models: chargeback-risk, fraud-detector/],
    [['--env', 'production', '--window', 'a day'], /error: --window "a day" is not a duration \(e\.g\. 30s, 15m, 24h, 7d\)/],
    [['--env', 'production', '--at', 'yesterday'], /error: --at "yesterday" is not a time/],
    [['--env', 'production', '--table', 'SCORES'], /error: --table "SCORES" is not DATABASE\.SCHEMA\.TABLE/],
    [['--env', 'production', '--table', 'A.B.C'], /error: --table names one model's scoring log: give exactly one --model with it/],
    [['--env', 'production', '--open-issue'], /error: --open-issue needs a GitHub token/],
  ];
  for (const [args, message] of cases) {
    const r = await s.drift(...args);
    t.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.match(r.stderr, message);
  }
  const none = await runCli(['drift', '--env', 'production', '-C', s.root], {});
  t.equal(none.code, 2);
  t.match(none.stderr, /no Snowflake connection is configured for production \(set SNOWFLAKE_ACCOUNT/);
  t.equal(s.snow.queries.length, 0, 'nothing reached the warehouse');
});

// `modelship canary watch` through the CLI: a live canary of fraud-detector in production (started
// with `modelship promote --canary`, merged), its request metrics in a real Prometheus, the
// revert pull request through Octokit against the GitHub stand-in, the registry in s3rver.
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { after, breachSeries, dated, iso, startCanary, started } from '../helpers/canary-breach.js';
import { copyReleaseRepo, makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { missingBinaries, startPrometheus, type TestPrometheus } from '../adapters/prometheus-server.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';

const missing = missingBinaries();
const skip = missing.length ? `${missing.join(' and ')} not installed (Debian package "prometheus")` : false;


let s3: TestS3;
let prometheus: TestPrometheus;
t.before(async () => {
  s3 = await startCheckerS3();
  if (!skip) prometheus = await startPrometheus(breachSeries());
});
t.teardown(async () => {
  await prometheus?.stop();
  await s3.stop();
});

/** production runs 2026.11.20-1 as a 5% canary since `started`; its policy keeps only the Prometheus error-rate check. */
// The canary's history is the same for every test with the same autoRollback (fixed dates: the same
// commits): built once for each, by the first test that asks, and copied for each test (origin and
// clone), so no test sees another's changes.
const built = new Map<string, Promise<TestRepo>>();
t.teardown(async () => { for (const r of built.values()) (await r.catch(() => undefined))?.cleanup(); });
async function canaryRepo(t: Test, autoRollback: 'pr' | 'direct'): Promise<TestRepo> {
  dated(iso(new Date(started.getTime() - 100 * 3_600_000)));
  const repo = makeReleaseRepo();
  await startCanary(t, repo, s3.env, autoRollback);
  return repo;
}

async function stage(t: Test, autoRollback: 'pr' | 'direct') {
  if (!built.has(autoRollback)) built.set(autoRollback, canaryRepo(t, autoRollback));
  const repo = copyReleaseRepo(await built.get(autoRollback)!);
  t.teardown(repo.cleanup);
  dated(after(20));
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', token: 'ghs_watch', teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['omar'] } });
  t.teardown(() => gh.stop());
  const env = { ...s3.env, GITHUB_TOKEN: 'ghs_watch', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases' };
  const watch = (at: string, ...args: string[]) => runCli(['canary', 'watch', '--env', 'production', '--once', '--at', at, '-C', repo.root, ...args], { env });
  return { repo, gh, watch };
}

t.test('breached for 3 intervals in a row: the revert pull request, saying why; a second run updates the same one', { skip }, async (t) => {
  const { repo, gh, watch } = await stage(t, 'pr');
  const early = await watch(after(7), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(early.code, 0, early.stdout + early.stderr);
  t.match(early.stdout, /fraud-detector 2026\.11\.20-1 at 5% beside 2026\.11\.06-1 \(canary since .*\): healthy/);
  t.match(early.stdout, /warn   error-rate  ≤ 0\.01 .* 2 of 3 in a row/, 'two breached intervals are not enough');
  t.equal(gh.state.pulls().length, 0);

  const r = await watch(after(15), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /: BREACHED\n/);
  t.match(r.stdout, /why    error-rate \(prometheus\) was outside ≤ 0\.01 in each of the last 3 intervals of 5m \(\d\d:\d\dZ 0\.0[23]\d*, /);
  t.match(r.stdout, /action revert pull request #1 opened/);
  const pr = gh.state.pull(1)!;
  t.equal(pr.title, 'rollback(production): abort the canary of fraud-detector 2026.11.20-1, keep 2026.11.06-1');
  t.match(pr.body, /### Why\n\n- error-rate \(prometheus\) was outside ≤ 0\.01 in each of the last 3 intervals of 5m/);
  const branch = pr.pull.headRef;
  const message = repo.git('log', '-1', '--format=%B', branch);
  t.match(message, /This reverts commit [0-9a-f]{40}\./, 'the canary-start commit, reverted');
  t.notMatch(repo.git('show', `${branch}:environments/production.yaml`), /canary:/);

  const again = await watch(after(20), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(again.code, 1);
  t.match(again.stdout, /action revert pull request #1 updated/);
  t.equal(gh.state.pulls().length, 1, 'one pull request');
});

t.test('without --open-pr a breach is reported, nothing is opened', { skip }, async (t) => {
  const { repo, gh, watch } = await stage(t, 'pr');
  const r = await watch(after(15), '--prometheus-url', prometheus.url);
  t.equal(r.code, 1);
  t.match(r.stdout, /action none: report only \(run with --open-pr to act\)/);
  t.equal(gh.state.pulls().length, 0);
  t.equal(repo.git('branch', '--list', 'rollback/*').trim(), '');
});

t.test('the metric source is down: an alert and exit 3, no rollback on missing data', { skip }, async (t) => {
  const { repo, gh, watch } = await stage(t, 'direct');
  const tip = repo.git('ls-remote', 'origin', 'refs/heads/main');
  const r = await watch(after(15), '--prometheus-url', 'http://127.0.0.1:9', '--open-pr');
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stdout, /UNKNOWN \(metric source down\)/);
  t.match(r.stdout, /ALERT  error-rate: prometheus did not answer: .*cannot connect.*; no rollback on missing data/);
  t.equal(repo.git('ls-remote', 'origin', 'refs/heads/main'), tip, 'nothing pushed');
  t.equal(gh.state.pulls().length, 0);
});

t.test('autoRollback: direct pushes the revert to main', { skip }, async (t) => {
  const { repo, watch } = await stage(t, 'direct');
  const r = await watch(after(15), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /action rollback\(production\): abort the canary of fraud-detector 2026\.11\.20-1, keep 2026\.11\.06-1: [0-9a-f]{12} pushed to main/);
  const main = repo.git('ls-remote', 'origin', 'refs/heads/main').split('\t')[0]!;
  t.notMatch(repo.git('show', `${main}:environments/production.yaml`), /canary:/);
  t.match(repo.git('log', '-1', '--format=%B', main), /error-rate \(prometheus\) was outside ≤ 0\.01/);
  const next = await watch(after(20), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(next.code, 0);
  t.match(next.stdout, /no canary is running in production/);
});

t.test('a traffic step restarts the window: the intervals before the step are not held against 25%', { skip }, async (t) => {
  const { repo, gh, watch } = await stage(t, 'pr');
  // 5 minutes into the bad spell someone steps the canary to 25%: a new step, judged from then on.
  Object.assign(process.env, { GIT_AUTHOR_DATE: after(5), GIT_COMMITTER_DATE: after(5) });
  const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'production', '--canary', '25', '--json', '-C', repo.root], { env: s3.env });
  t.equal(p.code, 0, p.stderr);
  repo.git('checkout', '-q', 'main');
  repo.git('merge', '-q', '--no-ff', '-m', `Merge ${JSON.parse(p.stdout).branch}`, JSON.parse(p.stdout).branch);
  repo.git('push', '-q', 'origin', 'main');
  Object.assign(process.env, { GIT_AUTHOR_DATE: after(20), GIT_COMMITTER_DATE: after(20) });

  const r = await watch(after(15), '--prometheus-url', prometheus.url, '--open-pr');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /fraud-detector 2026\.11\.20-1 at 25% beside 2026\.11\.06-1 \(canary since .*\): healthy/);
  t.match(r.stdout, /warn   error-rate  ≤ 0\.01 .* 2 of 3 in a row/, 'only the two intervals since the step count');
  t.equal(gh.state.pulls().length, 0, 'nothing opened');
});

// `modelship promote --open-pr` end to end: the branch is pushed to a real bare origin and the
// pull request is opened through the real Octokit against the GitHub stand-in, which checks
// every request against GitHub's OpenAPI description.
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3();
});
t.teardown(() => s3.stop());

async function stage(t: Test, options: { failPulls?: number } = {}) {
  const repo = makeReleaseRepo({ reuse: true }); // a copy: what is tested does not depend on when its first commit was made
  t.teardown(repo.cleanup);
  const reg = await runCli(['register', makeRun().dir, '-C', repo.root], { env: s3.env });
  t.equal(reg.code, 0, reg.stderr);
  const gh: GitHubStandIn = await startGitHub({
    owner: 'acmerisk', repo: 'model-releases', token: 'ghs_promote',
    teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['omar'] },
  });
  t.teardown(() => gh.stop());
  const env = { GITHUB_TOKEN: 'ghs_promote', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases' };
  const promote = (...args: string[]) => runCli(['promote', ...args, '-C', repo.root], { env });
  return { repo, gh, promote };
}

t.test('--open-pr pushes the branch, opens the pull request with what changes, and requests the reviewer teams', async (t) => {
  const { repo, gh, promote } = await stage(t);
  const r = await promote('fraud-detector@2026.11.20-1', '--to', 'staging', '--open-pr', '--reason', 'weekly retrain');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /pull request #1 opened: https:\/\/github\.com\/acmerisk\/model-releases\/pull\/1/);
  t.match(r.stdout, /review requested from @acmerisk\/fraud-ml-leads, @acmerisk\/model-risk/);

  const branch = 'promote/staging/fraud-detector-2026.11.20-1';
  const pushed = repo.git('ls-remote', '--heads', 'origin', branch).split('\t')[0];
  t.equal(pushed, repo.git('rev-parse', branch).trim(), 'the origin has the promotion commit');

  const pr = gh.state.pull(1)!;
  t.equal(pr.pull.headRef, branch);
  t.equal(pr.pull.baseRef, 'main');
  t.equal(pr.title, 'promote(staging): fraud-detector 2026.11.13-1 → 2026.11.20-1');
  t.match(pr.body, /2026\.11\.13-1/, 'the body names the version live there');
  t.match(pr.body, /auc/, 'and compares metrics');
  t.match(pr.body, /weekly retrain/);
  t.same([...pr.pull.requestedTeams].sort(), ['fraud-ml-leads', 'model-risk']);

  const ops = gh.requests.map((q) => `${q.operationId} ${q.status}`);
  t.same(ops, ['repos/get 200', 'pulls/list 200', 'pulls/create 201', 'pulls/request-reviewers 201'], 'every call matched its OpenAPI operation');
});

t.test('re-running with --force updates the open pull request instead of opening a second one', async (t) => {
  const { repo, gh, promote } = await stage(t);
  t.equal((await promote('fraud-detector@2026.11.20-1', '--to', 'staging', '--open-pr')).code, 0);
  const first = repo.git('rev-parse', 'promote/staging/fraud-detector-2026.11.20-1').trim();
  repo.git('checkout', '-q', 'main');
  const r = await promote('fraud-detector@2026.11.20-1', '--to', 'staging', '--open-pr', '--force', '--reason', 'rebuilt on a newer main');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /pull request #1 updated/);
  t.equal(gh.state.pulls().length, 1, 'still one pull request');
  t.match(gh.state.pull(1)!.body, /rebuilt on a newer main/);
  const second = repo.git('ls-remote', '--heads', 'origin', 'promote/staging/fraud-detector-2026.11.20-1').split('\t')[0];
  t.not(second, first, 'the branch was force-pushed to the new commit');
});

t.test('a token GitHub refuses: exit 3, the reason and a hint; no branch, no pull request', async (t) => {
  const { repo, gh } = await stage(t);
  const r = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '--open-pr', '-C', repo.root], {
    env: { GITHUB_TOKEN: 'ghs_wrong', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases' },
  });
  t.equal(r.code, 3);
  t.match(r.stderr, /error: github: .*HTTP 401/);
  t.match(r.stderr, /hint: the token is invalid or expired/);
  t.notMatch(r.stderr + r.stdout, /ghs_wrong/, 'the token is never printed');
  t.equal(gh.state.pulls().length, 0, 'no pull request');
  t.equal(repo.git('branch', '--list', 'promote/*').trim(), '', 'GitHub is asked before anything is written');
});

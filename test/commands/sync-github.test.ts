// `sync --github`: each environment a sync changes becomes a GitHub Deployment of the commit with
// statuses, through the real Octokit against the GitHub stand-in (every request checked against
// GitHub's OpenAPI description). A sync with nothing to do reports nothing; a re-run after a
// failure adds statuses to the same deployment; GitHub being down never stops the environment
// from converging, but the command says so and exits 3.
import t, { type Test } from 'tap';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { runCli } from '../helpers/cli.js';
import { production, promoteFraudDetector, stage, writes, type Stage } from '../helpers/stage.js';

const owner = 'acmerisk';
const name = 'model-releases';
const token = 'ghs_sync_deployments';

async function staged(t: Test): Promise<{ s: Stage; gh: GitHubStandIn; sync: (...args: string[]) => ReturnType<typeof runCli> }> {
  const s = await stage(t);
  const gh = await startGitHub({ owner, repo: name, token });
  t.teardown(() => gh.stop());
  const env = {
    ...s.env, GITHUB_TOKEN: token, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${owner}/${name}`,
    GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '4242',
  };
  const sync = (...args: string[]) => runCli(['sync', '--github', ...args, '-C', s.root], { env });
  return { s, gh, sync };
}

const statuses = (gh: GitHubStandIn) => gh.state.deployments.map((d) => d.statuses.map((x) => x.state));


t.test('a sync that changes production is a deployment of the commit: in_progress, then success', async (t) => {
  const { s, gh, sync } = await staged(t);
  const r = await sync('--env', 'production');
  t.equal(r.code, 0, r.stdout + r.stderr);
  const commit = s.git('rev-parse', 'HEAD').trim();
  t.equal(gh.state.deployments.length, 1);
  const d = gh.state.deployments[0]!;
  t.match(d, { sha: commit, ref: commit, environment: 'production', task: 'deploy:modelship', productionEnvironment: true, transientEnvironment: false });
  t.match(d.description, /^modelship sync: chargeback-risk 2026\.10\.15-1, fraud-detector 2026\.11\.06-1/);
  t.match(d.payload, { tool: 'modelship', commit, environment: 'production', models: { 'fraud-detector': { version: '2026.11.06-1' } } });
  t.same(d.statuses.map((x) => x.state), ['in_progress', 'success']);
  t.equal(d.statuses[0]!.logUrl, `https://github.com/${owner}/${name}/actions/runs/4242`, 'the statuses link to the workflow run');
  t.match(d.statuses[1]!.description, /^converged: chargeback-risk 2026\.10\.15-1, fraud-detector 2026\.11\.06-1/);
  const calls = gh.requests.map((q) => `${q.operationId} ${q.status}`);
  t.same(calls, ['repos/list-deployments 200', 'repos/create-deployment 201', 'repos/create-deployment-status 201', 'repos/create-deployment-status 201'],
    'each call valid by GitHub\'s schema (the stand-in answers 422 otherwise)');

  const again = await sync('--env', 'production');
  t.equal(again.code, 0);
  t.equal(gh.requests.length, calls.length, 'nothing to deploy: nothing reported');
});

t.test('the deployment Actions made for the job\'s environment is left alone: modelship adds statuses only to its own', async (t) => {
  const { s, gh, sync } = await staged(t);
  const commit = s.git('rev-parse', 'HEAD').trim();
  gh.state.setBranch('main', commit);
  // the sync job has `environment: production`: Actions made its deployment of the commit first
  const actions = gh.state.actionsDeployment('main', 'production', { runUrl: `https://github.com/${owner}/${name}/actions/runs/4242` });
  const r = await sync('--env', 'production');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(actions.statuses.map((x) => x.state), ['queued', 'in_progress'], 'no status added to the Actions deployment');
  const ours = gh.state.deployments.filter((d) => d !== actions);
  t.equal(ours.length, 1, 'modelship made its own');
  t.match(ours[0], { sha: commit, task: 'deploy:modelship', environment: 'production' });
  t.same(ours[0]!.statuses.map((x) => x.state), ['in_progress', 'success']);
});

t.test('a rollout that does not converge is a failure naming the object; the fixed re-run adds success to the same deployment', async (t) => {
  const { s, gh, sync } = await staged(t);
  t.equal((await sync('--env', 'production')).code, 0);
  const commit = promoteFraudDetector(s, '2026.11.13-1');
  s.kube.controller.failWhen = (o) => (String(o.metadata?.name).includes('2026-11-13-1') ? 'ModelLoadFailed: xgboost cannot parse model.json' : undefined);
  const failed = await sync('--env', 'production', '--ready-timeout', '2s');
  t.equal(failed.code, 1, failed.stdout + failed.stderr);
  const d = gh.state.deployments.find((x) => x.sha === commit)!;
  t.same(d.statuses.map((x) => x.state), ['in_progress', 'failure']);
  t.match(d.statuses[1]!.description, /^not converged: \d+ objects? failed; InferenceService\/ml-serving\/fraud-detector-2026-11-13-1-[0-9a-f]{6}: .*ModelLoadFailed/);
  t.ok(d.statuses[1]!.description.length <= 140, 'within GitHub\'s 140 characters');

  s.kube.controller.failWhen = undefined;
  const fixed = await sync('--env', 'production');
  t.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  t.equal(gh.state.deployments.filter((x) => x.sha === commit).length, 1, 'one deployment per commit and environment');
  t.same(d.statuses.map((x) => x.state), ['in_progress', 'failure', 'in_progress', 'success']);
  t.same(statuses(gh)[0], ['in_progress', 'success'], 'the earlier production deployment stays as it was (production deployments are not made inactive)');
});

t.test('GitHub down: the environment still converges; the missing record is reported and the exit code is 3', async (t) => {
  const { s, gh, sync } = await staged(t);
  gh.fail = () => 503;
  const r = await sync('--env', 'production');
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stderr, /production: could not record the deployment on GitHub: github: list deployments of [0-9a-f]{12} to production: HTTP 503/);
  t.match(r.stdout, /production at [0-9a-f]{12}: converged/);
  t.same(production(s).objects.map((o) => `${o.kind} ${o.version}`), ['HTTPRoute 2026.11.06-1', 'InferenceService 2026.11.06-1']);
  t.equal(gh.state.deployments.length, 0);
  t.notMatch(r.stdout + r.stderr, new RegExp(token), 'the token is never printed');
});

t.test('--github without a token: exit 2 before anything is read or written', async (t) => {
  const s = await stage(t);
  const r = await runCli(['sync', '--github', '--env', 'production', '-C', s.root], { env: s.env });
  t.equal(r.code, 2);
  t.match(r.stderr, /--github needs GITHUB_TOKEN/);
  t.equal(writes(s), 0);
  t.equal(s.kube.requests.length, 0, 'not even a read');
});

// The agent's canary duty, in-process, from what the agent has: a bare mirror of the release
// repository at main's head, the GitHub App's installation (the GitHub stand-in in App mode: a
// JWT, an installation token, acting as `<slug>[bot]`), and a clone URL served by git's own
// http-backend that accepts only the installation token. A live 5% canary of fraud-detector in
// production whose request metrics are in a real Prometheus; the registry in s3rver.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { canaryDuty, type DutyContext } from '../../src/agent/duties.js';
import { connectApp } from '../../src/adapters/github/app.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { missingBinaries, startPrometheus, type TestPrometheus } from '../adapters/prometheus-server.js';
import { after, breachSeries, dated, iso, minute, startCanary, started } from '../helpers/canary-breach.js';
import { startGitHttp } from '../helpers/git-http.js';
import { copyReleaseRepo, makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { appKeys } from '../helpers/webhooks.js';

const missing = missingBinaries();
const skip = missing.length ? `${missing.join(' and ')} not installed (Debian package "prometheus")` : false;

const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const keys = appKeys();

// Every git command this process runs goes through a shim that logs its arguments (and, for a
// push, the repository's .git/config): the token must appear in neither.
const shim = mkdtempSync(join(tmpdir(), 'modelship-git-shim-'));
const argvLog = join(shim, 'argv.log');
const configLog = join(shim, 'config.log');
const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
writeFileSync(join(shim, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nif [ "$1" = push ]; then pwd >> '${configLog}'; cat .git/config >> '${configLog}' 2>/dev/null; fi\nexec '${realGit}' "$@"\n`);
chmodSync(join(shim, 'git'), 0o755);
const savedEnv = { ...process.env };

let s3: TestS3;
let prometheus: TestPrometheus;
t.before(async () => {
  s3 = await startCheckerS3();
  // The rollback checks the artifact it returns to in the registry, through the default AWS chain.
  Object.assign(process.env, s3.env, { PATH: `${shim}:${process.env.PATH}` });
  if (!skip) prometheus = await startPrometheus(breachSeries());
});
t.teardown(async () => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  await prometheus?.stop();
  await s3.stop();
  rmSync(shim, { recursive: true, force: true });
  if (template) (await template).cleanup();
});

/** production runs 2026.11.20-1 as a 5% canary since `started` (autoRollback: pr); built once, copied for each test. */
let template: Promise<TestRepo> | undefined;
async function canaryRepo(t: Test): Promise<TestRepo> {
  dated(iso(new Date(started.getTime() - 100 * 3_600_000)));
  const repo = makeReleaseRepo();
  await startCanary(t, repo, s3.env);
  return repo;
}

/** The canary repository with the policy's autoRollback, the agent's mirror and App, its clone URL over HTTP. */
async function stage(t: Test, autoRollback: 'pr' | 'direct' | 'off') {
  const built = await (template ??= canaryRepo(t));
  const repo = copyReleaseRepo(built);
  t.teardown(repo.cleanup);
  const at = (d: string) => ({ ...process.env, GIT_AUTHOR_DATE: d, GIT_COMMITTER_DATE: d });
  if (autoRollback !== 'pr') {
    const policyFile = join(repo.root, 'policies/production.yaml');
    writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace('autoRollback: pr', `autoRollback: ${autoRollback}`));
    execFileSync('git', ['commit', '-qam', `production: autoRollback ${autoRollback}`], { cwd: repo.root, env: at(after(1)) });
    repo.git('push', '-q', 'origin', 'main');
  }
  Object.assign(process.env, { GIT_AUTHOR_DATE: after(20), GIT_COMMITTER_DATE: after(20) });
  // The agent's mirror: a bare copy of origin (serve fetches it; here it is made once).
  const mirror = join(repo.root, '..', 'mirror.git');
  execFileSync('git', ['clone', '-q', '--bare', repo.origin, mirror]);
  const commit = repo.git('rev-parse', 'main').trim();

  const gh = await startGitHub({
    owner: 'acmerisk', repo: 'model-releases', teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['omar'] },
    apps: [{ ...app, publicKey: keys.publicKey }],
  });
  t.teardown(() => gh.stop());
  const installation = await (await connectApp({ appId: app.id, privateKey: keys.privateKey, baseUrl: gh.url })).installation(app.installationId);
  const token = await installation.token();
  const http = await startGitHttp(repo.origin, token);
  t.teardown(() => http.stop());

  const logs: string[] = [];
  const gates: string[] = [];
  const ctx = (at: string): DutyContext => ({
    environment: 'production', mirror, commit, releaseBranch: 'main', repository: { owner: 'acmerisk', repo: 'model-releases' },
    github: { client: installation.client, token: installation.token, cloneUrl: http.url, login: `${app.slug}[bot]` },
    env: { MODELSHIP_PROMETHEUS_URL: prometheus.url }, now: () => new Date(at), signal: new AbortController().signal,
    log: (l) => logs.push(l),
    metrics: { reconcile() {}, outOfSync() {}, lastSuccessfulSync() {}, webhook() {}, leader() {}, gate: (g, o) => gates.push(`${g} ${o}`) },
  });
  writeFileSync(argvLog, '');
  writeFileSync(configLog, '');
  return { repo, gh, http, token, logs, gates, ctx, mirror };
}

t.test('a breach seen from the bare mirror: the revert pull request opened as the App, then updated, never duplicated', { skip }, async (t) => {
  const { repo, gh, http, token, logs, gates, ctx, mirror } = await stage(t, 'pr');
  const mirrorRefs = execFileSync('git', ['-C', mirror, 'for-each-ref'], { encoding: 'utf8' });

  const first = await canaryDuty(ctx(after(15)));
  t.same(first, { nextInMs: 5 * minute }, 'again on the policy\'s interval');
  const text = logs.join('\n');
  t.match(text, /canary watch production: fraud-detector 2026\.11\.20-1 at 5%: BREACHED/);
  t.match(text, /why: error-rate \(prometheus\) was outside ≤ 0\.01 in each of the last 3 intervals of 5m/);
  t.match(text, /revert pull request #1 opened: https:\/\/github\.com\/acmerisk\/model-releases\/pull\/1/);
  t.same(gates, ['canary-watch breached']);
  const pr = gh.state.pull(1)!;
  t.equal(pr.user, 'modelship-acme[bot]', 'opened by the App');
  t.equal(pr.title, 'rollback(production): abort the canary of fraud-detector 2026.11.20-1, keep 2026.11.06-1');
  t.match(pr.body, /### Why\n\n- error-rate \(prometheus\) was outside ≤ 0\.01/);
  const branch = pr.pull.headRef;
  const pushed = repo.git('ls-remote', 'origin', `refs/heads/${branch}`).split('\t')[0]!;
  t.match(pushed, /^[0-9a-f]{40}$/, 'the revert branch reached origin over HTTP');
  t.notMatch(execFileSync('git', ['-C', repo.origin, 'show', `${pushed}:environments/production.yaml`], { encoding: 'utf8' }), /canary:/);
  t.match(execFileSync('git', ['-C', repo.origin, 'log', '-1', '--format=%an%n%B', pushed], { encoding: 'utf8' }), /^modelship-acme\[bot\]\n[\s\S]*This reverts commit [0-9a-f]{40}\./);
  t.ok(http.requests.some((r) => r.path.includes('git-receive-pack')), 'pushed through smart HTTP');
  t.ok(http.requests.every((r) => r.authorized), 'every git request carried the installation token');

  // Where the token went: an HTTP header only.
  const argv = readFileSync(argvLog, 'utf8');
  t.match(argv, /^push --quiet --force --end-of-options http:\/\/127\.0\.0\.1:\d+\/origin\.git [0-9a-f]{40}:refs\/heads\/rollback\//m);
  t.notOk(argv.includes(token), 'the token is in no git command line');
  t.notOk(argv.includes(Buffer.from(`x-access-token:${token}`).toString('base64')), 'nor its header');
  const config = readFileSync(configLog, 'utf8');
  const cloneDir = config.split('\n')[0]!;
  t.match(config, /\[user\]\n\s+name = modelship-acme\[bot\]/, 'the push ran in the working clone');
  t.notOk(config.includes(token) || /extraheader|x-access-token/i.test(config), 'nor in the clone\'s .git/config');
  t.notOk(existsSync(cloneDir), 'the working clone is removed afterwards');
  t.equal(execFileSync('git', ['-C', mirror, 'for-each-ref'], { encoding: 'utf8' }), mirrorRefs, 'the mirror is left as it was');

  logs.length = 0;
  const again = await canaryDuty(ctx(after(20)));
  t.same(again, { nextInMs: 5 * minute });
  t.match(logs.join('\n'), /revert pull request #1 updated/);
  t.equal(gh.state.pulls().length, 1, 'one pull request');
  t.same(gh.requests.filter((r) => r.status >= 400).map((r) => `${r.operationId} ${r.status}`), [], 'every GitHub request was valid');
});

t.test('a healthy canary: a log line, nothing opened, nothing cloned or pushed', { skip }, async (t) => {
  const { gh, http, logs, gates, ctx } = await stage(t, 'pr');
  const r = await canaryDuty(ctx(after(7)));
  t.same(r, { nextInMs: 5 * minute });
  t.match(logs.join('\n'), /canary watch production: fraud-detector 2026\.11\.20-1 at 5%: healthy/);
  t.same(gates, ['canary-watch healthy']);
  t.equal(gh.state.pulls().length, 0);
  t.same(http.requests, []);
  t.notMatch(readFileSync(argvLog, 'utf8'), /^(init|push)/m, 'no working clone');
});

t.test('autoRollback: direct pushes the revert to main as the App; the next watch finds no canary', { skip }, async (t) => {
  const { repo, gh, logs, ctx } = await stage(t, 'direct');
  const before = repo.git('ls-remote', 'origin', 'refs/heads/main').split('\t')[0]!;
  await canaryDuty(ctx(after(15)));
  const main = repo.git('ls-remote', 'origin', 'refs/heads/main').split('\t')[0]!;
  t.not(main, before, 'main moved');
  t.equal(execFileSync('git', ['-C', repo.origin, 'rev-parse', `${main}^`], { encoding: 'utf8' }).trim(), before, 'a fast-forward on top of what the agent read');
  t.notMatch(execFileSync('git', ['-C', repo.origin, 'show', `${main}:environments/production.yaml`], { encoding: 'utf8' }), /canary:/);
  t.match(logs.join('\n'), new RegExp(`abort the canary of fraud-detector 2026\\.11\\.20-1, keep 2026\\.11\\.06-1: ${main.slice(0, 12)} pushed to main`));
  t.equal(gh.state.pulls().length, 0);
  t.equal(repo.git('ls-remote', 'origin', 'refs/heads/rollback/*'), '', 'no branch left behind');
});

t.test('autoRollback: off reports the breach and does nothing', { skip }, async (t) => {
  const { gh, http, logs, ctx } = await stage(t, 'off');
  await canaryDuty(ctx(after(15)));
  t.match(logs.join('\n'), /BREACHED[\s\S]*no action: the policy says autoRollback: off/);
  t.equal(gh.state.pulls().length, 0);
  t.same(http.requests, []);
});

t.test('the metric source is down: an alert, no rollback on missing data', { skip }, async (t) => {
  const { gh, http, logs, gates, ctx } = await stage(t, 'direct');
  const c = ctx(after(15));
  c.env = { MODELSHIP_PROMETHEUS_URL: 'http://127.0.0.1:9' };
  await canaryDuty(c);
  t.match(logs.join('\n'), /UNKNOWN \(metric source down\)[\s\S]*alert: error-rate: prometheus did not answer: .*; no rollback on missing data/);
  t.same(gates, ['canary-watch unknown']);
  t.equal(gh.state.pulls().length, 0);
  t.same(http.requests, []);
});

t.test('the push is refused (a wrong token): the failure is logged, nothing is opened, the watch comes again', { skip }, async (t) => {
  const { gh, http, logs, ctx } = await stage(t, 'pr');
  const c = ctx(after(15));
  c.github = { ...c.github, token: async () => 'ghs_not-the-installation-token' };
  const r = await canaryDuty(c);
  t.same(r, { nextInMs: 5 * minute });
  t.match(logs.join('\n'), /the rollback was not completed: git: push [0-9a-f]{12} to rollback\/production\/fraud-detector-2026\.11\.20-1: fatal: could not read Username for 'http:\/\/127\.0\.0\.1:\d+': terminal prompts disabled/);
  t.equal(gh.state.pulls().length, 0, 'no pull request for a branch that was not pushed');
  t.ok(http.requests.length > 0 && http.requests.every((r) => !r.authorized));
});

t.test('leadership lost during the watch: the breach is logged, the rollback left to the next leader', { skip }, async (t) => {
  const { gh, http, logs, ctx } = await stage(t, 'pr');
  const c = ctx(after(15));
  const lease = new AbortController();
  // The watch reads the clock once as it starts; the Lease is lost right then.
  c.now = () => (lease.abort(), new Date(after(15)));
  c.signal = lease.signal;
  await canaryDuty(c);
  t.match(logs.join('\n'), /BREACHED[\s\S]*the rollback was not completed: production: no longer the leader; the rollback is left to the next one$/);
  t.equal(gh.state.pulls().length, 0);
  t.same(http.requests, []);
  t.notMatch(readFileSync(argvLog, 'utf8'), /^init/m, 'no working clone');

  logs.length = 0;
  const stopped = await canaryDuty(c);
  t.same(stopped, { nextInMs: 60_000 }, 'not leading: nothing is read');
  t.same(logs, []);
});

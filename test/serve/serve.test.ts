// `modelship serve` end to end, in-process: GitHub's published webhook payloads
// (@octokit/webhooks-examples) pointed at a real promotion in a real git repository (a local
// bare origin the service mirrors), signed with the webhook secret and POSTed over HTTP; the
// service authenticates as a GitHub App (JWT, installation token) against the GitHub stand-in,
// which checks every request against GitHub's OpenAPI description and records it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { commentMarker } from '../../src/gates/report/render.js';
import { defaultMaxPayloadBytes, startService, type Service } from '../../src/serve/service.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { appKeys, deliver, example, inRepository, pullRequestEvent, reviewEvent, type PullAt, type Target } from '../helpers/webhooks.js';

const owner = 'acmerisk';
const name = 'model-releases';
const branch = 'promote/staging/fraud-detector-2026.11.20-1';
const secret = 'whsec-modelship-test';
const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const other = { id: 777, slug: 'other-ci', installationId: 9001 };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let s3: TestS3;
let repo: TestRepo;
let head: string;
let base: string;
const keys = appKeys();
const otherKeys = appKeys();
const savedEnv = { ...process.env };

t.before(async () => {
  s3 = await startCheckerS3({ seedArtifacts: false });
  repo = makeReleaseRepo();
  const registered = await runCli(['register', makeRun().dir, '-C', repo.root], { env: s3.env });
  if (registered.code !== 0) throw new Error(registered.stderr);
  const promoted = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '-C', repo.root], { env: s3.env });
  if (promoted.code !== 0) throw new Error(promoted.stderr);
  head = repo.git('rev-parse', branch).trim();
  base = repo.git('rev-parse', 'main').trim();
  // What GitHub keeps for pull request #1: its head under refs/pull/1/head.
  repo.git('push', '-q', 'origin', `${branch}:refs/pull/1/head`);
  // The service reads the registry and the dbt manifest (s3rver) as the check flow does.
  Object.assign(process.env, s3.env);
});
t.teardown(async () => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  await s3.stop();
  repo.cleanup();
});

interface Stage {
  gh: GitHubStandIn;
  service: Service;
  mirrorDir: string;
  target: Target;
  pull: PullAt;
  logs: string[];
  /** delivers an event to the service */
  send(event: string, payload: unknown, o?: { id?: string; signature?: string | null }): ReturnType<typeof deliver>;
  /** waits until the service has no work left */
  settle(): Promise<void>;
  /** `operationId status` of every request to the stand-in since the last call */
  calls(): string[];
  /** an Octokit acting as the other app's installation */
  otherApp(): Promise<Octokit>;
  ours: () => GitHubStandIn['state']['checkRuns'];
}

/** the approvals gate lists the members of fraud-detector's reviewer teams */
const teamCalls = ['teams/list-members-in-org 200', 'teams/list-members-in-org 200'];

async function stage(t: Test, o: { maxPayloadBytes?: number; concurrency?: number } = {}): Promise<Stage> {
  const gh = await startGitHub({
    owner, repo: name, token: 'ghp_ada', login: 'ada',
    // staging names no approver teams, so fraud-detector's reviewers (model.yaml) approve
    teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['grace'] },
    apps: [{ ...app, publicKey: keys.publicKey }, { ...other, publicKey: otherKeys.publicKey }],
  });
  gh.setBranch('main', base);
  const ada = new Octokit({ baseUrl: gh.url, auth: 'ghp_ada', log: quiet });
  const pr = await ada.rest.pulls.create({ owner, repo: name, head: branch, base: 'main', title: 'promote(staging): fraud-detector 2026.11.13-1 → 2026.11.20-1' });
  gh.setBranch(branch, head);
  gh.setCommit(head, { author: 'ada', committer: 'ada' });
  const mirrorDir = mkdtempSync(join(tmpdir(), 'modelship-mirrors-'));
  const logs: string[] = [];
  let seen = gh.requests.length;
  const service = await startService({
    appId: app.id, privateKey: keys.privateKey, webhookSecret: secret, apiUrl: gh.url, listen: '127.0.0.1:0', mirrorDir,
    concurrency: o.concurrency ?? 2, maxPayloadBytes: o.maxPayloadBytes ?? defaultMaxPayloadBytes, log: (l) => logs.push(l),
  });
  t.teardown(async () => {
    await service.stop(5000);
    await gh.stop();
    rmSync(mirrorDir, { recursive: true, force: true });
  });
  const target: Target = { owner, repo: name, cloneUrl: repo.origin, installationId: app.installationId };
  return {
    gh, service, mirrorDir, target, logs, pull: { number: pr.data.number, head, headRef: branch, base },
    send: (event, payload, d) => deliver(service.webhookUrl, event, payload, secret, d),
    settle: () => service.queue.idle(),
    calls: () => {
      const since = gh.requests.slice(seen).map((r) => `${r.operationId ?? `unmatched ${r.method} ${r.path}`} ${r.status}`);
      seen = gh.requests.length;
      return since;
    },
    otherApp: async () => {
      const { App } = await import('@octokit/app');
      const a = new App({ appId: other.id, privateKey: otherKeys.privateKey, Octokit: Octokit.defaults({ baseUrl: gh.url }) as any, log: quiet });
      return (await a.getInstallationOctokit(other.installationId)) as unknown as Octokit;
    },
    ours: () => gh.state.checkRuns.filter((c) => c.name === 'modelship' && c.appId === app.id),
  };
}

t.test('a promotion pull request: one check run and one comment as the App, updated on a review, never duplicated', async (t) => {
  const s = await stage(t);
  t.same(s.calls(), ['apps/get-authenticated 200'], 'the service authenticated as the App (JWT) at start');

  const opened = await s.send('pull_request', pullRequestEvent(s.target, s.pull, 'opened'));
  t.same([opened.status, opened.body.message], [202, `queued: #1 at ${head.slice(0, 12)} (pull_request.opened)`]);
  await s.settle();
  t.same(s.calls(), [
    'apps/create-installation-access-token 201',
    'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls, 'repos/get-commit 200',
    'checks/list-for-ref 200', 'checks/create 201',
    'issues/list-comments 200', 'issues/create-comment 201',
  ], 'an installation token, the pull request, its reviews and head commit, then one check run and one comment');
  const listing = s.gh.requests.find((r) => r.operationId === 'checks/list-for-ref')!;
  t.match(listing.query, { check_name: 'modelship', app_id: String(app.id) }, 'our check run is looked for by name and app id');
  t.match(listing.headers.authorization, /^token ghs_/, 'as the installation');

  t.equal(s.gh.state.checkRuns.length, 1);
  t.match(s.ours()[0], { headSha: head, status: 'completed', conclusion: 'failure', output: { title: /waiting for approval: 0 of 1 required approval/ } });
  t.equal(s.gh.state.comments.length, 1);
  const comment = s.gh.state.comments[0]!;
  t.match(comment, { user: `${app.slug}[bot]`, appId: app.id });
  t.ok(comment.body.startsWith(commentMarker));
  t.match(comment.body, /\| approvals \| ❌ fail \*\*\(blocking\)\*\* \| 0 of 1 required approval \|/);
  t.match(s.logs.join('\n'), /check run created on [0-9a-f]{12}: failure/);

  s.gh.addReview(s.pull.number, 'lena', 'APPROVED', { commitId: head });
  t.equal((await s.send('pull_request_review', reviewEvent(s.target, s.pull, 'lena'))).status, 202);
  await s.settle();
  t.same(s.calls(), [
    'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls, 'repos/get-commit 200',
    'checks/list-for-ref 200', 'checks/update 200',
    'issues/list-comments 200', 'issues/update-comment 200',
  ], 'the token is reused; the same check run and comment are updated');
  t.equal(s.gh.state.checkRuns.length, 1, 'still one check run');
  t.match(s.ours()[0], { conclusion: 'success', output: { title: 'every gate passes; ready to merge' } });
  t.equal(s.gh.state.comments.length, 1, 'still one comment');
  t.equal(s.gh.state.comments[0]!.id, comment.id);
  t.match(s.gh.state.comments[0]!.body, /\| approvals \| ✅ pass \| 1 of 1 required approval \(lena \(@&#8203;acmerisk\/fraud-ml-leads\)\) \|/);

  // The same head pushed again (a synchronize of the same commit): updated, not duplicated.
  t.equal((await s.send('pull_request', pullRequestEvent(s.target, s.pull, 'synchronize', 'ada'))).status, 202);
  await s.settle();
  t.equal(s.gh.state.checkRuns.length, 1);
  t.equal(s.gh.state.comments.length, 1);
});

t.test('deliveries without the right signature: 401 and nothing done', async (t) => {
  const s = await stage(t);
  s.calls();
  const payload = pullRequestEvent(s.target, s.pull, 'opened');
  const unsigned = await s.send('pull_request', payload, { signature: null });
  t.same([unsigned.status, unsigned.body.message], [401, 'X-Hub-Signature-256 is missing: deliveries must be signed with the webhook secret']);
  const forged = await deliver(s.service.webhookUrl, 'pull_request', payload, 'not-the-secret');
  t.same([forged.status, forged.body.message], [401, 'the X-Hub-Signature-256 signature does not match the payload and the webhook secret']);
  const malformed = await s.send('pull_request', payload, { signature: 'sha256=zz' });
  t.equal(malformed.status, 401);
  // A correct signature of another body does not sign this one.
  const { sign } = await import('../helpers/webhooks.js');
  const replayedSignature = await s.send('pull_request', payload, { signature: sign(secret, '{}') });
  t.equal(replayedSignature.status, 401);
  await s.settle();
  t.same(s.calls(), [], 'GitHub was not called');
  t.same(s.service.queue.stats.queued, 0, 'nothing queued');
  t.same(s.service.stats, { accepted: 0, duplicates: 0, unauthorized: 4, tooLarge: 0, ignored: 0 });
  // A refused delivery's id is not remembered: the genuine delivery with that id still counts.
  const genuine = await s.send('pull_request', payload, { id: unsigned.id });
  t.equal(genuine.status, 202);
  await s.settle();
  t.equal(s.gh.state.checkRuns.length, 1);
});

t.test('a replayed delivery id is not evaluated again', async (t) => {
  const s = await stage(t);
  const payload = pullRequestEvent(s.target, s.pull, 'opened');
  const first = await s.send('pull_request', payload);
  await s.settle();
  const again = await s.send('pull_request', payload, { id: first.id });
  t.same([again.status, again.body.message], [200, `delivery ${first.id} was already received; not evaluated again`]);
  await s.settle();
  t.equal(s.gh.requests.filter((r) => r.operationId === 'pulls/get').length, 1, 'one evaluation');
  t.equal(s.service.queue.stats.started, 1);
});

t.test('a "modelship" check run of another app is ignored: ours is created beside it, and neither app may update the other\'s', async (t) => {
  const s = await stage(t);
  const theirs = await s.otherApp();
  const fake = await theirs.rest.checks.create({ owner, repo: name, name: 'modelship', head_sha: head, status: 'completed', conclusion: 'success', output: { title: 'all good', summary: 'trust me' } });
  t.equal(fake.data.app?.id, other.id, 'the stand-in says which app made it');
  await s.send('pull_request', pullRequestEvent(s.target, s.pull, 'opened'));
  await s.settle();
  const runs = s.gh.state.checkRuns.filter((c) => c.headSha === head);
  t.equal(runs.length, 2);
  t.match(runs.find((c) => c.appId === other.id), { id: fake.data.id, conclusion: 'success', output: { title: 'all good' } }, 'theirs untouched');
  t.match(s.ours(), [{ conclusion: 'failure' }], 'ours stands, failing until approved');

  // GitHub's rule, in the stand-in: only the app that created a run may update it.
  const refused = await theirs.rest.checks.update({ owner, repo: name, check_run_id: s.ours()[0]!.id, conclusion: 'success' }).catch((e) => e);
  t.match(refused, { status: 403, message: new RegExp(`^Invalid app_id \`${app.id}\` - check run can only be modified by the GitHub App that created it\\.`) });
  const { App } = await import('@octokit/app');
  const ourApp = new App({ appId: app.id, privateKey: keys.privateKey, Octokit: Octokit.defaults({ baseUrl: s.gh.url }) as any, log: quiet });
  const us = (await ourApp.getInstallationOctokit(app.installationId)) as unknown as Octokit;
  const refused2 = await us.rest.checks.update({ owner, repo: name, check_run_id: fake.data.id, conclusion: 'failure' }).catch((e) => e);
  t.match(refused2, { status: 403, message: new RegExp(`^Invalid app_id \`${other.id}\` - check run can only be modified by the GitHub App that created it\\.`) });
  t.match(s.ours(), [{ conclusion: 'failure' }]);
});

t.test('a comment carrying the marker by another user is not ours: it is left alone and ours is posted', async (t) => {
  const s = await stage(t);
  const mallory = new Octokit({ baseUrl: s.gh.url, auth: 'ghp_ada', log: quiet });
  const planted = await mallory.rest.issues.createComment({ owner, repo: name, issue_number: s.pull.number, body: `${commentMarker}\n### ✅ modelship: every gate passes; ready to merge` });
  await s.send('pull_request', pullRequestEvent(s.target, s.pull, 'opened'));
  await s.settle();
  t.equal(s.gh.state.comments.length, 2);
  t.match(s.gh.state.comments.find((c) => c.id === planted.data.id), { user: 'ada', body: /ready to merge/ }, 'not edited');
  t.match(s.gh.state.comments.find((c) => c.id !== planted.data.id), { user: `${app.slug}[bot]`, body: /waiting for approval/ });
  // and the next evaluation edits ours, not theirs
  await s.send('pull_request', pullRequestEvent(s.target, s.pull, 'reopened'));
  await s.settle();
  t.equal(s.gh.state.comments.length, 2);
  t.match(s.gh.requests.filter((r) => r.operationId === 'issues/update-comment').map((r) => r.path), [new RegExp(`/issues/comments/(?!${planted.data.id}$)\\d+$`)]);
});

t.test('a pull request changing .github/workflows/ and src/ is read from the mirror as git objects: nothing is checked out or run', async (t) => {
  const s = await stage(t);
  // A commit on the promotion branch that would do harm if anything ran it.
  const marker = join(tmpdir(), `modelship-pwned-${process.pid}-${Date.now()}`);
  const work = mkdtempSync(join(tmpdir(), 'modelship-attack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  git('clone', '-q', repo.origin, '.');
  git('fetch', '-q', 'origin', 'refs/pull/1/head');
  git('checkout', '-q', 'FETCH_HEAD');
  git('config', 'user.name', 'Mallory');
  git('config', 'user.email', 'mallory@example.com');
  execFileSync('mkdir', ['-p', join(work, '.github/workflows'), join(work, 'src')]);
  writeFileSync(join(work, '.github/workflows/check.yml'), `on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: touch ${marker}\n`);
  writeFileSync(join(work, 'src/cli.ts'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\n`);
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'x', scripts: { postinstall: `touch ${marker}`, prepare: `touch ${marker}` } }));
  git('add', '-A');
  git('commit', '-q', '-m', 'ci: faster checks');
  const attack = git('rev-parse', 'HEAD').trim();
  git('push', '-q', 'origin', `HEAD:refs/pull/${s.pull.number}/head`);
  t.teardown(() => repo.git('push', '-q', '-f', 'origin', `${head}:refs/pull/1/head`));
  s.gh.setBranch(branch, attack);
  s.gh.setCommit(attack, { author: 'mallory', committer: 'mallory' });

  const pull = { ...s.pull, head: attack };
  await s.send('pull_request', pullRequestEvent(s.target, pull, 'synchronize', 'mallory'));
  await s.settle();
  const [run] = s.ours();
  t.match(run, { headSha: attack, status: 'completed' }, 'the check ran on the attacking head and posted');
  t.equal(s.gh.state.comments.length, 1, 'the report is posted');
  const mirror = join(s.mirrorDir, owner, `${name}.git`);
  const inMirror = (...args: string[]) => execFileSync('git', args, { cwd: mirror, encoding: 'utf8' }).trim();
  t.equal(inMirror('rev-parse', '--is-bare-repository'), 'true', 'the mirror is bare: no working tree');
  t.equal(inMirror('rev-parse', `refs/pull/${s.pull.number}/head`), attack, 'the head was fetched as git objects');
  t.equal(inMirror('rev-parse', 'refs/heads/main'), base, 'and the release branch, whose policies judge');
  t.notOk(readdirSync(mirror).some((f) => ['.github', 'src', 'package.json', 'node_modules', 'environments'].includes(f)), 'no file of the pull request is on disk');
  t.notOk(existsSync(marker), 'nothing from the pull request ran');

  // A review of that head later: the pusher seen on synchronize still counts, and GitHub is asked for the commit's author and committer.
  s.calls();
  await s.send('pull_request_review', reviewEvent(s.target, pull, 'lena'));
  await s.settle();
  t.match(s.logs.filter((l) => /judged by/.test(l)).at(-1), /judged by main's policies; last pushed by mallory$/);
  t.ok(s.calls().includes('repos/get-commit 200'));
});

t.test('a merge group that cannot be judged gets a failing check run saying why', async (t) => {
  const s = await stage(t);
  // A group holding another, unapproved change ahead of ours: main + that change + #1.
  const work = mkdtempSync(join(tmpdir(), 'modelship-queue-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  git('clone', '-q', repo.origin, '.');
  git('config', 'user.name', 'Queue');
  git('config', 'user.email', 'queue@example.com');
  const queueRef = `gh-readonly-queue/main/pr-${s.pull.number}-${base}`;
  git('checkout', '-q', '-b', queueRef);
  writeFileSync(join(work, 'policies/production.yaml'), `${execFileSync('git', ['show', 'HEAD:policies/production.yaml'], { cwd: work, encoding: 'utf8' })}# loosened by #99\n`);
  git('commit', '-q', '-am', 'Merge pull request #99');
  git('fetch', '-q', 'origin', `refs/pull/${s.pull.number}/head`);
  git('merge', '-q', '--no-ff', '-m', `Merge pull request #${s.pull.number}`, 'FETCH_HEAD');
  const group = git('rev-parse', 'HEAD').trim();
  git('push', '-q', 'origin', `HEAD:refs/heads/${queueRef}`);
  s.gh.addReview(s.pull.number, 'lena', 'APPROVED', { commitId: head });

  const p = inRepository(example('merge_group', 'checks_requested'), s.target);
  Object.assign(p.merge_group, { head_sha: group, head_ref: `refs/heads/${queueRef}`, base_sha: base, base_ref: 'refs/heads/main' });
  p.merge_group.head_commit.id = group;
  t.equal((await s.send('merge_group', p)).status, 202);
  await s.settle();
  const runs = s.ours().filter((c) => c.headSha === group);
  t.match(runs, [{ status: 'completed', conclusion: 'failure', output: { title: 'modelship could not judge this change' } }]);
  t.match(runs[0]!.output.summary, new RegExp(`the merge group ${group.slice(0, 12)} holds more than pull request #1: .*"Maximum pull requests to merge" to 1`));
  t.equal(s.gh.state.comments.length, 0, 'no comment for a merge group');
});

t.test('which deliveries start an evaluation', async (t) => {
  const s = await stage(t);
  const closed = pullRequestEvent(s.target, s.pull, 'opened');
  closed.action = 'closed';
  t.same((await s.send('pull_request', closed)).body, { message: 'ignored: pull_request.closed' });
  const retitled = pullRequestEvent(s.target, s.pull, 'edited');
  retitled.changes = { title: { from: 'old' } };
  t.same((await s.send('pull_request', retitled)).body, { message: 'ignored: pull_request.edited' }, 'an edit that keeps the base');
  const push = inRepository(example('push'), s.target);
  t.same((await s.send('push', push)).body, { message: 'ignored: push' });
  const rerun = inRepository(example('check_run', 'rerequested'), s.target);
  rerun.check_run.app.id = other.id;
  t.same((await s.send('check_run', rerun)).body, { message: "ignored: check_run.rerequested of another app's check run" });
  t.equal(s.service.queue.stats.queued, 0);

  const rebased = pullRequestEvent(s.target, s.pull, 'edited');
  rebased.changes = { base: { ref: { from: 'release-lax' }, sha: { from: base } } };
  t.equal((await s.send('pull_request', rebased)).status, 202, 'an edit that moved the base is evaluated');
  rerun.check_run.app.id = app.id;
  Object.assign(rerun.check_run, { head_sha: head, name: 'modelship' });
  rerun.check_run.pull_requests = [{ number: s.pull.number, id: 1, url: '', head: { ref: branch, sha: head, repo: rerun.repository }, base: { ref: 'main', sha: base, repo: rerun.repository } }];
  t.equal((await s.send('check_run', rerun)).status, 202, 'the re-run button on our check run');
  await s.settle();
  t.equal(s.ours().length, 1, 'one check run for both');
});

t.test('payload cap, probes and shutdown', async (t) => {
  const s = await stage(t, { maxPayloadBytes: 4096 });
  const big = pullRequestEvent(s.target, s.pull, 'opened');
  big.pull_request.body = 'x'.repeat(5000);
  const refused = await s.send('pull_request', big);
  t.same([refused.status, refused.body.message], [413, 'the payload is larger than 4096 bytes (--max-payload)']);
  t.equal(s.service.queue.stats.queued, 0);
  t.equal((await fetch(`${s.service.url}/healthz`)).status, 200);
  t.equal((await fetch(`${s.service.url}/readyz`)).status, 200);
  t.equal((await fetch(s.service.webhookUrl)).status, 405);
  t.same(await s.service.stop(1000), { dropped: 0, abandoned: [] });
  await t.rejects(fetch(`${s.service.url}/healthz`), 'no longer listening');
});

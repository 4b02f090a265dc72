// `modelship check --github` end to end, as GitHub Actions runs it: the event payloads are
// GitHub's published examples (@octokit/webhooks-examples) pointed at a real promotion in a real
// git repository; artifacts and the dbt manifest are in s3rver; the pull request, its reviews,
// check runs and comments are in the GitHub stand-in, which checks every request against
// GitHub's OpenAPI description and records it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { commentMarker } from '../../src/gates/report/render.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { projectRoot, runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';

const owner = 'acmerisk';
const name = 'model-releases';
const token = 'ghs_checker';
const branch = 'promote/staging/fraud-detector-2026.11.20-1';

const definitions = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8')) as WebhookDefinition[];

/** A deep copy of GitHub's published example of this event (and action). */
function example<N extends WebhookDefinition['name']>(event: N, action?: string): WebhookDefinition<N>['examples'][number] {
  const found = definitions.find((d) => d.name === event)?.examples.find((e) => !action || (e as { action?: string }).action === action);
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${event} ${action ?? ''} example`);
  return structuredClone(found) as WebhookDefinition<N>['examples'][number];
}

let s3: TestS3;
t.before(async () => {
  // The staging policy's features gate reads the production dbt manifest from there.
  s3 = await startCheckerS3({ seedArtifacts: false });
});
t.teardown(() => s3.stop());

interface Stage {
  repo: TestRepo;
  gh: GitHubStandIn;
  pull: number;
  /** the promotion commit (the pull request's head) and main's tip (its base) */
  head: string;
  base: string;
  /** runs `modelship check --github` on this event; `env` overrides the workflow's environment */
  check(event: string, payload: unknown, env?: Record<string, string | undefined>): ReturnType<typeof runCli>;
  /** `operationId status` of every request the checker sent since the last call */
  calls(): string[];
}

/**
 * What an ML engineer leaves behind: fraud-detector@2026.11.20-1 registered, promoted to staging
 * on a branch, and a pull request open for it on GitHub whose head is the real promotion commit.
 */
// The repositories may be copies of the first one made (makeReleaseRepo's reuse): these checks are
// of staging promotions made during the test, and none reads when the repository's first commit was made.
async function stage(t: Test, options: { approverTeams?: string[]; teams?: Record<string, string[]> } = {}): Promise<Stage> {
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  if (options.approverTeams) {
    // A staging policy on main that wants its approval from named teams.
    const policy = join(repo.root, 'policies/staging.yaml');
    writeFileSync(policy, readFileSync(policy, 'utf8').replace('  count: 1\n', `  count: 1\n  teams: ${JSON.stringify(options.approverTeams)}\n`));
    repo.git('commit', '-q', '-am', 'staging approvals come from named teams');
  }
  const registered = await runCli(['register', makeRun().dir, '-C', repo.root], { env: s3.env });
  t.equal(registered.code, 0, registered.stderr);
  const promoted = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '-C', repo.root], { env: s3.env });
  t.equal(promoted.code, 0, promoted.stderr);
  const head = repo.git('rev-parse', branch).trim();
  const base = repo.git('rev-parse', 'main').trim();

  // Staging names no approver teams, so (policy.schema.json) the model's reviewers approve: fraud-detector's are these two teams.
  const gh = await startGitHub({ owner, repo: name, token, teams: options.teams ?? reviewerTeams });
  t.teardown(() => gh.stop());
  gh.setBranch('main', base);
  const octokit = new Octokit({ baseUrl: gh.url, auth: token, log: { debug() {}, info() {}, warn() {}, error() {} } });
  const pr = await octokit.rest.pulls.create({ owner, repo: name, head: branch, base: 'main', title: 'promote(staging): fraud-detector 2026.11.13-1 → 2026.11.20-1' });
  gh.setBranch(branch, head);

  const events = mkdtempSync(join(tmpdir(), 'modelship-event-'));
  t.teardown(() => rmSync(events, { recursive: true, force: true }));
  let seen = gh.requests.length;
  let n = 0;
  return {
    repo, gh, pull: pr.data.number, head, base,
    check: (event, payload, env = {}) => {
      const path = join(events, `${++n}-${event}.json`);
      writeFileSync(path, JSON.stringify(payload));
      return runCli(['check', '--github', '-C', repo.root], {
        env: { ...s3.env, GITHUB_TOKEN: token, GITHUB_API_URL: gh.url, GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: path, ...env },
      });
    },
    calls: () => {
      const since = gh.requests.slice(seen).map((r) => `${r.operationId ?? `unmatched ${r.method} ${r.path}`} ${r.status}`);
      seen = gh.requests.length;
      return since;
    },
  };
}

/** Points an example payload's repository at the stand-in's. */
function inRepository<P extends { repository?: unknown }>(payload: P): P {
  const r = payload.repository as { full_name: string; name: string; owner: { login: string } };
  Object.assign(r, { full_name: `${owner}/${name}`, name });
  r.owner.login = owner;
  return payload;
}

/** Points an example pull request at the staged one: its number, branch and real commits. */
function atPull(pr: { number: number; head: { sha: string; ref: string }; base: { sha: string; ref: string } }, s: Stage): void {
  pr.number = s.pull;
  Object.assign(pr.head, { sha: s.head, ref: branch });
  Object.assign(pr.base, { sha: s.base, ref: 'main' });
}

function pullRequestEvent(s: Stage, action: 'opened' | 'synchronize') {
  const p = inRepository(example('pull_request', action));
  p.number = s.pull;
  atPull(p.pull_request, s);
  if ('after' in p) p.after = s.head;
  return p;
}

function reviewSubmittedEvent(s: Stage, reviewer: string) {
  const p = inRepository(example('pull_request_review', 'submitted'));
  atPull(p.pull_request, s);
  Object.assign(p.review, { state: 'approved', commit_id: s.head });
  p.review.user.login = reviewer;
  return p;
}

/** The members of fraud-detector's reviewer teams (models/fraud-detector/model.yaml reviewers). */
const reviewerTeams = { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['grace'] };
const teamCalls = ['teams/list-members-in-org 200', 'teams/list-members-in-org 200'];

const checkerRun = (s: Stage, sha: string) => s.gh.state.checkRuns.filter((c) => c.name === 'modelship' && c.headSha === sha);

t.test('a new promotion pull request: waiting for one approval, one failing check run and one report comment', async (t) => {
  const s = await stage(t);
  const r = await s.check('pull_request', pullRequestEvent(s, 'opened'));
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^WAITING-FOR-APPROVAL: every gate passes; waiting for approval: 0 of 1 required approval$/m);
  t.match(r.stderr, new RegExp(`check run created on ${s.head.slice(0, 12)}: failure`));
  t.match(r.stderr, /report comment posted on #1/);

  t.equal(s.gh.state.checkRuns.length, 1, 'one check run');
  const [run] = checkerRun(s, s.head);
  t.match(run, { name: 'modelship', status: 'completed', conclusion: 'failure' }, 'named modelship, on the head commit, failing');
  t.match(run!.output.title, /^every gate passes; waiting for approval/);
  t.match(run!.output.summary, /\| \*\*staging\*\* · promote<br>fraud-detector 2026\.11\.13-1 → 2026\.11\.20-1 \| schema \| ✅ pass/);

  t.equal(s.gh.state.comments.length, 1, 'one comment');
  const body = s.gh.state.comments[0]!.body;
  t.ok(body.startsWith(commentMarker), 'it carries the hidden marker that finds it again');
  t.match(body, /### ⏳ modelship: every gate passes; waiting for approval/);
  t.match(body, /\| change \| gate \| result \| \|/);
  for (const gate of ['schema', 'features', 'integrity', 'performance', 'drift']) t.match(body, new RegExp(`\\| ${gate} \\| ✅ pass \\|`), `${gate} passes`);
  t.match(body, /\| approvals \| ❌ fail \*\*\(blocking\)\*\* \| 0 of 1 required approval \|/, 'staging wants one approval');

  t.same(s.calls(), [
    'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls,
    'checks/list-for-ref 200', 'checks/create 201',
    'issues/list-comments 200', 'issues/create-comment 201',
  ], 'read the pull request, its reviews and the reviewer teams, then posted; every request matched its OpenAPI operation');
});

t.test('an approval re-runs the checker: the same check run turns green and the same comment is edited', async (t) => {
  const s = await stage(t);
  t.equal((await s.check('pull_request', pullRequestEvent(s, 'opened'))).code, 1);
  const comment = s.gh.state.comments[0]!;
  const waiting = comment.body;
  s.calls();

  // Staging names no teams: fraud-detector's reviewers qualify (lena is in @acmerisk/fraud-ml-leads).
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  const r = await s.check('pull_request_review', reviewSubmittedEvent(s, 'lena'));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^READY: every gate passes; ready to merge/);
  t.match(r.stderr, /check run updated on .*: success/);
  t.match(r.stderr, /report comment updated on #1/);

  t.equal(s.gh.state.checkRuns.length, 1, 'still one check run');
  t.match(checkerRun(s, s.head)[0], { status: 'completed', conclusion: 'success', output: { title: 'every gate passes; ready to merge' } });
  t.equal(s.gh.state.comments.length, 1, 'still one comment');
  t.equal(s.gh.state.comments[0]!.id, comment.id, 'edited in place');
  const passing = s.gh.state.comments[0]!.body;
  t.not(passing, waiting);
  t.match(passing, /### ✅ modelship: every gate passes; ready to merge/);
  t.match(passing, /\| approvals \| ✅ pass \| 1 of 1 required approval \(lena \(@&#8203;acmerisk\/fraud-ml-leads\)\) \|/);
  t.same(s.calls(), [
    'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls,
    'checks/list-for-ref 200', 'checks/update 200',
    'issues/list-comments 200', 'issues/update-comment 200',
  ]);
});

t.test('a push to the branch is checked on its new head: a check run there, the one comment edited again', async (t) => {
  const s = await stage(t);
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  t.equal((await s.check('pull_request', pullRequestEvent(s, 'opened'))).code, 0);

  s.repo.git('checkout', '-q', branch);
  const file = join(s.repo.root, 'environments/staging.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('replicas: { min: 1, max: 3 }', 'replicas: { min: 1, max: 4 }'));
  s.repo.git('commit', '-q', '-am', 'staging: one more replica for the candidate');
  const first = s.head;
  s.head = s.repo.git('rev-parse', 'HEAD').trim();
  s.gh.setBranch(branch, s.head);

  const r = await s.check('pull_request', pullRequestEvent(s, 'synchronize'));
  t.equal(r.code, 1, `stale approvals are dismissed by default (policy.schema.json): ${r.stderr}`);
  t.match(r.stdout, new RegExp(`^WAITING-FOR-APPROVAL: every gate passes; waiting for approval: 0 of 1 required approval; not counted: lena \\(approved an earlier commit ${first.slice(0, 7)}\\)$`, 'm'));
  t.equal(checkerRun(s, first).length, 1, 'the first commit keeps its check run');
  t.match(checkerRun(s, s.head), [{ conclusion: 'failure' }], 'the new head has its own');
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  const again = await s.check('pull_request_review', reviewSubmittedEvent(s, 'lena'));
  t.equal(again.code, 0, again.stderr);
  t.match(checkerRun(s, s.head), [{ conclusion: 'success' }], 'approving the new head counts');
  t.equal(s.gh.state.comments.length, 1, 'one comment for the pull request');
  t.match(s.gh.state.comments[0]!.body, new RegExp(`head \`${s.head.slice(0, 12)}\``), 'now about the new head');
});

t.test('approvers from named teams: a token that cannot read the teams gets an error in the report, not a crash', async (t) => {
  const s = await stage(t, { approverTeams: ['@acmerisk/fraud-ml-leads'], teams: { '@acmerisk/fraud-ml-leads': ['lena'] } });
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });

  // The workflow's own GITHUB_TOKEN cannot be given the organisation's members:read.
  s.gh.fail = (req) => (req.operationId === 'teams/list-members-in-org' ? 403 : undefined);
  const blind = await s.check('pull_request', pullRequestEvent(s, 'opened'));
  t.equal(blind.code, 1, blind.stderr);
  t.match(blind.stdout, /error +approvals +0 of 1 required approval; not counted: lena \(not in @acmerisk\/fraud-ml-leads\); members of @acmerisk\/fraud-ml-leads unknown/);
  t.match(blind.stdout, /· the members of @acmerisk\/fraud-ml-leads are unknown; nobody qualified through it/);
  t.match(checkerRun(s, s.head), [{ conclusion: 'failure' }], 'the report is posted all the same');
  t.equal(s.gh.state.comments.length, 1);
  t.same(s.calls().slice(0, 3), ['pulls/get 200', 'pulls/list-reviews 200', 'teams/list-members-in-org 403'], 'a 403 is not retried');

  // With a token that may read them (a GitHub App's, with members: read).
  s.gh.fail = undefined;
  const r = await s.check('pull_request', pullRequestEvent(s, 'opened'));
  t.equal(r.code, 0, r.stderr);
  t.match(s.gh.state.comments[0]!.body, /\| approvals \| ✅ pass \| 1 of 1 required approval \(lena \(@&#8203;acmerisk\/fraud-ml-leads\)\) \|/);
  t.same(s.calls().slice(0, 3), ['pulls/get 200', 'pulls/list-reviews 200', 'teams/list-members-in-org 200']);
});

t.test('the merge queue: the gates run again on the merge commit, a check run lands there, no comment', async (t) => {
  const s = await stage(t);
  t.equal((await s.check('pull_request', pullRequestEvent(s, 'opened'))).code, 1);
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  const comment = structuredClone(s.gh.state.comments[0]!);
  s.calls();

  // What GitHub's merge queue builds: main merged with the pull request on a temporary branch.
  const { merge, p } = mergeGroup(s, []);

  const r = await s.check('merge_group', p);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`head ${merge.slice(0, 12)}`), 'the merge commit was checked');
  t.match(r.stdout, /approvals +1 of 1 required approval \(lena \(@acmerisk\/fraud-ml-leads\)\)/, "the queued pull request's approvals count");
  t.match(checkerRun(s, merge), [{ status: 'completed', conclusion: 'success' }], 'the check run is on the merge commit');
  t.equal(checkerRun(s, s.head).length, 1, "the pull request's own check run stays");
  t.same(s.gh.state.comments, [comment], 'the comment is untouched');
  t.same(s.calls(), ['pulls/get 200', 'pulls/list-reviews 200', ...teamCalls, 'checks/list-for-ref 200', 'checks/create 201'], 'no comment call at all');
});

t.test('a merge group of several pull requests is refused: the event names only the last, whose approvals cannot judge the others', async (t) => {
  const s = await stage(t);
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  // Another pull request, queued ahead of ours, that nobody approved: it loosens production's policy.
  const other = 'loosen-production';
  s.repo.git('checkout', '-q', '-b', other, 'main');
  const policy = join(s.repo.root, 'policies/production.yaml');
  writeFileSync(policy, `${readFileSync(policy, 'utf8')}# one approval is plenty\n`);
  s.repo.git('commit', '-q', '-am', 'production: a note');

  // What GitHub's merge queue builds for a group: main, then each pull request in queue order.
  const { merge, p } = mergeGroup(s, [[99, other]]);

  const r = await s.check('merge_group', p);
  t.equal(r.code, 2, r.stdout + r.stderr);
  t.match(r.stderr, new RegExp(`error: the merge group ${merge.slice(0, 12)} holds more than pull request #${s.pull}: .*set the merge queue's "Build concurrency" and "Maximum pull requests to merge" to 1`));
  t.match(checkerRun(s, merge), [{ status: 'completed', conclusion: 'failure', output: { title: 'modelship could not judge this change', summary: new RegExp(`^\`\`\`\nthe merge group ${merge.slice(0, 12)} holds more than pull request #${s.pull}`) } }],
    'a failing check run on the group says why (nothing posted would leave a required check pending)');
  t.match(r.stderr, new RegExp(`check run created on ${merge.slice(0, 12)}: failure \\(not judged\\)`));
});

t.test('GitHub answering 500 once: the call is retried and the run completes', async (t) => {
  const s = await stage(t);
  s.gh.addReview(s.pull, 'lena', 'APPROVED', { commitId: s.head });
  let outages = 1;
  s.gh.fail = () => (outages-- > 0 ? 500 : undefined);
  const r = await s.check('pull_request', pullRequestEvent(s, 'opened'));
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /error/);
  t.same(s.calls(), [
    'pulls/get 500', 'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls,
    'checks/list-for-ref 200', 'checks/create 201',
    'issues/list-comments 200', 'issues/create-comment 201',
  ]);
  t.equal(s.gh.state.checkRuns.length, 1);
  t.equal(s.gh.state.comments.length, 1);
});

t.test('GitHub answering 500 for good: exit 3 with what failed and a hint, the report in the log, no comment', async (t) => {
  const s = await stage(t);
  s.gh.fail = (req) => (req.operationId === 'checks/create' ? 500 : undefined);
  const r = await s.check('pull_request', pullRequestEvent(s, 'opened'));
  t.equal(r.code, 3);
  t.match(r.stderr, /error: github: create the check run: HTTP 500: Server Error/);
  t.match(r.stderr, /hint: GitHub did not answer after 3 attempts; re-run the job/);
  t.notMatch(r.stderr + r.stdout, new RegExp(token), 'the token is never printed');
  t.match(r.stdout, /^WAITING-FOR-APPROVAL: /, 'the job log still has the report');
  t.same(s.calls(), [
    'pulls/get 200', 'pulls/list-reviews 200', ...teamCalls,
    'checks/list-for-ref 200', 'checks/create 500', 'checks/create 500', 'checks/create 500',
  ], 'three attempts, then nothing else');
  t.same(s.gh.state.checkRuns, []);
  t.same(s.gh.state.comments, [], 'no comment without its check run');
});

t.test('events the checker does not answer, and a missing token, are usage errors (exit 2) before any call', async (t) => {
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  const gh = await startGitHub({ owner, repo: name, token });
  t.teardown(() => gh.stop());
  const dir = mkdtempSync(join(tmpdir(), 'modelship-event-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (event: string, payload: unknown, env: Record<string, string | undefined> = {}) => {
    writeFileSync(join(dir, `${event}.json`), JSON.stringify(payload));
    return runCli(['check', '--github', '-C', repo.root], {
      env: { GITHUB_TOKEN: token, GITHUB_API_URL: gh.url, GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: join(dir, `${event}.json`), ...env },
    });
  };

  for (const [event, payload] of [['push', inRepository(example('push'))], ['issues', inRepository(example('issues', 'opened'))]] as const) {
    const r = await run(event, payload);
    t.equal(r.code, 2, event);
    t.match(r.stderr, new RegExp(`error: modelship check --github runs on pull_request, pull_request_target, pull_request_review, merge_group events; this workflow ran on "${event}"`));
  }

  const main = repo.git('rev-parse', 'main').trim();
  const opened = inRepository(example('pull_request', 'opened'));
  Object.assign(opened.pull_request.head, { sha: main, ref: 'main' });
  Object.assign(opened.pull_request.base, { sha: main, ref: 'main' });
  const r = await run('pull_request', opened, { GITHUB_TOKEN: undefined });
  t.equal(r.code, 2);
  t.match(r.stderr, /error: --github needs GITHUB_TOKEN/);
  t.same(gh.requests, [], 'GitHub was never called');
});

/**
 * The merge commit GitHub's merge queue builds on its temporary branch (main, then the pull
 * requests queued ahead, `[number, branch]`, then ours) and the merge_group event announcing it.
 */
function mergeGroup(s: Awaited<ReturnType<typeof stage>>, ahead: Array<[number, string]>) {
  const queueRef = `gh-readonly-queue/main/pr-${s.pull}-${s.base}`;
  s.repo.git('checkout', '-q', '-b', queueRef, 'main');
  for (const [n, b] of ahead) s.repo.git('merge', '-q', '--no-ff', '-m', `Merge pull request #${n} from ${owner}/${b}`, b);
  s.repo.git('merge', '-q', '--no-ff', '-m', `Merge pull request #${s.pull} from ${owner}/${branch}`, branch);
  const merge = s.repo.git('rev-parse', 'HEAD').trim();
  const p = inRepository(example('merge_group', 'checks_requested'));
  Object.assign(p.merge_group, { head_sha: merge, head_ref: `refs/heads/${queueRef}`, base_sha: s.base, base_ref: 'refs/heads/main' });
  p.merge_group.head_commit.id = merge;
  return { merge, p };
}

// The change evidence from GitHub (audit mirror --github): the real Octokit against the GitHub
// stand-in, which validates every request against GitHub's OpenAPI description. Author,
// approvals standing at merge (a later approval replaces a change request; a comment is not an
// approval), and the checker's check run as the gate report digest.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { changeFromGitHub } from '../../src/audit/github.js';
import type { CommitInfo } from '../../src/adapters/git/audit.js';
import { listReviews, octokit } from '../../src/adapters/github/client.js';
import { approvalsGate, type ReviewerVerdict } from '../../src/gates/approvals.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';

/** The GitHub stand-in with ada's pull request promoting fraud-detector@2026.11.13-1 opened at 08:00; `later(ms)` moves its clock on. */
async function promotionPull(t: Test) {
  let clock = Date.parse('2026-11-18T08:00:00Z');
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'release', login: 'ada', token: 't0ken', now: () => new Date(clock) });
  t.teardown(() => gh.stop());
  const client = octokit({ token: 't0ken', baseUrl: gh.url });
  const repo = { owner: 'acmerisk', repo: 'release' };
  const head = 'a'.repeat(40);
  gh.setBranch('promote/production/fraud-detector-2026.11.13-1', head);
  const pr = (await client.rest.pulls.create({ ...repo, head: 'promote/production/fraud-detector-2026.11.13-1', base: 'main', title: 'Promote fraud-detector@2026.11.13-1 to production' })).data;
  return { gh, client, repo, head, pr, later: (ms: number) => void (clock += ms) };
}

t.test('who asked, who approved, what was tested: from the pull request, its reviews and the check run', async (t) => {
  const { gh, client, repo, head, pr, later } = await promotionPull(t);
  const summary = '### ✅ modelship: ready to merge\n\nevery gate passed';
  const run = (await client.rest.checks.create({ ...repo, name: 'modelship', head_sha: head, status: 'completed', conclusion: 'success', output: { title: 'ready to merge', summary } })).data;
  later(3600_000);
  gh.addReview(pr.number, 'linus', 'CHANGES_REQUESTED');
  gh.addReview(pr.number, 'ada', 'COMMENTED');
  later(600_000);
  gh.addReview(pr.number, 'grace', 'APPROVED');
  later(600_000);
  gh.addReview(pr.number, 'linus', 'APPROVED');
  later(600_000);
  const mergeCommit = (await client.rest.pulls.merge({ ...repo, pull_number: pr.number })).data.sha;
  later(600_000);
  gh.addReview(pr.number, 'omar', 'APPROVED'); // after the merge: not part of the decision

  const info: CommitInfo = {
    commit: mergeCommit, tree: 'c'.repeat(40), parents: ['d'.repeat(40), head], author: 'GitHub <noreply@github.com>', committer: 'GitHub <noreply@github.com>',
    committedAt: '2026-11-18T09:50:00Z', subject: `Merge pull request #${pr.number} from acmerisk/promote/production/fraud-detector-2026.11.13-1`, body: 'Promote fraud-detector@2026.11.13-1 to production', trailers: {},
  };
  const { change, report } = await changeFromGitHub(client, repo, info, undefined);
  t.match(change, {
    kind: 'pull-request', pr: { number: pr.number, title: 'Promote fraud-detector@2026.11.13-1 to production', url: String }, author: 'ada', mergedBy: 'ada',
    mergedAt: '2026-11-18T09:30:00Z', emergency: false, source: 'github',
  });
  t.same(change.approvers, [{ login: 'grace', at: '2026-11-18T09:10:00Z' }, { login: 'linus', at: '2026-11-18T09:20:00Z' }]);
  t.same(report, { sha256: createHash('sha256').update(summary).digest('hex'), source: `check-run:${run.id}`, verdict: 'success' });
  t.same(gh.requests.filter((r) => r.status >= 400), [], 'every request was valid for GitHub\'s API description');
});

t.test('the record names exactly the approvers the approvals gate counted: same reviews in, same names out', async (t) => {
  let clock = Date.parse('2026-11-18T08:00:00Z');
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'release', login: 'ada', token: 't0ken', now: () => new Date(clock) });
  t.teardown(() => gh.stop());
  const client = octokit({ token: 't0ken', baseUrl: gh.url });
  const repo = { owner: 'acmerisk', repo: 'release' };
  const earlier = 'e'.repeat(40);
  const head = 'a'.repeat(40);
  gh.setBranch('promote/production/fraud-detector-2026.11.20-1', head);
  const pr = (await client.rest.pulls.create({ ...repo, head: 'promote/production/fraud-detector-2026.11.20-1', base: 'main', title: 'Promote fraud-detector@2026.11.20-1 to production' })).data;
  const at = () => (clock += 600_000);
  at(); gh.addReview(pr.number, 'grace', 'APPROVED', { commitId: earlier }); // stale: the branch moved on after it
  at(); gh.addReview(pr.number, 'Linus', 'APPROVED', { commitId: head });
  at(); gh.addReview(pr.number, 'linus', 'CHANGES_REQUESTED', { commitId: head }); // the same person, another case
  at(); gh.addReview(pr.number, 'LINUS', 'APPROVED', { commitId: head });
  at(); gh.addReview(pr.number, 'ken', 'APPROVED', { commitId: head });
  at(); gh.addReview(pr.number, 'Ada', 'COMMENTED', { commitId: head }); // the author, in another case
  at(); const mergeCommit = (await client.rest.pulls.merge({ ...repo, pull_number: pr.number })).data.sha;

  const rule = { excludeAuthor: true, dismissStale: true };
  const reviews = await listReviews(client, repo, pr.number);
  const judged = approvalsGate({ reviews, headSha: head, author: 'ada', teamMembers: {}, required: { count: 2, ...rule } });
  const counted = (judged.data!.reviewers as ReviewerVerdict[]).filter((v) => v.counted).map((v) => v.user);
  t.same(counted.sort(), ['LINUS', 'ken'], 'the gate drops the stale approval and counts linus once');
  t.ok(judged.details!.includes(`not counted: grace (approved; approved an earlier commit ${earlier.slice(0, 7)})`));

  const info: CommitInfo = {
    commit: mergeCommit, tree: 'c'.repeat(40), parents: ['d'.repeat(40), head], author: 'GitHub <noreply@github.com>', committer: 'GitHub <noreply@github.com>',
    committedAt: new Date(clock).toISOString(), subject: `Merge pull request #${pr.number} from acmerisk/promote/production/fraud-detector-2026.11.20-1`, body: '', trailers: {},
  };
  const { change } = await changeFromGitHub(client, repo, info, undefined, undefined, rule);
  t.same(change.approvers.map((a) => a.login).sort(), counted.sort(), 'the signed record names the same approvers');
  t.same(change.approvers, [{ login: 'LINUS', at: '2026-11-18T08:40:00Z' }, { login: 'ken', at: '2026-11-18T08:50:00Z' }]);
  t.same(gh.requests.filter((r) => r.status >= 400), [], 'every request was valid for GitHub\'s API description');
});

t.test('attribution comes from GitHub, not from the commit\'s text: a direct push titled like a pull request\'s merge, and a squashed Break-Glass line', async (t) => {
  const { gh, client, repo, head, pr, later } = await promotionPull(t);
  later(600_000);
  gh.addReview(pr.number, 'grace', 'APPROVED');
  gh.addReview(pr.number, 'linus', 'APPROVED');
  later(600_000);
  const mergeCommit = (await client.rest.pulls.merge({ ...repo, pull_number: pr.number, merge_method: 'squash' })).data.sha;

  // A direct push to main that borrows the pull request's number and trailers: GitHub knows the commit, and no pull request merged it.
  const pushed = 'f'.repeat(40);
  gh.setCommit(pushed, { author: 'mallory', committer: 'mallory', message: `Loosen production (#${pr.number})` });
  const direct: CommitInfo = {
    commit: pushed, tree: 'c'.repeat(40), parents: [mergeCommit], author: 'Mallory <mallory@acmerisk.example>', committer: 'Mallory <mallory@acmerisk.example>',
    committedAt: '2026-11-18T10:00:00Z', subject: `Loosen production (#${pr.number})`, body: '', trailers: { 'Pull-Request-Author': ['ada'], 'Approved-by': ['grace 2026-11-18T08:10:00Z'] },
  };
  const fromGit = (await import('../../src/audit/facts.js')).changeFromGit(direct, undefined);
  t.match(fromGit, { kind: 'pull-request', pr: { number: pr.number }, author: 'ada' }, 'the text alone claims the pull request (what git-only mode can see)');
  const { change, report } = await changeFromGitHub(client, repo, direct, undefined);
  t.same(change, { kind: 'direct', pr: null, author: 'Mallory <mallory@acmerisk.example>', mergedBy: 'Mallory <mallory@acmerisk.example>', mergedAt: '2026-11-18T10:00:00Z', approvers: [], emergency: false, source: 'github' });
  t.equal(report, undefined, 'and no check run is borrowed');

  // The pull request's own squash merge, whose message ends with a Break-Glass line: reviewed, so no emergency.
  const squashed: CommitInfo = {
    commit: mergeCommit, tree: 'c'.repeat(40), parents: ['d'.repeat(40)], author: 'Ada <ada@acmerisk.example>', committer: 'GitHub <noreply@github.com>',
    committedAt: '2026-11-18T08:20:00Z', subject: `Promote fraud-detector@2026.11.13-1 to production (#${pr.number})`, body: '* promote\n\nBreak-Glass: not really', trailers: { 'Break-Glass': ['not really'] },
  };
  const merged = await changeFromGitHub(client, repo, squashed, undefined, 3_600_000);
  t.match(merged.change, { kind: 'pull-request', pr: { number: pr.number }, author: 'ada', emergency: false });
  t.notOk('emergencyReason' in merged.change || 'reviewBy' in merged.change);
  t.same(merged.change.approvers.map((a) => a.login), ['grace', 'linus']);
  t.match((await import('../../src/audit/facts.js')).changeFromGit(squashed, undefined, 3_600_000), { kind: 'pull-request', emergency: false }, 'git-only mode ignores it on a pull request\'s merge too');

  // A break-glass push (no pull request merged it) is the emergency it declares.
  const glass = 'e'.repeat(40);
  gh.setCommit(glass, { author: 'sam', committer: 'sam', message: 'Roll back fraud-detector' });
  const bg = await changeFromGitHub(client, repo, { ...direct, commit: glass, subject: 'Roll back fraud-detector in production', trailers: { 'Break-Glass': ['scores all zero'] } }, undefined, 3_600_000);
  t.match(bg.change, { kind: 'break-glass', pr: null, emergency: true, emergencyReason: 'scores all zero', reviewBy: '2026-11-18T11:00:00Z', approvers: [] });
  t.same(gh.requests.filter((r) => r.status >= 400), [], 'every request was valid for GitHub\'s API description');
});

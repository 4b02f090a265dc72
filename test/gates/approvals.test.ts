import t from 'tap';
import { approvalsGate, type ReviewerVerdict } from '../../src/gates/approvals.js';
import { standingReviews, type Review } from '../../src/model/approvals.js';

// A production promotion PR by ada; the production policy wants two approvals from three teams.
const head = 'c0ffee0000000000000000000000000000000001';
const earlier = 'bead000000000000000000000000000000000002';
const teamMembers = {
  '@acmerisk/fraud-ml-leads': ['grace', 'Linus'],
  '@acmerisk/model-risk': ['barbara', 'grace'],
  '@acmerisk/disputes-ml': ['ken'],
};
const production = { count: 2, teams: ['@acmerisk/fraud-ml-leads', '@acmerisk/model-risk', '@acmerisk/disputes-ml'], excludeAuthor: true, dismissStale: true };

let clock = Date.parse('2026-11-22T09:00:00Z');
function review(user: string, state: Review['state'], commitId = head): Review {
  clock += 60_000;
  return { user, state, commitId, submittedAt: new Date(clock).toISOString() };
}
const gate = (reviews: Review[], required: Parameters<typeof approvalsGate>[0]['required'] = production, author = 'ada') =>
  approvalsGate({ reviews, headSha: head, author, teamMembers, required });
const reviewer = (r: ReturnType<typeof gate>, user: string) => (r.data!.reviewers as ReviewerVerdict[]).find((v) => v.user === user)!;

t.test('two approvals from qualified reviewers on the head commit pass, naming them', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED')]);
  t.equal(r.status, 'pass');
  t.equal(r.summary, '2 of 2 required approvals (grace (@acmerisk/fraud-ml-leads, @acmerisk/model-risk), ken (@acmerisk/disputes-ml))');
  t.equal(r.data!.counted, 2);
});

t.test('one qualified approval of two fails and says who did not count and why', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('mallory', 'APPROVED'), review('ada', 'COMMENTED')]);
  t.equal(r.status, 'fail');
  t.equal(r.summary, '1 of 2 required approvals (grace (@acmerisk/fraud-ml-leads, @acmerisk/model-risk)); not counted: '
    + 'mallory (not in @acmerisk/fraud-ml-leads, @acmerisk/model-risk, @acmerisk/disputes-ml), ada (the author)');
  t.ok(r.details!.includes('not counted: mallory (approved; not in @acmerisk/fraud-ml-leads, @acmerisk/model-risk, @acmerisk/disputes-ml)'));
});

t.test('the author never counts, even when on a listed team', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED')], production, 'ken');
  t.equal(r.status, 'fail');
  t.equal(reviewer(r, 'ken').reason, 'the author');
  const allowed = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED')], { ...production, excludeAuthor: false }, 'ken');
  t.equal(allowed.status, 'pass', 'unless the policy says excludeAuthor: false');
  const byDefault = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED')], { count: 2 }, 'KEN');
  t.equal(byDefault.status, 'fail', 'excludeAuthor defaults to true; logins compare case-insensitively');
});

t.test('with dismissStale, an approval of an earlier commit does not count', async (t) => {
  const reviews = [review('grace', 'APPROVED', earlier), review('ken', 'APPROVED')];
  const r = gate(reviews);
  t.equal(r.status, 'fail');
  t.match(r.summary, /grace \(approved an earlier commit bead000\)/);
  t.equal(gate(reviews, { ...production, dismissStale: false }).status, 'pass', 'without dismissStale it counts');
  t.equal(gate([...reviews, review('grace', 'APPROVED')]).status, 'pass', 're-approving the head counts');
});

t.test('the latest review per user wins', async (t) => {
  const withdrawn = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('ken', 'CHANGES_REQUESTED')]);
  t.equal(withdrawn.status, 'fail');
  t.match(withdrawn.summary, /^ken \(@acmerisk\/disputes-ml\) requested changes; 1 of 2 required approvals/);

  const resolved = gate([review('grace', 'APPROVED'), review('ken', 'CHANGES_REQUESTED'), review('ken', 'APPROVED')]);
  t.equal(resolved.status, 'pass', 'a change request followed by an approval is resolved');

  const dismissed = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('ken', 'DISMISSED')]);
  t.equal(dismissed.status, 'fail');
  t.equal(reviewer(dismissed, 'ken').reason, 'review dismissed');
});

t.test('a comment after an approval keeps the approval (GitHub semantics)', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('ken', 'COMMENTED')]);
  t.equal(r.status, 'pass');
  const afterChanges = gate([review('grace', 'APPROVED'), review('ken', 'CHANGES_REQUESTED'), review('ken', 'COMMENTED')]);
  t.equal(afterChanges.status, 'fail', 'and a comment does not resolve a change request either');
});

t.test('reviews are ordered by submission time, not by list order', async (t) => {
  const approve = { user: 'ken', state: 'APPROVED' as const, commitId: head, submittedAt: '2026-11-22T12:00:00Z' };
  const object = { user: 'ken', state: 'CHANGES_REQUESTED' as const, commitId: head, submittedAt: '2026-11-22T10:00:00Z' };
  t.same(standingReviews([approve, object]).map((r) => r.state), ['APPROVED']);
});

t.test('pending (unsubmitted) reviews do not exist yet', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('barbara', 'PENDING')]);
  t.equal(r.status, 'pass');
  t.notOk((r.data!.reviewers as ReviewerVerdict[]).some((v) => v.user === 'barbara'));
  t.equal(gate([review('grace', 'APPROVED'), review('ken', 'PENDING')]).status, 'fail', 'a pending approval is not an approval');
});

t.test('a change request from a qualified reviewer blocks even with enough approvals', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('barbara', 'CHANGES_REQUESTED')]);
  t.equal(r.status, 'fail');
  t.match(r.summary, /^barbara \(@acmerisk\/model-risk\) requested changes; 2 of 2 required approvals/);
  t.ok(r.details!.includes('blocking: barbara (@acmerisk/model-risk) requested changes'));
  t.ok(reviewer(r, 'barbara').blocks);
});

t.test('a change request from someone outside the listed teams does not block', async (t) => {
  const r = gate([review('grace', 'APPROVED'), review('ken', 'APPROVED'), review('mallory', 'CHANGES_REQUESTED')]);
  t.equal(r.status, 'pass');
  t.ok(r.details!.some((d) => d.startsWith('not counted: mallory (changes requested; not in')));
});

t.test('without teams, anyone who reviews qualifies (staging)', async (t) => {
  const staging = { count: 1, excludeAuthor: true };
  t.equal(gate([review('mallory', 'APPROVED')], staging).status, 'pass');
  t.equal(gate([review('mallory', 'COMMENTED')], staging).status, 'fail');
  t.equal(gate([review('mallory', 'CHANGES_REQUESTED'), review('grace', 'APPROVED')], staging).status, 'fail', 'then anyone\'s change request blocks');
});

t.test('team slugs and logins compare case-insensitively', async (t) => {
  const r = gate([review('linus', 'APPROVED'), review('GRACE', 'APPROVED')], { ...production, teams: ['@AcmeRisk/Fraud-ML-Leads'] });
  t.equal(r.status, 'pass');
});

t.test('no approvals required and none given: pass', async (t) => {
  t.equal(gate([], { count: 0 }).status, 'pass');
});

t.test('an approver who may be on a team whose members are unknown: error, not fail', async (t) => {
  const r = approvalsGate({ reviews: [review('grace', 'APPROVED'), review('ken', 'APPROVED')], headSha: head, author: 'ada',
    teamMembers: { '@acmerisk/fraud-ml-leads': ['grace'] }, required: production });
  t.equal(r.status, 'error');
  t.match(r.summary, /members of @acmerisk\/model-risk, @acmerisk\/disputes-ml unknown/);
  const known = approvalsGate({ reviews: [review('grace', 'APPROVED')], headSha: head, author: 'ada',
    teamMembers: { '@acmerisk/fraud-ml-leads': ['grace'] }, required: production });
  t.equal(known.status, 'fail', 'nobody else approved, so the unknown team changes nothing');
});

t.test('policy.schema.json defaults: stale approvals are dismissed unless the policy keeps them; pushers never count', async (t) => {
  const { excludeAuthor: _e, dismissStale: _d, ...unsaid } = production;
  const stale = gate([review('grace', 'APPROVED', earlier), review('ken', 'APPROVED')], unsaid);
  t.equal(stale.status, 'fail');
  t.equal(stale.summary, '1 of 2 required approvals (ken (@acmerisk/disputes-ml)); not counted: grace (approved an earlier commit bead000)');
  t.equal(gate([review('grace', 'APPROVED', earlier), review('ken', 'APPROVED')], { ...unsaid, dismissStale: false }).status, 'pass');

  const pushed = approvalsGate({ reviews: [review('grace', 'APPROVED'), review('KEN', 'APPROVED')], headSha: head, author: 'ada', pushers: ['ken', 'ada'], teamMembers, required: unsaid });
  t.equal(pushed.status, 'fail');
  t.equal(pushed.summary, '1 of 2 required approvals (grace (@acmerisk/fraud-ml-leads, @acmerisk/model-risk)); not counted: KEN (pushed the latest commit)');
  const allowed = approvalsGate({ reviews: [review('grace', 'APPROVED'), review('ken', 'APPROVED')], headSha: head, author: 'ken', pushers: ['ken'], teamMembers, required: { ...unsaid, excludeAuthor: false } });
  t.equal(reviewer(allowed, 'ken').reason, 'pushed the latest commit', 'excludeAuthor: false lets an author approve, never a pusher');
});

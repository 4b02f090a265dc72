// The GitHub stand-in, driven by the real Octokit: it answers like GitHub for the operations
// the bot uses, rejects requests that do not match GitHub's OpenAPI description, and records
// what the client sent.
import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { operations, responseExample, validateResponse } from '../../../tools/sandbox/github/openapi.js';
import { startGitHub, type GitHubStandIn, type GitHubStandInOptions } from '../../../tools/sandbox/github/server.js';

const repo = { owner: 'acme-risk', repo: 'model-releases' };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function stage(t: Test, options: Partial<GitHubStandInOptions> = {}): Promise<{ gh: GitHubStandIn; octokit: Octokit }> {
  // A clock that ticks one second per reading, so creation order shows in timestamps.
  let tick = Date.parse('2026-11-20T09:00:00Z');
  const gh = await startGitHub({ ...repo, token: 'ghs_test', now: () => new Date((tick += 1000)), ...options });
  t.teardown(() => gh.stop());
  return { gh, octokit: new Octokit({ baseUrl: gh.url, auth: 'ghs_test', log: quiet }) };
}

/** How an Octokit call failed: Octokit rejects with its RequestError (named HttpError). */
async function failure(request: Promise<unknown>): Promise<{ name: string; status: number; message: string; data: any }> {
  try {
    await request;
  } catch (e) {
    const x = e as { name: string; status: number; message: string; response?: { data: unknown } };
    return { name: x.name, status: x.status, message: x.message, data: x.response?.data };
  }
  throw new Error('the request succeeded; expected it to fail');
}

function openPull(octokit: Octokit, head: string, title = `Promote ${head}`) {
  return octokit.rest.pulls.create({ ...repo, head, base: 'main', title, body: 'Pins fraud-detector@2026.11.20-1 in staging.' });
}

t.test('creating a pull request returns the fields Octokit users read', async (t) => {
  const { gh, octokit } = await stage(t);
  const { status, data, headers } = await openPull(octokit, 'promote/fraud-detector-staging');
  t.equal(status, 201);
  t.equal(data.number, 1);
  t.equal(data.state, 'open');
  t.equal(data.title, 'Promote promote/fraud-detector-staging');
  t.equal(data.head.ref, 'promote/fraud-detector-staging');
  t.equal(data.head.label, 'acme-risk:promote/fraud-detector-staging');
  t.match(data.head.sha, /^[0-9a-f]{40}$/);
  t.equal(data.base.ref, 'main');
  t.equal(data.html_url, 'https://github.com/acme-risk/model-releases/pull/1');
  t.equal(data.url, `${gh.url}/repos/acme-risk/model-releases/pulls/1`);
  t.equal(headers.location, data.url);
  t.equal(data.user.login, 'modelship-bot');
  t.same(data.requested_reviewers, []);

  const again = await octokit.rest.pulls.get({ ...repo, pull_number: 1 });
  t.equal(again.data.head.sha, data.head.sha);
  const issue = await octokit.rest.issues.create({ ...repo, title: 'Drift alert' });
  t.equal(issue.data.number, 2, 'issues and pull requests share one number sequence');
});

t.test('a body that does not match the schema gets 422 before any handler runs', async (t) => {
  const { gh, octokit } = await stage(t);
  const e = await failure(openPull(octokit, 'promote/x', 42 as unknown as string));
  t.match(e, { name: 'HttpError', status: 422 });
  const data = e.data as { message: string; errors: unknown[]; documentation_url: string };
  t.equal(data.message, `Invalid request.\n\nFor 'title', 42 is not of type "string".`);
  t.same(data.errors, [{ resource: 'PullRequest', field: 'title', code: 'invalid', message: `For 'title', 42 is not of type "string".` }]);
  t.equal(data.documentation_url, 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request');
  t.equal(gh.state.pulls().length, 0, 'nothing was created');

  await openPull(octokit, 'promote/x');
  t.match(await failure(octokit.rest.pulls.update({ ...repo, pull_number: 1, state: 'merged' as 'closed' })), {
    status: 422, message: /For 'state', "merged" is not one of \["open","closed"\]/,
  });
  t.match(await failure(octokit.request('POST /repos/{owner}/{repo}/pulls', { ...repo, base: 'main', title: 'no head' } as never)), {
    status: 422, data: { errors: [{ field: 'head', code: 'missing_field' }] },
  });
  t.match(await failure(octokit.rest.pulls.list({ ...repo, per_page: 'many' as unknown as number })), {
    status: 422, message: /For 'per_page', "many" is not of type "integer"/,
  });
  t.equal((await octokit.rest.pulls.get({ ...repo, pull_number: 1 })).data.state, 'open');
});

t.test('a second open pull request from the same branch to the same base is refused as on GitHub', async (t) => {
  const { octokit } = await stage(t);
  await openPull(octokit, 'promote/fraud-detector-staging');
  t.match(await failure(openPull(octokit, 'promote/fraud-detector-staging')), {
    status: 422,
    data: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme-risk:promote/fraud-detector-staging.' }] },
  });
  await octokit.rest.pulls.update({ ...repo, pull_number: 1, state: 'closed' });
  const reopened = await openPull(octokit, 'promote/fraud-detector-staging');
  t.equal(reopened.data.number, 2, 'allowed again once the first one is closed');
});

t.test('requests without the token, or with another one, get 401', async (t) => {
  const { gh } = await stage(t);
  t.match(await failure(new Octokit({ baseUrl: gh.url, log: quiet }).rest.repos.get(repo)), { status: 401, message: /Requires authentication/ });
  t.match(await failure(new Octokit({ baseUrl: gh.url, auth: 'ghs_other', log: quiet }).rest.repos.get(repo)), { status: 401, message: /Bad credentials/ });
  const ok = await new Octokit({ baseUrl: gh.url, auth: 'ghs_test', log: quiet }).rest.repos.get(repo);
  t.equal(ok.data.default_branch, 'main');
  t.equal(ok.data.full_name, 'acme-risk/model-releases');
  t.same(gh.requests.map((r) => r.status), [401, 401, 200]);
  t.equal(gh.requests[2]!.headers.authorization, 'token ghs_test');
});

t.test('pulls/list pages with an absolute Link header and Octokit paginate follows it', async (t) => {
  const { gh, octokit } = await stage(t);
  for (const model of ['fraud-detector', 'chargeback-scorer', 'aml-screening']) await openPull(octokit, `promote/${model}`);
  const first = await octokit.rest.pulls.list({ ...repo, per_page: 1 });
  t.same(first.data.map((p) => p.number), [3], 'newest first');
  const base = `${gh.url}/repos/acme-risk/model-releases/pulls?per_page=1`;
  t.equal(first.headers.link, `<${base}&page=2>; rel="next", <${base}&page=3>; rel="last"`);
  t.notOk('merged' in first.data[0]!, 'list items are pull-request-simple');

  const all = await octokit.paginate(octokit.rest.pulls.list, { ...repo, per_page: 1 });
  t.same(all.map((p) => p.head.ref), ['promote/aml-screening', 'promote/chargeback-scorer', 'promote/fraud-detector']);
  t.same(gh.requests.filter((r) => r.operationId === 'pulls/list').map((r) => r.query.page ?? '-'), ['-', '-', '2', '3']);

  const byHead = await octokit.rest.pulls.list({ ...repo, head: 'acme-risk:promote/chargeback-scorer' });
  t.same(byHead.data.map((p) => p.number), [2]);
  const bareHead = await octokit.rest.pulls.list({ ...repo, head: 'promote/chargeback-scorer' });
  t.equal(bareHead.data.length, 3, 'a head without owner: is ignored, as GitHub does');
});

t.test('team members come from the options, by @org/slug or by slug', async (t) => {
  const { octokit } = await stage(t, { teams: { '@acme-risk/ml-platform': ['dana', 'eli'], 'risk-officers': ['fay'] } });
  const members = await octokit.rest.teams.listMembersInOrg({ org: 'acme-risk', team_slug: 'ml-platform' });
  t.same(members.data.map((m) => m.login), ['dana', 'eli']);
  t.equal(members.data[0]!.type, 'User');
  const officers = await octokit.rest.teams.listMembersInOrg({ org: 'acme-risk', team_slug: 'risk-officers' });
  t.same(officers.data.map((m) => m.login), ['fay']);
  t.match(await failure(octokit.rest.teams.listMembersInOrg({ org: 'acme-risk', team_slug: 'nobody' })), { status: 404 });
  const membership = await octokit.rest.teams.getMembershipForUserInOrg({ org: 'acme-risk', team_slug: 'ml-platform', username: 'eli' });
  t.equal(membership.data.state, 'active');
  t.match(await failure(octokit.rest.teams.getMembershipForUserInOrg({ org: 'acme-risk', team_slug: 'ml-platform', username: 'fay' })), { status: 404 });
});

t.test('a check run is created in progress, completed by an update and listed for its branch', async (t) => {
  const { octokit } = await stage(t);
  const pr = await openPull(octokit, 'promote/fraud-detector-staging');
  const created = await octokit.rest.checks.create({ ...repo, name: 'modelship', head_sha: pr.data.head.sha, status: 'in_progress' });
  t.equal(created.status, 201);
  t.equal(created.data.status, 'in_progress');
  t.equal(created.data.conclusion, null);
  t.same(created.data.pull_requests.map((p) => p.number), [1]);

  const done = await octokit.rest.checks.update({
    ...repo, check_run_id: created.data.id, conclusion: 'failure',
    output: { title: '1 gate failed', summary: 'performance: auc 0.930 is 0.011 below production' },
  });
  t.equal(done.data.status, 'completed', 'a conclusion completes the run');
  t.equal(done.data.conclusion, 'failure');
  t.equal(done.data.output.title, '1 gate failed');
  t.equal(done.data.completed_at, '2026-11-20T09:00:03Z', 'stamped by the update (the third clock reading)');

  t.match(await failure(octokit.rest.checks.update({ ...repo, check_run_id: created.data.id, conclusion: 'passed' as 'success' })), { status: 422 });
  t.match(await failure(octokit.rest.checks.create({ ...repo, name: 'modelship', head_sha: pr.data.head.sha, status: 'completed' })), {
    status: 422, message: /conclusion must be present/,
  });
  t.match(await failure(octokit.rest.checks.update({
    ...repo, check_run_id: created.data.id, output: { title: 'too long', summary: 'x'.repeat(65536) },
  })), { status: 422, message: /must NOT have more than 65535 characters/ });

  await octokit.rest.checks.create({ ...repo, name: 'modelship', head_sha: pr.data.head.sha, conclusion: 'success', output: { title: 'ok', summary: 'all gates passed' } });
  const latest = await octokit.rest.checks.listForRef({ ...repo, ref: 'promote/fraud-detector-staging' });
  t.equal(latest.data.total_count, 1, 'filter=latest keeps the newest run per name');
  t.equal(latest.data.check_runs[0]!.conclusion, 'success');
  const all = await octokit.rest.checks.listForRef({ ...repo, ref: pr.data.head.sha, filter: 'all' });
  t.same(all.data.check_runs.map((c) => c.conclusion), ['success', 'failure']);
});

t.test('reviewers are requested, reviews submitted through the stand-in are listed', async (t) => {
  const { gh, octokit } = await stage(t, { users: ['dana', 'eli'], teams: { 'ml-platform': ['dana', 'eli'] } });
  await openPull(octokit, 'promote/fraud-detector-production');
  const asked = await octokit.rest.pulls.requestReviewers({ ...repo, pull_number: 1, reviewers: ['dana'], team_reviewers: ['ml-platform'] });
  t.same(asked.data.requested_reviewers?.map((u) => u.login), ['dana']);
  t.same(asked.data.requested_teams?.map((team) => team.slug), ['ml-platform']);
  t.match(await failure(octokit.rest.pulls.requestReviewers({ ...repo, pull_number: 1, reviewers: ['mallory'] })), { status: 422, message: /only be requested from collaborators/ });
  t.match(await failure(octokit.rest.pulls.requestReviewers({ ...repo, pull_number: 1, reviewers: ['modelship-bot'] })), { status: 422, message: /pull request author/ });

  gh.addReview(1, 'dana', 'APPROVED');
  gh.addReview(1, 'eli', 'CHANGES_REQUESTED', { body: 'AUC slice for new merchants regressed' });
  const reviews = await octokit.rest.pulls.listReviews({ ...repo, pull_number: 1 });
  t.same(reviews.data.map((r) => [r.user?.login, r.state]), [['dana', 'APPROVED'], ['eli', 'CHANGES_REQUESTED']]);
  t.equal(reviews.data[0]!.commit_id, (await octokit.rest.pulls.get({ ...repo, pull_number: 1 })).data.head.sha);
  t.same((await octokit.rest.pulls.get({ ...repo, pull_number: 1 })).data.requested_reviewers?.map((u) => u.login), [], 'a review answers the request');
});

t.test('a sticky comment is found in the list and edited in place', async (t) => {
  const { octokit } = await stage(t);
  await openPull(octokit, 'promote/fraud-detector-staging');
  const made = await octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: '<!-- modelship -->\nchecking…' });
  t.equal(made.data.html_url, `https://github.com/acme-risk/model-releases/pull/1#issuecomment-${made.data.id}`);
  const found = (await octokit.rest.issues.listComments({ ...repo, issue_number: 1 })).data.find((c) => c.body?.startsWith('<!-- modelship -->'));
  t.equal(found?.id, made.data.id);
  const edited = await octokit.rest.issues.updateComment({ ...repo, comment_id: made.data.id, body: '<!-- modelship -->\nall gates passed' });
  t.equal(edited.data.body, '<!-- modelship -->\nall gates passed');
  t.same((await octokit.rest.issues.listComments({ ...repo, issue_number: 1 })).data.map((c) => c.body), ['<!-- modelship -->\nall gates passed']);
  t.match(await failure(octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: 'x'.repeat(65537) })), { status: 422, message: /Body is too long/ });
  t.match(await failure(octokit.rest.issues.createComment({ ...repo, issue_number: 99, body: 'nobody home' })), { status: 404 });
});

t.test('issues are created, updated and listed with their filters', async (t) => {
  const { octokit } = await stage(t);
  await octokit.rest.issues.create({ ...repo, title: 'Drift on merchant_category', labels: ['drift', { name: 'fraud-detector' }] });
  await octokit.rest.issues.create({ ...repo, title: 'Canary latency', labels: ['canary'] });
  await openPull(octokit, 'promote/fraud-detector-staging');
  const closed = await octokit.rest.issues.update({ ...repo, issue_number: 2, state: 'closed', state_reason: 'not_planned' });
  t.equal(closed.data.state_reason, 'not_planned');
  t.equal(closed.data.closed_at, '2026-11-20T09:00:04Z');
  t.equal(closed.data.updated_at, closed.data.closed_at);
  const open = await octokit.rest.issues.listForRepo(repo);
  t.same(open.data.map((i) => [i.number, Boolean(i.pull_request)]), [[3, true], [1, false]], 'pull requests are issues too');
  const drift = await octokit.rest.issues.listForRepo({ ...repo, state: 'all', labels: 'drift,fraud-detector' });
  t.same(drift.data.map((i) => i.number), [1]);
  t.match(await failure(octokit.rest.issues.create({ ...repo, title: 'x', milestone: 4 })), { status: 422 });
});

t.test('merging closes the pull request and moves the base branch', async (t) => {
  const { gh, octokit } = await stage(t);
  const pr = await openPull(octokit, 'promote/fraud-detector-staging');
  t.match(await failure(octokit.rest.pulls.merge({ ...repo, pull_number: 1, sha: '0'.repeat(40) })), { status: 409 });
  const merged = await octokit.rest.pulls.merge({ ...repo, pull_number: 1, sha: pr.data.head.sha, merge_method: 'squash' });
  t.equal(merged.data.merged, true);
  t.equal(gh.state.branches.get('main'), merged.data.sha);
  const after = await octokit.rest.pulls.get({ ...repo, pull_number: 1 });
  t.same([after.data.state, after.data.merged, after.data.merge_commit_sha], ['closed', true, merged.data.sha]);
  t.match(await failure(octokit.rest.pulls.merge({ ...repo, pull_number: 1 })), { status: 405, message: /not mergeable/ });
});

t.test('unknown routes, other repositories and unimplemented operations', async (t) => {
  const { gh, octokit } = await stage(t);
  t.match(await failure(octokit.request('GET /repos/{owner}/{repo}/git/trees/{sha}', { ...repo, sha: 'main' })), { status: 404, message: /Not Found/ });
  t.match(await failure(octokit.rest.repos.get({ owner: 'acme-risk', repo: 'other' })), { status: 404 });
  t.match(await failure(octokit.rest.pulls.listFiles({ ...repo, pull_number: 1 })), { status: 501, message: /does not implement pulls\/list-files/ });
  t.same(gh.requests.map((r) => [r.operationId, r.status]), [[undefined, 404], ['repos/get', 404], ['pulls/list-files', 501]]);
});

t.test('a response the stand-in gets wrong is a 500 naming the schema violation, not a silent lie', async (t) => {
  const { gh, octokit } = await stage(t);
  await openPull(octokit, 'promote/fraud-detector-staging');
  gh.state.pull(1)!.title = 42 as unknown as string; // state no request could have produced
  t.match(await failure(octokit.rest.pulls.get({ ...repo, pull_number: 1 })), {
    status: 500, message: /answer to pulls\/get does not match GitHub's schema: \/title must be string/,
  });
});

t.test('every request is recorded with what the client sent and what it got', async (t) => {
  const { gh, octokit } = await stage(t);
  await openPull(octokit, 'promote/fraud-detector-staging');
  await octokit.rest.pulls.list({ ...repo, state: 'all', per_page: 50 });
  await octokit.rest.pulls.update({ ...repo, pull_number: 1, title: 42 as unknown as string }).catch(() => undefined);
  t.same(gh.requests.map(({ method, path, operationId, query, body, status }) => ({ method, path, operationId, query, body, status })), [
    { method: 'POST', path: '/repos/acme-risk/model-releases/pulls', operationId: 'pulls/create', query: {},
      body: { head: 'promote/fraud-detector-staging', base: 'main', title: 'Promote promote/fraud-detector-staging', body: 'Pins fraud-detector@2026.11.20-1 in staging.' }, status: 201 },
    { method: 'GET', path: '/repos/acme-risk/model-releases/pulls', operationId: 'pulls/list', query: { state: 'all', per_page: '50' }, body: undefined, status: 200 },
    { method: 'PATCH', path: '/repos/acme-risk/model-releases/pulls/1', operationId: 'pulls/update', query: {}, body: { title: 42 }, status: 422 },
  ]);
});

t.test('the OpenAPI subset: every operation is known and every published example fits its schema', async (t) => {
  const subset = JSON.parse(readFileSync(new URL('../../../tools/sandbox/github/openapi-subset.json', import.meta.url), 'utf8')) as { info: { version: string } };
  t.equal(subset.info.version, '23.0.2');
  t.equal(operations().length, 29);
  for (const op of operations()) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (!response.examples) continue;
      t.equal(validateResponse(op, Number(status), responseExample(op.id, status)), undefined, `${op.id} ${status}`);
    }
  }
});

t.test('GET /user: a person\'s token names its owner; a workflow\'s (an app installation\'s) is refused as GitHub refuses it', async (t) => {
  const { gh, octokit } = await stage(t, { userTokens: { ghp_omar: 'omar' } });
  const person = new Octokit({ baseUrl: gh.url, auth: 'ghp_omar', log: quiet });
  const me = (await person.rest.users.getAuthenticated()).data;
  t.equal(me.login, 'omar');
  t.equal(me.type, 'User');
  t.match(await failure(octokit.rest.users.getAuthenticated()), { status: 403, data: { message: 'Resource not accessible by integration' } });
  t.same(gh.requests.filter((r) => r.status >= 500), [], 'every answer fits GitHub\'s schema');
});

t.test('the pull requests of a commit: the one whose merge commit it is, none for a direct push, 422 for what is no commit', async (t) => {
  const { gh, octokit } = await stage(t);
  gh.setBranch('promote/x', 'a'.repeat(40));
  const pr = (await openPull(octokit, 'promote/x')).data;
  t.same((await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: 'a'.repeat(40) })).data.map((p) => p.number), [pr.number], 'an open pull request\'s head');
  const merged = (await octokit.rest.pulls.merge({ ...repo, pull_number: pr.number })).data.sha;
  const of = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: merged });
  t.same(of.data.map((p) => [p.number, p.merge_commit_sha, !!p.merged_at]), [[pr.number, merged, true]]);
  t.same((await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: 'b'.repeat(40) })).data, [], 'a commit no pull request introduced');
  t.match(await failure(octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: 'no-such-branch' })), { status: 422, data: { message: 'No commit found for SHA: no-such-branch' } });
});

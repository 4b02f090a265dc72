// The GitHub stand-in's GitHub App behaviour, copied from GitHub: a JWT (RS256, iss = app id,
// iat/exp rules) authenticates the app for its own endpoints; installation tokens it mints act as
// `<slug>[bot]` for an hour; only the app that created a check run may update it; comments by
// an app carry performed_via_github_app.
import { createSign } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { startGitHub, type GitHubStandIn } from '../../../tools/sandbox/github/server.js';
import { appKeys } from '../../helpers/webhooks.js';

const repo = { owner: 'acme-risk', repo: 'model-releases' };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const keys = appKeys();
const stranger = appKeys();
const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const head = 'a'.repeat(40);

let clock = Date.parse('2026-11-20T09:00:00Z');

async function stage(t: Test): Promise<GitHubStandIn> {
  const gh = await startGitHub({ ...repo, token: 'ghs_actions', now: () => new Date(clock), apps: [{ ...app, publicKey: keys.publicKey }, { id: 777, slug: 'other-ci', publicKey: stranger.publicKey }] });
  t.teardown(() => gh.stop());
  return gh;
}

function jwt(payload: Record<string, unknown>, privateKey = keys.privateKey, alg = 'RS256'): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg, typ: 'JWT' })}.${part(payload)}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey, 'base64url')}`;
}

const now = () => Math.floor(clock / 1000);
const client = (gh: GitHubStandIn, auth: string) => new Octokit({ baseUrl: gh.url, auth, log: quiet });
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: { status: number; message: string }) => ({ status: e.status, message: e.message.replace(/ - https:\/\/docs\.github\.com\S*$/, '') }));

t.test('a JWT signed with the app\'s key, iss the app id, authenticates the app', async (t) => {
  const gh = await stage(t);
  const me = await client(gh, jwt({ iss: app.id, iat: now() - 30, exp: now() + 570 })).request('GET /app');
  t.match(me.data, { id: app.id, slug: app.slug, html_url: `https://github.com/apps/${app.slug}` });
  const inst = await client(gh, jwt({ iss: String(app.id), iat: now() - 30, exp: now() + 570 })).rest.apps.getRepoInstallation(repo);
  t.match(inst.data, { id: app.installationId, app_id: app.id, app_slug: app.slug });
});

t.test('JWTs GitHub refuses, with GitHub\'s messages', async (t) => {
  const gh = await stage(t);
  const get = (token: string) => failure(client(gh, token).request('GET /app'));
  t.same(await get(jwt({ iss: app.id, iat: now() - 30, exp: now() + 570 }, stranger.privateKey)), { status: 401, message: 'A JSON web token could not be decoded' }, 'signed with another key');
  t.same(await get(jwt({ iss: 1, iat: now() - 30, exp: now() + 570 })), { status: 401, message: 'A JSON web token could not be decoded' }, 'an unknown app');
  t.same(await get(jwt({ iss: app.id, iat: now() - 700, exp: now() - 100 })), { status: 401, message: "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires" });
  t.same(await get(jwt({ iss: app.id, iat: now() - 30, exp: now() + 3600 })), { status: 401, message: "'Expiration time' claim ('exp') is too far in the future" });
  t.same(await get(jwt({ iss: app.id, iat: now() + 120, exp: now() + 500 })), { status: 401, message: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued" });
  t.same(await failure(client(gh, jwt({ iss: app.id, iat: now() - 30, exp: now() + 570 })).rest.pulls.list(repo)), { status: 401, message: 'Bad credentials' }, 'a JWT is for the app endpoints only');
});

t.test('installation tokens: minted with the JWT, acting as <slug>[bot] for one hour', async (t) => {
  const gh = await stage(t);
  const asApp = client(gh, jwt({ iss: app.id, iat: now() - 30, exp: now() + 570 }));
  t.same(await failure(asApp.rest.apps.createInstallationAccessToken({ installation_id: 9001 })), { status: 404, message: 'Not Found' }, "another app's installation");
  const minted = await asApp.rest.apps.createInstallationAccessToken({ installation_id: app.installationId });
  t.equal(minted.status, 201);
  t.match(minted.data, { token: /^ghs_\w{24}$/, expires_at: '2026-11-20T10:00:00Z' });
  const bot = client(gh, minted.data.token);
  t.same(await failure(bot.request('GET /app')), { status: 401, message: 'A JSON web token could not be decoded' }, 'an installation token is not the app');
  const issue = await bot.rest.issues.create({ ...repo, title: 'drift' });
  const c = await bot.rest.issues.createComment({ ...repo, issue_number: issue.data.number, body: 'hello' });
  t.match(c.data, { user: { login: `${app.slug}[bot]`, type: 'Bot' }, performed_via_github_app: { id: app.id, slug: app.slug } });
  clock += 60 * 60 * 1000;
  t.same(await failure(bot.rest.issues.get({ ...repo, issue_number: 1 })), { status: 401, message: 'Bad credentials' }, 'expired after an hour');
});

t.test('only the app that created a check run may update it; list-for-ref filters by app_id', async (t) => {
  const gh = await stage(t);
  const asApp = client(gh, jwt({ iss: app.id, iat: now() - 30, exp: now() + 570 }));
  const bot = client(gh, (await asApp.rest.apps.createInstallationAccessToken({ installation_id: app.installationId })).data.token);
  const actions = client(gh, 'ghs_actions');
  const job = await actions.rest.checks.create({ ...repo, name: 'modelship', head_sha: head, status: 'completed', conclusion: 'success' });
  t.match(job.data.app, { id: 15368, slug: 'github-actions' }, "a workflow token's run is GitHub Actions'");
  t.same(await failure(bot.rest.checks.update({ ...repo, check_run_id: job.data.id, conclusion: 'failure' })),
    { status: 403, message: 'Invalid app_id `15368` - check run can only be modified by the GitHub App that created it.' });
  const ours = await bot.rest.checks.create({ ...repo, name: 'modelship', head_sha: head, status: 'completed', conclusion: 'failure' });
  t.same(await failure(actions.rest.checks.update({ ...repo, check_run_id: ours.data.id, conclusion: 'success' })),
    { status: 403, message: `Invalid app_id \`${app.id}\` - check run can only be modified by the GitHub App that created it.` });
  const mine = await bot.rest.checks.listForRef({ ...repo, ref: head, check_name: 'modelship', app_id: app.id });
  t.same(mine.data.check_runs.map((r) => r.id), [ours.data.id]);
  const all = await bot.rest.checks.listForRef({ ...repo, ref: head, check_name: 'modelship', filter: 'all' });
  t.same(all.data.check_runs.map((r) => r.id), [ours.data.id, job.data.id]);
  t.match(gh.state.checkRuns, [{ id: job.data.id, conclusion: 'success' }, { id: ours.data.id, conclusion: 'failure' }], 'neither changed');
});

t.test('commits: GitHub logins of the author and committer of a commit a test declared', async (t) => {
  const gh = await stage(t);
  gh.setCommit(head, { author: 'ada', committer: 'web-flow' });
  const c = await client(gh, 'ghs_actions').rest.repos.getCommit({ ...repo, ref: head });
  t.same([c.data.sha, c.data.author?.login, c.data.committer?.login], [head, 'ada', 'web-flow']);
  t.same(await failure(client(gh, 'ghs_actions').rest.repos.getCommit({ ...repo, ref: 'b'.repeat(40) })), { status: 422, message: `No commit found for SHA: ${'b'.repeat(40)}` });
});

// The GitHub calls modelship makes, through Octokit. Thin: each function is one or two API
// calls with an error that says what was being done.

import { Octokit } from '@octokit/rest';
import { ExternalError } from '../../errors.js';
import type { Review } from '../../model/approvals.js';
import { parseRetryAfter, retry } from '../retry.js';

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface GitHubConnection {
  token: string;
  /** GITHUB_API_URL in Actions; https://api.github.com by default */
  baseUrl?: string;
  timeoutMs?: number;
}

/** The token and API URL from the environment (GITHUB_TOKEN or GH_TOKEN; GITHUB_API_URL), if a token is set. */
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): GitHubConnection | undefined {
  const token = env.GITHUB_TOKEN || env.GH_TOKEN;
  if (!token) return undefined;
  return { token, ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}) };
}

/** The client the functions here take: flows hold it, only this room knows it is Octokit. */
export type GitHubClient = Octokit;

export function octokit(c: GitHubConnection): Octokit {
  const timeout = c.timeoutMs ?? 30_000;
  return new Octokit({
    auth: c.token,
    baseUrl: c.baseUrl ?? 'https://api.github.com',
    userAgent: 'modelship',
    request: {
      fetch: (url: string | URL, init?: RequestInit) => fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeout) }),
    },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
}

/** Attempts per call; only server errors, rate limits and network failures are retried. */
const attempts = 3;

async function call<T>(operation: string, fn: () => Promise<T>, options: { retry?: boolean; backoffMs?: number } = {}): Promise<T> {
  let attempt = 0;
  try {
    return await retry(() => (attempt++, fn()), {
      attempts: options.retry === false ? 1 : attempts,
      baseDelayMs: options.backoffMs ?? 500,
      retryable: (e) => retryableStatus((e as { status?: number }).status),
      // GitHub's rate limits say how long to wait (secondary limits with Retry-After).
      retryAfterMs: (e) => parseRetryAfter((e as { response?: { headers?: Record<string, string | undefined> } }).response?.headers?.['retry-after']),
    });
  } catch (e) {
    const status = (e as { status?: number }).status;
    const retryable = retryableStatus(status);
    const response = (e as { response?: { data?: { message?: string; errors?: Array<{ message?: string } | string> } } }).response;
    const detail = [response?.data?.message, ...(response?.data?.errors ?? []).map((x) => (typeof x === 'string' ? x : x.message))].filter(Boolean).join('; ') || (e as Error).message;
    const hint = status === 401 ? 'the token is invalid or expired'
      : status === 403 || status === 404 ? 'check that the token may read and write pull requests, checks and issues in this repository'
        : retryable ? `GitHub did not answer after ${attempt} attempt${attempt === 1 ? '' : 's'}; re-run the job` : undefined;
    throw new ExternalError('github', operation, status ? `HTTP ${status}: ${detail}` : detail,
      { cause: e, retryable, ...(status ? { status } : {}), ...(hint ? { hint } : {}) });
  }
}

/** Server errors, rate limits and network failures (no status) may pass when tried again. */
function retryableStatus(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 429;
}

/**
 * Whom the token belongs to (GET /user): a person's login, or undefined for a GitHub App's
 * installation token, a workflow's GITHUB_TOKEN included, which GitHub answers 403 "Resource not
 * accessible by integration" (it belongs to no person).
 */
export async function tokenOwner(gh: Octokit): Promise<string | undefined> {
  try {
    return await call('read whom the token belongs to', async () => (await gh.rest.users.getAuthenticated()).data.login, { retry: true });
  } catch (e) {
    if (e instanceof ExternalError && e.details.status === 403) return undefined;
    throw e;
  }
}

export async function defaultBranch(gh: Octokit, r: RepoRef): Promise<string> {
  return call(`read ${r.owner}/${r.repo}`, async () => (await gh.rest.repos.get({ owner: r.owner, repo: r.repo })).data.default_branch);
}

export interface PullRef {
  number: number;
  url: string;
  created: boolean;
}

/**
 * Opens a pull request from `head` into `base`, or updates the title and body of the one already
 * open for `head` (GitHub allows one open PR per head branch), so re-running never duplicates it.
 */
export async function openOrUpdatePull(gh: Octokit, r: RepoRef, pr: { head: string; base: string; title: string; body: string }): Promise<PullRef> {
  const open = await call('find an open pull request', async () =>
    (await gh.rest.pulls.list({ owner: r.owner, repo: r.repo, state: 'open', head: `${r.owner}:${pr.head}`, per_page: 1 })).data);
  const existing = open[0];
  if (existing) {
    const updated = await call(`update pull request #${existing.number}`, async () =>
      (await gh.rest.pulls.update({ owner: r.owner, repo: r.repo, pull_number: existing.number, title: pr.title, body: pr.body, base: pr.base })).data);
    return { number: updated.number, url: updated.html_url, created: false };
  }
  const created = await call('open the pull request', async () =>
    (await gh.rest.pulls.create({ owner: r.owner, repo: r.repo, head: pr.head, base: pr.base, title: pr.title, body: pr.body })).data);
  return { number: created.number, url: created.html_url, created: true };
}

/**
 * Requests review from teams given as @org/slug. Teams of another organisation cannot review
 * this repository's pull requests and are returned as skipped.
 */
export async function requestTeamReviews(gh: Octokit, r: RepoRef, pull: number, teams: string[]): Promise<{ requested: string[]; skipped: string[] }> {
  const requested: string[] = [];
  const skipped: string[] = [];
  for (const t of teams) {
    const [org, slug] = t.replace(/^@/, '').split('/');
    if (org?.toLowerCase() === r.owner.toLowerCase() && slug) requested.push(slug);
    else skipped.push(t);
  }
  if (requested.length) {
    await call(`request reviews on #${pull}`, () =>
      gh.rest.pulls.requestReviewers({ owner: r.owner, repo: r.repo, pull_number: pull, reviewers: [], team_reviewers: requested }));
  }
  return { requested: requested.map((s) => `@${r.owner}/${s}`), skipped };
}

export interface PullInfo {
  number: number;
  author: string;
  headSha: string;
  headRef: string;
  baseRef: string;
  baseSha: string;
  body: string;
  url: string;
}

export async function getPull(gh: Octokit, r: RepoRef, number: number): Promise<PullInfo> {
  const p = await call(`read pull request #${number}`, async () => (await gh.rest.pulls.get({ ...r, pull_number: number })).data);
  return { number: p.number, author: p.user?.login ?? '', headSha: p.head.sha, headRef: p.head.ref, baseRef: p.base.ref, baseSha: p.base.sha, body: p.body ?? '', url: p.html_url };
}

export type ReviewInfo = Review;

/** Every review of a pull request, oldest first (paginated). */
export async function listReviews(gh: Octokit, r: RepoRef, number: number): Promise<ReviewInfo[]> {
  const all = await call(`list reviews of #${number}`, () => gh.paginate(gh.rest.pulls.listReviews, { ...r, pull_number: number, per_page: 100 }));
  return all.map((x) => ({
    user: x.user?.login ?? '', state: x.state as ReviewInfo['state'], commitId: x.commit_id ?? '', submittedAt: x.submitted_at ?? '',
  }));
}

/** Members of teams given as @org/slug; a team that cannot be read is reported, not guessed. */
export async function teamMembers(gh: Octokit, teams: Iterable<string>): Promise<{ members: Record<string, string[]>; unreadable: string[] }> {
  const members: Record<string, string[]> = {};
  const unreadable: string[] = [];
  for (const team of teams) {
    const [org, slug] = team.replace(/^@/, '').split('/');
    if (!org || !slug) {
      unreadable.push(team);
      continue;
    }
    try {
      const list = await call(`list members of ${team}`, () => gh.paginate(gh.rest.teams.listMembersInOrg, { org, team_slug: slug, per_page: 100 }));
      members[team] = list.map((m) => m.login);
    } catch (e) {
      // 404: no such team, or a secret one; 403: a token without the organisation's members:read
      // (the workflow's own GITHUB_TOKEN). Either way the gate must say who it could not judge.
      if (e instanceof ExternalError && (e.details.status === 404 || e.details.status === 403)) unreadable.push(team);
      else throw e;
    }
  }
  return { members, unreadable };
}

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
}

/** GitHub's limit on a check run's summary and text, in characters. */
export const checkRunTextLimit = 65_535;
/** GitHub's limit on an issue comment's body. */
export const commentLimit = 65_536;

/** GitHub Actions' app: the owner of check runs made with a workflow's GITHUB_TOKEN. */
export const githubActionsAppId = 15368;

/**
 * Creates the named check run on `headSha`, or updates the one already there, so every push,
 * review and re-run leaves exactly one. Only runs of app `appId` (ours) are looked for: GitHub
 * lets only the app that created a run update it, and a run of the same name from another app
 * (a workflow job named "modelship") is someone else's, left alone.
 */
export async function upsertCheckRun(gh: Octokit, r: RepoRef, run: { name: string; appId: number; headSha: string; conclusion: 'success' | 'failure' | 'neutral' | 'action_required'; output: CheckRunOutput; detailsUrl?: string }): Promise<{ id: number; created: boolean }> {
  const existing = await call(`list check runs of ${run.headSha.slice(0, 12)}`, async () =>
    (await gh.rest.checks.listForRef({ ...r, ref: run.headSha, check_name: run.name, app_id: run.appId, filter: 'latest', per_page: 1 })).data.check_runs[0]);
  const body = {
    ...r, name: run.name, head_sha: run.headSha, status: 'completed' as const, conclusion: run.conclusion, completed_at: new Date().toISOString(),
    output: { title: run.output.title.slice(0, 255), summary: run.output.summary.slice(0, checkRunTextLimit), ...(run.output.text ? { text: run.output.text.slice(0, checkRunTextLimit) } : {}) },
    ...(run.detailsUrl ? { details_url: run.detailsUrl } : {}),
  };
  if (existing) {
    const { head_sha: _h, ...update } = body;
    await call(`update check run ${existing.id}`, () => gh.rest.checks.update({ ...update, check_run_id: existing.id }));
    return { id: existing.id, created: false };
  }
  const created = await call('create the check run', async () => (await gh.rest.checks.create(body)).data);
  return { id: created.id, created: true };
}

/** Who wrote a comment that counts as ours: a GitHub App (its bot, performed via the app) or a login. */
export interface CommentAuthor {
  appId?: number;
  login?: string;
}

/**
 * Creates or edits in place the one comment on a pull request that carries `marker` and was
 * written by `author` (when given): a comment holding the marker by anyone else is not ours to edit.
 */
export async function upsertStickyComment(gh: Octokit, r: RepoRef, number: number, marker: string, body: string, author?: CommentAuthor): Promise<{ id: number; created: boolean }> {
  const comments = await call(`list comments of #${number}`, () => gh.paginate(gh.rest.issues.listComments, { ...r, issue_number: number, per_page: 100 }));
  const byAuthor = (c: (typeof comments)[number]) => !author
    || (author.appId !== undefined && c.performed_via_github_app?.id === author.appId)
    || (author.login !== undefined && c.user?.login === author.login);
  const mine = comments.find((c) => c.body?.includes(marker) && byAuthor(c));
  const text = body.slice(0, commentLimit);
  if (mine) {
    await call(`edit comment ${mine.id}`, () => gh.rest.issues.updateComment({ ...r, comment_id: mine.id, body: text }));
    return { id: mine.id, created: false };
  }
  // Not retried: a 5xx after GitHub stored the comment would leave two; the next run finds and edits the one.
  const created = await call(`comment on #${number}`, async () => (await gh.rest.issues.createComment({ ...r, issue_number: number, body: text })).data, { retry: false });
  return { id: created.id, created: true };
}

/** The GitHub logins of a commit's author and committer (those GitHub could match to an account). */
export async function commitLogins(gh: Octokit, r: RepoRef, sha: string): Promise<string[]> {
  const c = await call(`read commit ${sha.slice(0, 12)}`, async () => (await gh.rest.repos.getCommit({ ...r, ref: sha, per_page: 1 })).data);
  return [c.author, c.committer].map((u) => (u && 'login' in u ? u.login : undefined)).filter((l): l is string => !!l);
}

export interface IssueRef {
  number: number;
  url: string;
  created: boolean;
}

/**
 * Opens an issue, or edits the title and body of the open one (labelled `labels[0]`) whose body
 * carries `marker`, so a trigger that fires every run keeps one issue up to date instead of
 * opening another. A closed issue is left closed: the next firing opens a new one.
 */
export async function openOrUpdateIssue(gh: Octokit, r: RepoRef, issue: { marker: string; title: string; body: string; labels: string[] }): Promise<IssueRef> {
  const open = await call('list open issues', () => gh.paginate(gh.rest.issues.listForRepo, {
    ...r, state: 'open', ...(issue.labels[0] ? { labels: issue.labels[0] } : {}), per_page: 100,
  }));
  // The list holds pull requests too; only an issue can be the one.
  const mine = open.find((i) => !i.pull_request && i.body?.includes(issue.marker));
  const body = issue.body.slice(0, commentLimit);
  if (mine) {
    const updated = await call(`update issue #${mine.number}`, async () =>
      (await gh.rest.issues.update({ ...r, issue_number: mine.number, title: issue.title.slice(0, 256), body })).data);
    return { number: updated.number, url: updated.html_url, created: false };
  }
  // Not retried, like a comment: a 5xx after GitHub stored the issue would leave two.
  const created = await call('open an issue', async () =>
    (await gh.rest.issues.create({ ...r, title: issue.title.slice(0, 256), body, labels: issue.labels })).data, { retry: false });
  return { number: created.number, url: created.html_url, created: true };
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive' | 'queued' | 'pending';

/** GitHub's limit on a deployment status description, in characters. */
export const deploymentStatusDescriptionLimit = 140;

/**
 * The task modelship's deployments carry, and are found by. A workflow job with `environment:`
 * makes GitHub Actions create its own deployment of the same commit to the same environment with
 * task "deploy" (https://docs.github.com/actions/using-jobs/using-environments-for-jobs;
 * DeploymentSimple in github/rest-api-description), by the same github-actions[bot] the
 * workflow's token acts as: only a task of our own tells our deployment from that one. GitHub's
 * REST reference gives "deploy:migrations" as an example of a task.
 */
export const deploymentTask = 'deploy:modelship';

/**
 * The GitHub Deployment of commit `sha` to `environment`: found if an earlier run made it (a
 * re-run after a crash adds statuses to the same one), else created for exactly that commit
 * (auto_merge off; no required contexts: the checks gated the pull request, not main's tip).
 */
export async function findOrCreateDeployment(gh: Octokit, r: RepoRef, d: {
  sha: string; environment: string; description: string; payload: Record<string, unknown>; production: boolean;
}): Promise<{ id: number; url: string; created: boolean }> {
  const existing = await call(`list deployments of ${d.sha.slice(0, 12)} to ${d.environment}`, async () =>
    (await gh.rest.repos.listDeployments({ ...r, sha: d.sha, environment: d.environment, task: deploymentTask, per_page: 1 })).data[0]);
  if (existing) return { id: existing.id, url: existing.url, created: false };
  // Not retried: a 5xx after GitHub stored it would leave two; the next run finds the one.
  const created = await call(`create a deployment of ${d.sha.slice(0, 12)} to ${d.environment}`, async () => {
    const res = await gh.rest.repos.createDeployment({
      ...r, ref: d.sha, task: deploymentTask, auto_merge: false, required_contexts: [], environment: d.environment,
      description: d.description, payload: d.payload, production_environment: d.production, transient_environment: false,
    });
    if (res.status !== 201) throw new ExternalError('github', 'create a deployment', `GitHub answered ${res.status}: ${(res.data as { message?: string }).message ?? ''}`);
    return res.data as { id: number; url: string };
  }, { retry: false });
  return { id: created.id, url: created.url, created: true };
}

/** Adds a status to a deployment (the description is cut to GitHub's 140 characters). */
export async function setDeploymentStatus(gh: Octokit, r: RepoRef, deploymentId: number, s: { state: DeploymentState; description: string; logUrl?: string; environmentUrl?: string }): Promise<void> {
  const description = s.description.length > deploymentStatusDescriptionLimit ? `${s.description.slice(0, deploymentStatusDescriptionLimit - 1)}…` : s.description;
  await call(`set deployment ${deploymentId} ${s.state}`, () => gh.rest.repos.createDeploymentStatus({
    ...r, deployment_id: deploymentId, state: s.state, description,
    ...(s.logUrl ? { log_url: s.logUrl } : {}), ...(s.environmentUrl ? { environment_url: s.environmentUrl } : {}),
  }));
}

/** A merged (or closed) pull request as the audit trail records it. */
export interface MergedPullInfo extends PullInfo {
  title: string;
  mergedAt?: string;
  mergedBy?: string;
}

/** The pull request with who merged it and when (audit mirror --github). */
export async function getMergedPull(gh: Octokit, r: RepoRef, number: number): Promise<MergedPullInfo> {
  const p = await call(`read pull request #${number}`, async () => (await gh.rest.pulls.get({ ...r, pull_number: number })).data);
  return {
    number: p.number, author: p.user?.login ?? '', headSha: p.head.sha, headRef: p.head.ref, baseRef: p.base.ref, baseSha: p.base.sha, body: p.body ?? '', url: p.html_url,
    title: p.title, ...(p.merged_at ? { mergedAt: p.merged_at } : {}), ...(p.merged_by?.login ? { mergedBy: p.merged_by.login } : {}),
  };
}

/**
 * The pull requests GitHub associates with a commit (GET .../commits/{sha}/pulls): for a commit
 * on the default branch, the merged one that introduced it. Each with its merge commit, so the
 * caller can tell the pull request's own merge from a commit it only contains.
 */
export async function pullsOfCommit(gh: Octokit, r: RepoRef, sha: string): Promise<Array<{ number: number; mergedAt?: string; mergeCommitSha?: string; baseRef: string }>> {
  const pulls = await call(`read the pull requests of commit ${sha.slice(0, 12)}`, async () => gh.paginate(gh.rest.repos.listPullRequestsAssociatedWithCommit, { ...r, commit_sha: sha, per_page: 100 }));
  return pulls.map((p) => ({ number: p.number, baseRef: p.base.ref, ...(p.merged_at ? { mergedAt: p.merged_at } : {}), ...(p.merge_commit_sha ? { mergeCommitSha: p.merge_commit_sha } : {}) }));
}

export interface CheckRunInfo {
  id: number;
  conclusion?: string;
  summary?: string;
}

/** The latest check run named `name` on `ref`, if there is one. */
export async function latestCheckRun(gh: Octokit, r: RepoRef, ref: string, name: string): Promise<CheckRunInfo | undefined> {
  const runs = await call(`read the ${name} check run of ${ref.slice(0, 12)}`, async () => (await gh.rest.checks.listForRef({ ...r, ref, check_name: name, filter: 'latest', per_page: 1 })).data.check_runs);
  const run = runs[0];
  if (!run) return undefined;
  return { id: run.id, ...(run.conclusion ? { conclusion: run.conclusion } : {}), ...(run.output?.summary ? { summary: run.output.summary } : {}) };
}

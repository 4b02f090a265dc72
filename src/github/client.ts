// The GitHub calls modelship makes, through Octokit. Thin: each function is one or two API
// calls with an error that says what was being done.

import { Octokit } from '@octokit/rest';
import { ExternalError } from '../errors.js';

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

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const status = (e as { status?: number }).status;
    const response = (e as { response?: { data?: { message?: string; errors?: Array<{ message?: string }> } } }).response;
    const detail = [response?.data?.message, ...(response?.data?.errors ?? []).map((x) => x.message)].filter(Boolean).join('; ') || (e as Error).message;
    const hint = status === 401 ? 'the token is invalid or expired'
      : status === 403 || status === 404 ? 'check that the token may read and write pull requests in this repository'
        : undefined;
    throw new ExternalError('github', operation, status ? `HTTP ${status}: ${detail}` : detail,
      { cause: e, retryable: status === undefined || status >= 500, ...(status ? { status } : {}), ...(hint ? { hint } : {}) });
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

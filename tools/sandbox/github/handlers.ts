// What the GitHub stand-in does for each operation it implements, with GitHub's rules (the
// duplicate pull request, the review-request restrictions, check-run status and conclusion).
// Requests reach a handler already validated against the operation's OpenAPI schema, with
// query defaults filled in; lists are returned whole and paginated by the server.

import type { Renderer } from './render.js';
import { randomBytes } from 'node:crypto';
import { fakeSha, githubActionsApp, type AppRecord, type CheckRunRecord, type DeploymentRecord, type DeploymentStatusRecord, type GitHubState, type IssueRecord, type PullRecord } from './state.js';

type Json = any;

export interface HandlerInput {
  path: Record<string, Json>;
  query: Record<string, Json>;
  body: Json;
}

/** A list answer: the server slices it by per_page/page, renders the page and writes the Link header. */
export interface ListReply {
  status: number;
  items: unknown[];
  render: (item: any) => unknown;
  /** wraps a page for namespaced lists, e.g. {total_count, check_runs} */
  wrap?: (page: unknown[], total: number) => unknown;
}

export type Reply = { status: number; body: unknown; headers?: Record<string, string> } | ListReply;

export type Handler = (input: HandlerInput, s: GitHubState, r: Renderer) => Reply;

/** An error answer with a GitHub-style body; the server adds documentation_url. */
export class GitHubError extends Error {
  constructor(readonly status: number, readonly body: { message: string; errors?: unknown[] }) {
    super(body.message);
  }
}

const notFound = () => new GitHubError(404, { message: 'Not Found' });
const failed = (...errors: Array<Record<string, unknown>>) => new GitHubError(422, { message: 'Validation Failed', errors });
const custom = (resource: string, message: string, field?: string) => failed({ resource, code: 'custom', ...(field ? { field } : {}), message });

/** GitHub refuses issue, pull request and comment bodies longer than this. */
const MAX_BODY = 65536;

function checkBody(resource: string, body: unknown): void {
  if (typeof body === 'string' && body.length > MAX_BODY) throw custom(resource, `Body is too long (maximum is ${MAX_BODY} characters)`, 'body');
}

function pullOr404(s: GitHubState, n: number): PullRecord {
  const p = s.pull(n);
  if (!p) throw notFound();
  return p;
}

function issueOr404(s: GitHubState, n: number): IssueRecord {
  const i = s.issues.get(n);
  if (!i) throw notFound();
  return i;
}

/** Sorts by a timestamp (ties by number or id, oldest first), in the direction asked. */
function sorted<T extends { id: number }>(items: T[], key: (x: T) => string | number, direction: string): T[] {
  const asc = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id));
  return direction === 'asc' ? asc : asc.reverse();
}

function setState(s: GitHubState, i: IssueRecord, now: string, state: 'open' | 'closed' | undefined, reason?: string | null): void {
  if (!state || state === i.state) return;
  if (state === 'open' && i.pull?.mergedAt) throw custom('PullRequest', 'state cannot be changed. The pull request has been merged.', 'state');
  i.state = state;
  i.closedAt = state === 'closed' ? now : null;
  i.closedBy = state === 'closed' ? s.actor.login : null;
  i.stateReason = i.pull ? null : state === 'closed' ? reason ?? 'completed' : reason ?? 'reopened';
}

const labelNames = (labels: Array<string | { name?: string }> | undefined) =>
  labels?.map((l) => (typeof l === 'string' ? l : l.name ?? '')).filter((l) => l !== '');

// --- pull requests ---

const createPull: Handler = ({ body: b }, s, r) => {
  const [headOwner, headRef] = b.head.includes(':') ? b.head.split(/:(.*)/s, 2) : [s.owner, b.head];
  let issue: IssueRecord | undefined;
  if (b.issue !== undefined) {
    issue = s.issues.get(b.issue);
    if (!issue || issue.pull) throw failed({ resource: 'PullRequest', field: 'issue', code: 'invalid' });
  } else if (b.title === undefined) throw failed({ resource: 'PullRequest', field: 'title', code: 'missing_field' });
  checkBody('PullRequest', b.body);
  if (headOwner === s.owner && headRef === b.base) throw custom('PullRequest', `No commits between ${b.base} and ${headRef}`);
  const duplicate = s.pulls().find((p) => p.state === 'open' && p.pull.headOwner === headOwner && p.pull.headRef === headRef && p.pull.baseRef === b.base);
  if (duplicate) throw custom('PullRequest', `A pull request already exists for ${headOwner}:${headRef}.`);
  if (!s.branches.has(b.base)) s.branches.set(b.base, fakeSha(`${s.owner}/${s.repo}@${b.base}`));
  let headSha = headOwner === s.owner ? s.branches.get(headRef) : undefined;
  if (!headSha) {
    headSha = fakeSha(`${headOwner}/${s.repo}@${headRef}`);
    if (headOwner === s.owner) s.branches.set(headRef, headSha);
  }
  const now = s.now();
  const pr = (issue ?? {
    id: s.nextId(), number: s.nextNumber(), title: String(b.title), body: b.body ?? null, state: 'open', stateReason: null,
    user: s.actor.login, labels: [], assignees: [], createdAt: now, updatedAt: now, closedAt: null, closedBy: null,
  }) as PullRecord;
  pr.pull = {
    headOwner, headRef, headSha, baseRef: b.base, draft: b.draft ?? false, maintainerCanModify: b.maintainer_can_modify ?? true,
    mergedAt: null, mergedBy: null, mergeCommitSha: null, requestedReviewers: [], requestedTeams: [],
  };
  s.issues.set(pr.number, pr);
  const body = r.pullRequest(pr);
  return { status: 201, body, headers: { location: body.url } };
};

const listPulls: Handler = ({ query: q }, s, r) => {
  let pulls = s.pulls().filter((p) => q.state === 'all' || p.state === q.state);
  // GitHub applies `head` only in the user:ref form and ignores a bare branch name.
  if (typeof q.head === 'string' && q.head.includes(':')) {
    const [owner, ref] = q.head.split(/:(.*)/s, 2);
    pulls = pulls.filter((p) => p.pull.headOwner.toLowerCase() === owner!.toLowerCase() && p.pull.headRef === ref);
  }
  if (q.base) pulls = pulls.filter((p) => p.pull.baseRef === q.base);
  const sort = q.sort ?? 'created';
  const key = sort === 'updated' ? (p: PullRecord) => p.updatedAt
    : sort === 'popularity' ? (p: PullRecord) => s.comments.filter((c) => c.issueNumber === p.number).length
      : (p: PullRecord) => p.createdAt;
  const direction = q.direction ?? (sort === 'created' ? 'desc' : 'asc');
  return { status: 200, items: sorted(pulls, key, sort === 'long-running' ? (direction === 'asc' ? 'desc' : 'asc') : direction), render: r.pullRequestSimple };
};

const updatePull: Handler = ({ path, body: b }, s, r) => {
  const pr = pullOr404(s, path.pull_number);
  checkBody('PullRequest', b.body);
  if (b.title !== undefined) pr.title = b.title;
  if (b.body !== undefined) pr.body = b.body;
  if (b.base !== undefined) pr.pull.baseRef = b.base;
  if (b.maintainer_can_modify !== undefined) pr.pull.maintainerCanModify = b.maintainer_can_modify;
  const now = s.now();
  setState(s, pr, now, b.state);
  pr.updatedAt = now;
  return { status: 200, body: r.pullRequest(pr) };
};

const requestReviewers: Handler = ({ path, body: b }, s, r) => {
  const pr = pullOr404(s, path.pull_number);
  const users: string[] = b.reviewers ?? [];
  const teams: string[] = b.team_reviewers ?? [];
  if (users.includes(pr.user)) throw custom('PullRequest', 'Review cannot be requested from pull request author.');
  const strangers = users.filter((u) => s.collaborators && !s.collaborators.has(u));
  const unknownTeams = teams.filter((t) => !s.team(s.owner, t));
  if (strangers.length || unknownTeams.length) {
    throw custom('PullRequest', `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${s.owner}/${s.repo} repository.`);
  }
  pr.pull.requestedReviewers = [...new Set([...pr.pull.requestedReviewers, ...users])];
  pr.pull.requestedTeams = [...new Set([...pr.pull.requestedTeams, ...teams.map((t) => t.toLowerCase())])];
  pr.updatedAt = s.now();
  return { status: 201, body: r.pullRequestSimple(pr) };
};

const mergePull: Handler = ({ path, body }, s) => {
  const pr = pullOr404(s, path.pull_number);
  if (pr.state !== 'open') throw new GitHubError(405, { message: 'Pull Request is not mergeable' });
  if (body?.sha && body.sha !== pr.pull.headSha) throw new GitHubError(409, { message: 'Head branch was modified. Review and try the merge again.' });
  const now = s.now();
  const sha = fakeSha(`merge ${pr.number} ${pr.pull.headSha} ${body?.merge_method ?? 'merge'}`);
  Object.assign(pr.pull, { mergedAt: now, mergedBy: s.actor.login, mergeCommitSha: sha });
  Object.assign(pr, { state: 'closed', closedAt: now, closedBy: s.actor.login, updatedAt: now });
  s.branches.set(pr.pull.baseRef, sha);
  return { status: 200, body: { sha, merged: true, message: 'Pull Request successfully merged' } };
};

// --- issues and comments ---

const createIssue: Handler = ({ body: b }, s, r) => {
  checkBody('Issue', b.body);
  if (b.milestone !== undefined && b.milestone !== null) throw failed({ resource: 'Issue', field: 'milestone', code: 'invalid', value: b.milestone });
  const now = s.now();
  const issue: IssueRecord = {
    id: s.nextId(), number: s.nextNumber(), title: String(b.title), body: b.body ?? null, state: 'open', stateReason: null,
    user: s.actor.login, labels: labelNames(b.labels) ?? [], assignees: b.assignees ?? (b.assignee ? [b.assignee] : []),
    createdAt: now, updatedAt: now, closedAt: null, closedBy: null,
  };
  s.issues.set(issue.number, issue);
  const body = r.issue(issue);
  return { status: 201, body, headers: { location: body.url } };
};

const updateIssue: Handler = ({ path, body: b }, s, r) => {
  const issue = issueOr404(s, path.issue_number);
  checkBody('Issue', b.body);
  if (b.milestone !== undefined && b.milestone !== null) throw failed({ resource: 'Issue', field: 'milestone', code: 'invalid', value: b.milestone });
  if (b.title !== undefined && b.title !== null) issue.title = String(b.title);
  if (b.body !== undefined) issue.body = b.body;
  if (b.labels !== undefined) issue.labels = labelNames(b.labels) ?? [];
  if (b.assignees !== undefined) issue.assignees = b.assignees;
  const now = s.now();
  setState(s, issue, now, b.state, b.state_reason);
  issue.updatedAt = now;
  return { status: 200, body: r.issue(issue) };
};

const listIssues: Handler = ({ query: q }, s, r) => {
  let issues = [...s.issues.values()].filter((i) => q.state === 'all' || i.state === q.state);
  if (q.labels) {
    const wanted = String(q.labels).split(',').map((l) => l.trim()).filter(Boolean);
    issues = issues.filter((i) => wanted.every((l) => i.labels.includes(l)));
  }
  if (q.creator) issues = issues.filter((i) => i.user === q.creator);
  if (q.assignee === 'none') issues = issues.filter((i) => i.assignees.length === 0);
  else if (q.assignee === '*') issues = issues.filter((i) => i.assignees.length > 0);
  else if (q.assignee) issues = issues.filter((i) => i.assignees.includes(q.assignee));
  if (q.milestone !== undefined && q.milestone !== 'none') issues = []; // there are no milestones
  if (q.since) issues = issues.filter((i) => Date.parse(i.updatedAt) >= Date.parse(q.since));
  const key = q.sort === 'updated' ? (i: IssueRecord) => i.updatedAt
    : q.sort === 'comments' ? (i: IssueRecord) => s.comments.filter((c) => c.issueNumber === i.number).length
      : (i: IssueRecord) => i.createdAt;
  return { status: 200, items: sorted(issues, key, q.direction), render: r.issue };
};

const createComment: Handler = ({ path, body: b }, s, r) => {
  const issue = issueOr404(s, path.issue_number);
  checkBody('IssueComment', b.body);
  const now = s.now();
  // A comment written with an installation token is the app's bot's, performed via the app.
  const c = {
    id: s.nextId(), issueNumber: issue.number, body: b.body, user: s.actor.login, createdAt: now, updatedAt: now,
    ...(s.actor.app && s.actor.login.endsWith('[bot]') ? { appId: s.actor.app.id } : {}),
  };
  s.comments.push(c);
  issue.updatedAt = now;
  const body = r.comment(c);
  return { status: 201, body, headers: { location: body.url } };
};

const updateComment: Handler = ({ path, body: b }, s, r) => {
  const c = s.comments.find((x) => x.id === path.comment_id);
  if (!c) throw notFound();
  // An app may edit only its own bot's comments (the installation has no other user's rights);
  // GitHub answers 403 "Resource not accessible by integration".
  if (s.actor.login.endsWith('[bot]') && c.user !== s.actor.login) throw new GitHubError(403, { message: 'Resource not accessible by integration' });
  checkBody('IssueComment', b.body);
  c.body = b.body;
  c.updatedAt = s.now();
  return { status: 200, body: r.comment(c) };
};

const listComments: Handler = ({ path, query: q }, s, r) => {
  issueOr404(s, path.issue_number);
  const comments = s.comments.filter((c) => c.issueNumber === path.issue_number && (!q.since || Date.parse(c.updatedAt) >= Date.parse(q.since)));
  return { status: 200, items: comments, render: r.comment };
};

const listReviews: Handler = ({ path }, s, r) => {
  pullOr404(s, path.pull_number);
  return { status: 200, items: s.reviews.filter((v) => v.pullNumber === path.pull_number), render: r.review };
};

// --- check runs ---

/** Applies a create or update body to a check run, with GitHub's status/conclusion rules. */
function applyCheck(s: GitHubState, c: CheckRunRecord, b: Json): void {
  if (b.name !== undefined) c.name = b.name;
  if (b.details_url !== undefined) c.detailsUrl = b.details_url;
  if (b.external_id !== undefined) c.externalId = b.external_id;
  if (b.started_at !== undefined) c.startedAt = b.started_at;
  if (b.output !== undefined) {
    c.output = { title: b.output.title ?? c.output.title, summary: b.output.summary ?? c.output.summary, text: b.output.text ?? c.output.text,
      annotationsCount: c.output.annotationsCount + (b.output.annotations?.length ?? 0) };
  }
  if (b.status !== undefined) c.status = b.status;
  if (b.conclusion !== undefined) c.status = 'completed'; // a conclusion completes the run
  if (b.conclusion !== undefined) c.conclusion = b.conclusion;
  if (c.status === 'completed' && c.conclusion === null) throw custom('CheckRun', 'conclusion must be present when status is completed', 'conclusion');
  if (c.status === 'completed') c.completedAt = b.completed_at ?? c.completedAt ?? s.now();
}

const createCheck: Handler = ({ body: b }, s, r) => {
  if (!/^[0-9a-f]{40}$/.test(b.head_sha)) throw new GitHubError(422, { message: `No commit found for SHA: ${b.head_sha}` });
  const c: CheckRunRecord = {
    id: s.nextId(), appId: s.actor.app?.id ?? githubActionsApp.id, name: b.name, headSha: b.head_sha, status: 'queued', conclusion: null, startedAt: s.now(), completedAt: null,
    detailsUrl: null, externalId: '', output: { title: null, summary: null, text: null, annotationsCount: 0 },
  };
  applyCheck(s, c, b);
  s.checkRuns.push(c);
  return { status: 201, body: r.checkRun(c) };
};

const updateCheck: Handler = ({ path, body: b }, s, r) => {
  const c = s.checkRuns.find((x) => x.id === path.check_run_id);
  if (!c) throw notFound();
  // Only the app that created a check run may update it. GitHub's answer, as seen by clients
  // patching a run GitHub Actions (app 15368) created: "403 Invalid app_id `15368` - check run
  // can only be modified by the GitHub App that created it." (int128/argocd-commenter#631,
  // OP5dev/TF-via-PR#538); the id named is the creator's.
  const requester = s.actor.app?.id ?? githubActionsApp.id;
  if (c.appId !== requester) throw new GitHubError(403, { message: `Invalid app_id \`${c.appId}\` - check run can only be modified by the GitHub App that created it.` });
  applyCheck(s, c, b);
  return { status: 200, body: r.checkRun(c) };
};

const listChecksForRef: Handler = ({ path, query: q }, s, r) => {
  const sha = s.resolveRef(path.ref);
  if (!sha) throw new GitHubError(422, { message: `No commit found for SHA: ${path.ref}` });
  let runs = s.checkRuns.filter((c) => c.headSha === sha && (!q.check_name || c.name === q.check_name) && (!q.status || c.status === q.status)
    && (q.app_id === undefined || c.appId === q.app_id));
  if (q.filter === 'latest') runs = runs.filter((c) => !runs.some((d) => d.name === c.name && d.id > c.id));
  return {
    status: 200, items: sorted(runs, (c) => c.id, 'desc'), render: r.checkRun,
    wrap: (page, total) => ({ total_count: total, check_runs: page }),
  };
};

// --- deployments ---

const createDeployment: Handler = ({ body: b }, s, r) => {
  const sha = s.resolveRef(b.ref);
  if (!sha) throw failed({ resource: 'Deployment', code: 'custom', field: 'ref', message: `No ref found for: ${b.ref}` });
  // auto_merge (default true) would merge the default branch into `ref` when it is behind; a
  // commit id cannot be merged into, so GitHub answers 409 unless the ref is the default branch's tip.
  if (b.auto_merge !== false && /^[0-9a-f]{40}$/.test(b.ref) && s.branches.get(s.defaultBranch) !== sha) {
    throw new GitHubError(409, { message: `Conflict merging ${s.defaultBranch} into ${b.ref}.` });
  }
  // required_contexts (default: every context) must all have succeeded on the commit.
  const runs = s.checkRuns.filter((c) => c.headSha === sha);
  const required: string[] = b.required_contexts ?? [...new Set(runs.map((c) => c.name))];
  const failing = required.filter((name) => {
    const latest = runs.filter((c) => c.name === name).sort((x, y) => y.id - x.id)[0];
    return !latest || latest.status !== 'completed' || !['success', 'neutral', 'skipped'].includes(latest.conclusion ?? '');
  });
  if (failing.length) {
    throw new GitHubError(409, { message: 'Conflict: Commit status checks failed for ' + b.ref + '.', errors: failing.map((c) => ({ contexts: [{ context: c, state: 'failure' }], resource: 'Deployment', field: 'required_contexts', code: 'invalid' })) });
  }
  const now = s.now();
  const environment = b.environment ?? 'production';
  const d: DeploymentRecord = {
    id: s.nextId(), sha, ref: b.ref, task: b.task ?? 'deploy', payload: b.payload ?? {}, environment,
    description: b.description === undefined ? '' : b.description, creator: s.actor.login, createdAt: now, updatedAt: now,
    transientEnvironment: b.transient_environment ?? false,
    productionEnvironment: b.production_environment ?? environment === 'production',
    statuses: [],
  };
  s.deployments.push(d);
  return { status: 201, body: r.deployment(d) };
};

const listDeployments: Handler = ({ query: q }, s, r) => {
  const items = s.deployments.filter((d) => (q.sha === 'none' || d.sha === q.sha) && (q.ref === 'none' || d.ref === q.ref)
    && (q.task === 'none' || d.task === q.task) && (q.environment === undefined || q.environment === null || q.environment === 'none' || d.environment === q.environment));
  return { status: 200, items: sorted(items, (d) => d.id, 'desc'), render: r.deployment };
};

const createDeploymentStatus: Handler = ({ path, body: b }, s, r) => {
  const d = s.deployments.find((x) => x.id === path.deployment_id);
  if (!d) throw notFound();
  const now = s.now();
  const status = (state: DeploymentStatusRecord['state'], description: string, environmentUrl = '', logUrl = ''): DeploymentStatusRecord =>
    ({ id: s.nextId(), state, description, environmentUrl, logUrl, creator: s.actor.login, createdAt: now });
  if (typeof b.description === 'string' && b.description.length > 140) throw custom('DeploymentStatus', 'description is too long (maximum is 140 characters)', 'description');
  const st = status(b.state, b.description ?? '', b.environment_url ?? '', b.log_url || b.target_url || '');
  d.statuses.push(st);
  d.updatedAt = now;
  // auto_inactive (default true): a success makes the earlier successful deployments of the same
  // environment inactive, except transient and production ones.
  if (b.state === 'success' && b.auto_inactive !== false) {
    for (const other of s.deployments) {
      if (other === d || other.environment !== d.environment || other.transientEnvironment || other.productionEnvironment) continue;
      if (other.statuses.at(-1)?.state === 'success') {
        other.statuses.push(status('inactive', ''));
        other.updatedAt = now;
      }
    }
  }
  return { status: 201, body: r.deploymentStatus(d, st) };
};

// --- teams ---

const listTeamMembers: Handler = ({ path, query: q }, s, r) => {
  const members = s.team(path.org, path.team_slug);
  if (!members) throw notFound();
  return { status: 200, items: q.role === 'maintainer' ? [] : members, render: r.user };
};

const teamMembership: Handler = ({ path }, s, r) => {
  const members = s.team(path.org, path.team_slug);
  if (!members?.includes(path.username)) throw notFound();
  return { status: 200, body: r.teamMembership(`${path.org}/${path.team_slug}`.toLowerCase(), path.username) };
};

// --- GitHub Apps ---
// The server has authenticated the request (server.ts): a JWT sets s.actor.jwt, an installation
// token sets s.actor.app with login <slug>[bot].

/** GitHub's answer to an app endpoint called without the app's JWT. */
function jwtApp(s: GitHubState): AppRecord {
  if (!s.actor.jwt) throw new GitHubError(401, { message: 'A JSON web token could not be decoded' });
  return s.actor.jwt;
}

/** An installation access token lives one hour (https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app). */
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

const createInstallationToken: Handler = ({ path }, s, r) => {
  const app = jwtApp(s);
  if (path.installation_id !== app.installationId) throw notFound();
  const token = `ghs_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
  const expiresAt = s.nowMs() + TOKEN_LIFETIME_MS;
  s.installationTokens.set(token, { appId: app.id, expiresAt });
  return { status: 201, body: r.installationToken(token, expiresAt) };
};

const getCommit: Handler = ({ path }, s, r) => {
  const sha = s.resolveRef(path.ref);
  const commit = sha ? s.commits.get(sha) : undefined;
  if (!sha || !commit) throw new GitHubError(422, { message: `No commit found for SHA: ${path.ref}` });
  return { status: 200, body: r.commit(sha, commit) };
};

/**
 * GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls. GitHub's reference: "Lists the merged
 * pull request that introduced the commit to the repository. If the commit is not present in the
 * default branch, it will return merged and open pull requests associated with the commit"; the
 * commit may be named by a branch. Here a pull request introduced a commit when the commit is its
 * merge commit or its head (the stand-in holds no pull request's other commits). The stand-in
 * holds no git data either: a full commit id is taken to be a commit of the repository (the
 * tests' real repositories are pushed beside it, as to GitHub), so one no pull request names has
 * none, as a direct push to the default branch has on GitHub; a name that is neither a commit id
 * nor a branch is GitHub's 422 "No commit found for SHA".
 */
const pullsOfCommit: Handler = ({ path }, s, r) => {
  const sha = s.resolveRef(path.commit_sha);
  if (!sha) throw new GitHubError(422, { message: `No commit found for SHA: ${path.commit_sha}` });
  const related = s.pulls().filter((p) => p.pull.mergeCommitSha === sha || p.pull.headSha === sha);
  const onDefault = related.some((p) => p.pull.mergeCommitSha === sha && p.pull.baseRef === s.defaultBranch);
  const pulls = onDefault ? related.filter((p) => p.pull.mergedAt) : related.filter((p) => p.pull.mergedAt || p.state === 'open');
  return { status: 200, items: pulls, render: r.pullRequestSimple };
};

/**
 * GET /user: the person a token belongs to. GitHub answers 403 "Resource not accessible by
 * integration" to an app's installation token, a workflow's GITHUB_TOKEN included
 * (docs.github.com/rest/users/users#get-the-authenticated-user: "works with user access
 * tokens"; installation tokens are not a user's).
 */
const authenticatedUser: Handler = (_in, s, r) => {
  if (s.actor.app) throw new GitHubError(403, { message: 'Resource not accessible by integration' });
  return { status: 200, body: r.authenticatedUser(s.actor.login) };
};

/** The implemented operations; the others in the subset answer 501. */
export const handlers: Record<string, Handler> = {
  'repos/get': (_in, _s, r) => ({ status: 200, body: r.fullRepository() }),
  'pulls/create': createPull,
  'pulls/get': ({ path }, s, r) => ({ status: 200, body: r.pullRequest(pullOr404(s, path.pull_number)) }),
  'pulls/list': listPulls,
  'pulls/update': updatePull,
  'pulls/request-reviewers': requestReviewers,
  'pulls/list-reviews': listReviews,
  'pulls/merge': mergePull,
  'issues/create': createIssue,
  'issues/update': updateIssue,
  'issues/list-for-repo': listIssues,
  'issues/create-comment': createComment,
  'issues/update-comment': updateComment,
  'issues/list-comments': listComments,
  'checks/create': createCheck,
  'checks/update': updateCheck,
  'checks/list-for-ref': listChecksForRef,
  'repos/create-deployment': createDeployment,
  'repos/list-deployments': listDeployments,
  'repos/create-deployment-status': createDeploymentStatus,
  'teams/list-members-in-org': listTeamMembers,
  'teams/get-membership-for-user-in-org': teamMembership,
  'repos/get-commit': getCommit,
  'repos/list-pull-requests-associated-with-commit': pullsOfCommit,
  'users/get-authenticated': authenticatedUser,
  'apps/get-authenticated': (_in, s, r) => ({ status: 200, body: r.integration(jwtApp(s)) }),
  'apps/get-repo-installation': (_in, s, r) => ({ status: 200, body: r.installation(jwtApp(s)) }),
  'apps/create-installation-access-token': createInstallationToken,
};

// Response objects of the GitHub stand-in, each built from GitHub's own published example of
// that object (components.examples) with the stand-in's state written over it, so every field
// a client might read is present and shaped as on GitHub. Fields the stand-in has no data for
// (e.g. line counts of a diff) keep neutral values.

import { example } from './openapi.js';
import { githubActionsApp, type AppRecord, type CommitRecord, type CheckRunRecord, type CommentRecord, DeploymentRecord, DeploymentStatusRecord, GitHubState, IssueRecord, PullRecord, ReviewRecord } from './state.js';

type Json = any;

/** Deep copy of `value` with every string passed through `rewrite`. */
function mapStrings(value: Json, rewrite: (s: string) => string): Json {
  if (typeof value === 'string') return rewrite(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, rewrite));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, rewrite)]));
  return value;
}

const nodeId = (kind: string, id: number) => Buffer.from(`0:${kind}${id}`).toString('base64');

/** Keys a pull-request has and a pull-request-simple (list item) does not. */
const DETAIL_ONLY = ['merged', 'mergeable', 'rebaseable', 'mergeable_state', 'merged_by', 'comments', 'review_comments',
  'maintainer_can_modify', 'commits', 'additions', 'deletions', 'changed_files'];

export type Renderer = ReturnType<typeof renderer>;

/** The response builders for one stand-in; `api` is its base URL. */
export function renderer(s: GitHubState, api: string) {
  const full = `${s.owner}/${s.repo}`;
  const repoApi = `${api}/repos/${full}`;
  const repoHtml = `https://github.com/${full}`;
  const repoId = 4200;

  /** Points an example's URLs at this stand-in and this repository. */
  const relocate = (value: Json, more: Array<[RegExp, string]> = []) => mapStrings(value, (str) => {
    let out = str
      .replace(/^https:\/\/api\.github\.com\/repos\/(octocat\/Hello-World|github\/hello-world)/, repoApi)
      .replace(/^https:\/\/github\.com\/(octocat\/Hello-World|github\/hello-world)/, repoHtml)
      .replace(/^https:\/\/api\.github\.com/, api);
    for (const [from, to] of more) out = out.replace(from, to);
    return out;
  });

  function user(login: string): Json {
    // In URLs the login is percent-encoded, as GitHub does for a bot's: github-actions[bot] is
    // https://api.github.com/users/github-actions%5Bbot%5D.
    const u = mapStrings(example('pull-request').user, (str) => (/^https?:/.test(str) ? str.replace(/octocat/g, encodeURIComponent(login)) : str.replace(/octocat/g, login)).replace(/^https:\/\/api\.github\.com/, api));
    return { ...u, id: s.userId(login), node_id: nodeId('User', s.userId(login)), type: login.endsWith('[bot]') ? 'Bot' : 'User', site_admin: false };
  }

  function repository(owner = s.owner): Json {
    const r = relocate(example('pull-request').base.repo, [[/octocat\/Hello-World/, `${owner}/${s.repo}`]]);
    return { ...r, id: repoId, node_id: nodeId('Repository', repoId), name: s.repo, full_name: `${owner}/${s.repo}`, owner: user(owner), fork: owner !== s.owner, default_branch: s.defaultBranch, private: true };
  }

  function fullRepository(): Json {
    const r = relocate(example('full-repository-default-response'), [[/octocat\/Hello-World/, full]]);
    for (const k of ['parent', 'source', 'template_repository', 'organization']) delete r[k];
    const openIssues = [...s.issues.values()].filter((i) => i.state === 'open').length;
    return {
      ...r, id: repoId, node_id: nodeId('Repository', repoId), name: s.repo, full_name: full, owner: user(s.owner),
      fork: false, private: true, visibility: 'private', default_branch: s.defaultBranch,
      open_issues: openIssues, open_issues_count: openIssues, language: null,
      ...(s.cloneUrl ? { clone_url: s.cloneUrl } : {}),
    };
  }

  function team(key: string): Json {
    const [org, slug] = key.split('/') as [string, string];
    const id = 300 + [...s.teams.keys()].indexOf(key.toLowerCase());
    const t = example('pull-request-simple-items')[0].requested_teams[0];
    return {
      ...t, id, node_id: nodeId('Team', id), name: slug, slug, description: null, permission: 'push', privacy: 'closed',
      url: `${api}/organizations/1/team/${id}`, html_url: `https://github.com/orgs/${org}/teams/${slug}`,
      members_url: `${api}/organizations/1/team/${id}/members{/member}`, repositories_url: `${api}/organizations/1/team/${id}/repos`,
      parent: null, type: 'organization',
    };
  }

  function label(name: string): Json {
    const l = relocate(example('issue').labels[0]);
    return { ...l, id: 7000 + name.length, node_id: nodeId('Label', name.length), name, description: null, default: false, url: `${repoApi}/labels/${encodeURIComponent(name)}` };
  }

  /** Rewrites the number and sha in an issue or pull request example's URLs. */
  const numbered = (value: Json, n: number, sha?: string) => relocate(value, [
    [/\/(pulls|issues|pull)\/1347/, `/$1/${n}`],
    ...(sha ? [[/6dcb09b5b57875f334f61aebed695e2e4193db5e/, sha] as [RegExp, string]] : []),
  ]);

  const association = (login: string) => (login === s.owner ? 'OWNER' : 'COLLABORATOR');
  const commentCount = (n: number) => s.comments.filter((c) => c.issueNumber === n).length;

  function pullRequest(p: PullRecord): Json {
    const x = p.pull;
    const baseSha = s.branches.get(x.baseRef) ?? s.resolveRef(s.defaultBranch)!;
    const merged = x.mergedAt !== null;
    return {
      ...numbered(example('pull-request'), p.number, x.headSha),
      id: p.id, node_id: nodeId('PullRequest', p.id), number: p.number, state: p.state, locked: false, active_lock_reason: null,
      title: p.title, user: user(p.user), body: p.body, labels: p.labels.map(label), milestone: null,
      created_at: p.createdAt, updated_at: p.updatedAt, closed_at: p.closedAt, merged_at: x.mergedAt, merge_commit_sha: x.mergeCommitSha,
      assignee: p.assignees[0] ? user(p.assignees[0]) : null, assignees: p.assignees.map(user),
      requested_reviewers: x.requestedReviewers.map(user),
      requested_teams: x.requestedTeams.map((slug) => team(`${s.owner}/${slug}`.toLowerCase())),
      head: { label: `${x.headOwner}:${x.headRef}`, ref: x.headRef, sha: x.headSha, user: user(x.headOwner), repo: repository(x.headOwner) },
      base: { label: `${s.owner}:${x.baseRef}`, ref: x.baseRef, sha: baseSha, user: user(s.owner), repo: repository() },
      author_association: association(p.user), auto_merge: null, draft: x.draft,
      merged, mergeable: p.state === 'open' ? true : null, rebaseable: p.state === 'open' ? true : null,
      mergeable_state: p.state === 'open' ? 'clean' : 'unknown', merged_by: x.mergedBy ? user(x.mergedBy) : null,
      comments: commentCount(p.number), review_comments: 0, maintainer_can_modify: x.maintainerCanModify,
      commits: 1, additions: 0, deletions: 0, changed_files: 0,
    };
  }

  function pullRequestSimple(p: PullRecord): Json {
    const r = pullRequest(p);
    for (const k of DETAIL_ONLY) delete r[k];
    return r;
  }

  function issue(i: IssueRecord): Json {
    const r = numbered(example('issue'), i.number);
    if (i.pull) r.pull_request = { ...numbered(r.pull_request, i.number), merged_at: i.pull.mergedAt };
    else delete r.pull_request;
    return {
      ...r, id: i.id, node_id: nodeId('Issue', i.id), number: i.number, state: i.state, state_reason: i.stateReason,
      title: i.title, body: i.body, user: user(i.user), labels: i.labels.map(label), milestone: null, locked: false, active_lock_reason: null,
      assignee: i.assignees[0] ? user(i.assignees[0]) : null, assignees: i.assignees.map(user), comments: commentCount(i.number),
      html_url: `${repoHtml}/${i.pull ? 'pull' : 'issues'}/${i.number}`,
      created_at: i.createdAt, updated_at: i.updatedAt, closed_at: i.closedAt, closed_by: i.closedBy ? user(i.closedBy) : null,
      author_association: association(i.user),
    };
  }

  /** A GitHub App as GitHub shows it (check runs' `app`, comments' `performed_via_github_app`, GET /app). */
  function integration(a: { id: number; slug: string; name: string }): Json {
    return {
      ...relocate(example('integration')), id: a.id, slug: a.slug, name: a.name, node_id: nodeId('Integration', a.id),
      owner: user(s.owner), html_url: `https://github.com/apps/${a.slug}`, client_id: `Iv1.${a.id.toString(16).padStart(16, '0')}`,
      permissions: { checks: 'write', contents: 'read', issues: 'write', metadata: 'read', pull_requests: 'write', members: 'read' },
      events: ['check_run', 'check_suite', 'merge_group', 'pull_request', 'pull_request_review', 'push'],
    };
  }

  function installation(a: AppRecord): Json {
    return {
      ...relocate(example('installation')), id: a.installationId, app_id: a.id, app_slug: a.slug, client_id: integration(a).client_id,
      account: user(s.owner), target_id: s.userId(s.owner), target_type: 'Organization', repository_selection: 'selected',
      access_tokens_url: `${api}/app/installations/${a.installationId}/access_tokens`, repositories_url: `${api}/installation/repositories`,
      html_url: `https://github.com/organizations/${s.owner}/settings/installations/${a.installationId}`,
      permissions: integration(a).permissions, events: integration(a).events, single_file_name: null,
      has_multiple_single_files: false, single_file_paths: [],
    };
  }

  function installationToken(token: string, expiresAtMs: number): Json {
    return {
      token, expires_at: new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions: { checks: 'write', contents: 'read', issues: 'write', metadata: 'read', pull_requests: 'write', members: 'read' },
      repository_selection: 'selected',
    };
  }

  function commit(sha: string, c: CommitRecord): Json {
    const r = relocate(example('commit'), [[/6dcb09b5b57875f334f61aebed695e2e4193db5e/g, sha]]);
    return {
      ...r, sha, node_id: nodeId('Commit', parseInt(sha.slice(0, 6), 16)),
      commit: { ...r.commit, message: c.message },
      author: c.author ? user(c.author) : null, committer: c.committer ? user(c.committer) : null,
    };
  }

  function comment(c: CommentRecord): Json {
    const isPull = s.issues.get(c.issueNumber)?.pull !== undefined;
    const app = c.appId !== undefined ? s.apps.get(c.appId) : undefined;
    return {
      ...relocate(example('issue-comment')), performed_via_github_app: app ? integration(app) : null, id: c.id, node_id: nodeId('IssueComment', c.id), body: c.body, user: user(c.user),
      url: `${repoApi}/issues/comments/${c.id}`, html_url: `${repoHtml}/${isPull ? 'pull' : 'issues'}/${c.issueNumber}#issuecomment-${c.id}`,
      issue_url: `${repoApi}/issues/${c.issueNumber}`, created_at: c.createdAt, updated_at: c.updatedAt, author_association: association(c.user),
    };
  }

  function review(r: ReviewRecord): Json {
    const html = `${repoHtml}/pull/${r.pullNumber}#pullrequestreview-${r.id}`;
    const pull = `${repoApi}/pulls/${r.pullNumber}`;
    return {
      ...example('pull-request-review-items')[0], id: r.id, node_id: nodeId('PullRequestReview', r.id), user: user(r.user), body: r.body,
      state: r.state, html_url: html, pull_request_url: pull, _links: { html: { href: html }, pull_request: { href: pull } },
      submitted_at: r.submittedAt, commit_id: r.commitId, author_association: association(r.user),
    };
  }

  function checkRun(c: CheckRunRecord): Json {
    const html = `${repoHtml}/runs/${c.id}`;
    const minimal = (p: PullRecord) => ({
      url: `${repoApi}/pulls/${p.number}`, id: p.id, number: p.number,
      head: { ref: p.pull.headRef, sha: p.pull.headSha, repo: { id: repoId, url: repoApi, name: s.repo } },
      base: { ref: p.pull.baseRef, sha: s.branches.get(p.pull.baseRef) ?? p.pull.headSha, repo: { id: repoId, url: repoApi, name: s.repo } },
    });
    return {
      ...relocate(example('check-run')), id: c.id, node_id: nodeId('CheckRun', c.id), name: c.name, head_sha: c.headSha,
      external_id: c.externalId, url: `${repoApi}/check-runs/${c.id}`, html_url: html, details_url: c.detailsUrl ?? html,
      status: c.status, conclusion: c.conclusion, started_at: c.startedAt, completed_at: c.completedAt,
      output: {
        title: c.output.title, summary: c.output.summary, text: c.output.text,
        annotations_count: c.output.annotationsCount, annotations_url: `${repoApi}/check-runs/${c.id}/annotations`,
      },
      check_suite: { id: parseInt(c.headSha.slice(0, 6), 16) },
      app: integration(s.apps.get(c.appId) ?? githubActionsApp),
      pull_requests: s.pulls().filter((p) => p.state === 'open' && p.pull.headSha === c.headSha && p.pull.headOwner === s.owner).map(minimal),
    };
  }

  function deployment(d: DeploymentRecord): Json {
    const url = `${repoApi}/deployments/${d.id}`;
    return {
      ...relocate(example('deployment-simple-example')), url, id: d.id, node_id: nodeId('Deployment', d.id), sha: d.sha, ref: d.ref, task: d.task,
      payload: d.payload, original_environment: d.environment, environment: d.environment, description: d.description, creator: user(d.creator),
      created_at: d.createdAt, updated_at: d.updatedAt, statuses_url: `${url}/statuses`, repository_url: repoApi,
      transient_environment: d.transientEnvironment, production_environment: d.productionEnvironment,
    };
  }

  /** GET /user for a person: GitHub's public-profile example, made this user's. */
  function authenticatedUser(login: string): Json {
    const u = mapStrings(example('private-user-response-with-public-profile-information'), (str) => (/^https?:/.test(str) ? str.replace(/octocat/g, encodeURIComponent(login)) : str.replace(/^octocat$/, login)).replace(/^https:\/\/api\.github\.com/, api));
    return { ...u, login, id: s.userId(login), node_id: nodeId('User', s.userId(login)), name: login, email: null, company: null, twitter_username: null };
  }

  function deploymentStatus(d: DeploymentRecord, st: DeploymentStatusRecord): Json {
    const url = `${repoApi}/deployments/${d.id}`;
    return {
      ...relocate(example('deployment-status')), url: `${url}/statuses/${st.id}`, id: st.id, node_id: nodeId('DeploymentStatus', st.id),
      state: st.state, creator: user(st.creator), description: st.description, environment: d.environment,
      target_url: st.logUrl, log_url: st.logUrl, environment_url: st.environmentUrl,
      created_at: st.createdAt, updated_at: st.createdAt, deployment_url: url, repository_url: repoApi,
    };
  }

  function teamMembership(key: string, login: string): Json {
    return { url: `${team(key).url}/memberships/${login}`, role: 'member', state: 'active' };
  }

  return { integration, installation, installationToken, commit, user, authenticatedUser, repository, fullRepository, team, pullRequest, pullRequestSimple, issue, comment, review, checkRun, deployment, deploymentStatus, teamMembership };
}

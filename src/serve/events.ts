// Which webhook deliveries start an evaluation, and of what: a delivery becomes a job (the pull
// request or merge group, its commits, the refs to fetch into the mirror) or is ignored with a
// reason. GitHub's payloads: https://docs.github.com/webhooks/webhook-events-and-payloads.

import type { CheckEvent } from '../adapters/github/event.js';
import type { RepoRef } from '../adapters/github/client.js';
import type { Job } from './queue.js';

export interface EvaluationJob extends Job {
  installationId: number;
  repo: RepoRef;
  /** where the mirror fetches from (the repository's clone_url) */
  cloneUrl: string;
  defaultBranch: string;
  /** the check flow's event: pull request, commits, where the check run goes */
  event: CheckEvent;
  /** refs to fetch besides the release branch */
  refs: string[];
  /** the login that pushed the head (a synchronize event's sender) */
  pusher?: string;
  /** the delivery that asked for it, for the log */
  delivery: string;
}

/** A push to the release branch, for the agent (src/agent/): reconcile at `after`. */
export interface PushRequest {
  /** absent from a repository webhook's delivery (not the App's): the agent finds the installation itself */
  installationId?: number;
  repo: RepoRef;
  cloneUrl: string;
  /** refs/heads/<release branch> */
  ref: string;
  /** the branch's new head */
  after: string;
  delivery: string;
}

/** The repository and branch the agent deploys from; pushes elsewhere are ignored. */
export interface ReleaseTarget {
  repository: RepoRef;
  /** default: the repository's default branch (from the payload) */
  branch?: string;
}

export type Routed = { job: EvaluationJob } | { ignored: string } | { push: PushRequest };

type Json = any;

const pullActions = new Set(['opened', 'synchronize', 'reopened', 'ready_for_review']);

/**
 * The job a delivery of `event` asks for, or why it asks for none. `appId` is ours: re-runs of other
 * apps' checks are theirs. `release`: where the agent deploys from (pushes there are routed to it).
 */
export function route(event: string, payload: Json, appId: number, delivery: string, release?: ReleaseTarget): Routed {
  const action = payload?.action as string | undefined;
  const what = action ? `${event}.${action}` : event;
  const installationId = payload?.installation?.id;
  const repository = payload?.repository;
  if (event === 'ping') return { ignored: 'ping' };
  // A push may come from a repository webhook rather than the App (one App has one webhook URL; an
  // agent in a second cluster gets the release repository's pushes from a repository webhook with
  // its own secret): it names no installation, which the agent does not need from it.
  if (event === 'push' && release && !Number.isInteger(installationId) && typeof repository?.full_name === 'string') {
    const [owner, repo] = repository.full_name.split('/');
    return routePush(payload, { repo: { owner, repo }, cloneUrl: repository.clone_url as string, defaultBranch: repository.default_branch as string, delivery }, release);
  }
  if (!Number.isInteger(installationId) || typeof repository?.full_name !== 'string') return { ignored: `${what} names no installation and repository` };
  const [owner, repo] = repository.full_name.split('/');
  const base = {
    installationId, repo: { owner, repo }, cloneUrl: repository.clone_url as string, defaultBranch: repository.default_branch as string, delivery,
  };
  const forPull = (pull: number, headSha: string, baseSha: string, name: CheckEvent['name'], pusher?: string): Routed => ({
    job: {
      ...base, key: `${repository.full_name}#${pull}`, describe: `#${pull} at ${headSha.slice(0, 12)} (${what})`,
      event: { name, repo: base.repo, pull, baseSha, headSha, checkSha: headSha },
      refs: [`refs/pull/${pull}/head`], ...(pusher ? { pusher } : {}),
    },
  });

  switch (event) {
    case 'pull_request': {
      const pr = payload.pull_request;
      // An edit matters only when it moved the pull request to another base branch.
      if (!(pullActions.has(action!) || (action === 'edited' && payload.changes?.base))) return { ignored: what };
      return forPull(pr.number, pr.head.sha, pr.base.sha, 'pull_request', action === 'synchronize' ? payload.sender?.login : undefined);
    }
    case 'pull_request_review': {
      if (action !== 'submitted' && action !== 'dismissed') return { ignored: what };
      const pr = payload.pull_request;
      return forPull(pr.number, pr.head.sha, pr.base.sha, 'pull_request_review');
    }
    case 'merge_group': {
      if (action !== 'checks_requested') return { ignored: what };
      const g = payload.merge_group;
      const pr = /\/pr-(\d+)-[0-9a-f]+$/.exec(g.head_ref ?? '');
      const pull = pr ? Number(pr[1]) : undefined;
      return {
        job: {
          ...base, key: `${repository.full_name}@${g.head_sha}`, describe: `merge group ${g.head_sha.slice(0, 12)} (${what})`,
          event: { name: 'merge_group', repo: base.repo, ...(pull ? { pull } : {}), baseSha: g.base_sha, headSha: g.head_sha, checkSha: g.head_sha },
          refs: [g.head_ref, ...(pull ? [`refs/pull/${pull}/head`] : [])],
        },
      };
    }
    case 'check_run': {
      // The re-run button on our own check run; another app's run is that app's to re-run.
      const run = payload.check_run;
      if (action !== 'rerequested') return { ignored: what };
      if (run?.app?.id !== appId) return { ignored: `${what} of another app's check run` };
      const pr = run.pull_requests?.[0];
      if (!pr) return { ignored: `${what} of a check run on no open pull request` };
      return forPull(pr.number, run.head_sha, pr.base.sha, 'pull_request');
    }
    case 'check_suite': {
      const suite = payload.check_suite;
      if (action !== 'requested' && action !== 'rerequested') return { ignored: what };
      if (suite?.app?.id !== undefined && suite.app.id !== appId) return { ignored: `${what} of another app's check suite` };
      const pr = suite.pull_requests?.[0];
      if (!pr) return { ignored: `${what} on no open pull request` };
      return forPull(pr.number, suite.head_sha, pr.base.sha, 'pull_request');
    }
    case 'push':
      // without the agent role a push is nothing to the checker
      return release ? routePush(payload, base, release) : { ignored: what };
    default:
      return { ignored: what };
  }
}

/** A push: to the agent when it moves the release branch of the release repository, else ignored with the reason. */
function routePush(payload: Json, base: { installationId?: number; repo: RepoRef; cloneUrl: string; defaultBranch: string; delivery: string }, release: ReleaseTarget): Routed {
  const full = `${base.repo.owner}/${base.repo.repo}`;
  const ref = typeof payload.ref === 'string' ? payload.ref : '';
  const wanted = `${release.repository.owner}/${release.repository.repo}`;
  // GitHub's owner and repository names are case-insensitive.
  if (full.toLowerCase() !== wanted.toLowerCase()) return { ignored: `push to ${full}, not the release repository ${wanted}` };
  if (!ref.startsWith('refs/heads/')) return { ignored: `push of ${ref || 'no ref'} in ${full}: not a branch` };
  const branch = release.branch ?? base.defaultBranch;
  if (ref !== `refs/heads/${branch}`) return { ignored: `push to ${ref.slice('refs/heads/'.length)} in ${full}, not the release branch ${branch}` };
  if (payload.deleted === true) return { ignored: `push deleting ${branch} in ${full}: nothing to deploy` };
  const after = payload.after;
  if (typeof after !== 'string' || !/^[0-9a-f]{40}$/.test(after)) return { ignored: `push to ${branch} in ${full} names no commit (after: ${JSON.stringify(after)})` };
  return { push: { ...(base.installationId !== undefined ? { installationId: base.installationId } : {}), repo: base.repo, cloneUrl: base.cloneUrl, ref, after, delivery: base.delivery } };
}

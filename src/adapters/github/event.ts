// The GitHub Actions event that started `modelship check --github`: which pull request, which
// base and head commits. Only the events the checker answers are accepted.

import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import type { RepoRef } from './client.js';

export interface CheckEvent {
  name: 'pull_request' | 'pull_request_review' | 'merge_group';
  repo: RepoRef;
  /** the pull request; for a merge group, the one parsed from its head ref */
  pull?: number;
  /** commits to diff: the merge group's own base and head in the merge queue */
  baseSha: string;
  headSha: string;
  /** the commit the check run is attached to */
  checkSha: string;
}

const supported = ['pull_request', 'pull_request_target', 'pull_request_review', 'merge_group'];

/** Reads GITHUB_EVENT_NAME and the payload at GITHUB_EVENT_PATH. */
export function readEvent(env: NodeJS.ProcessEnv = process.env): CheckEvent {
  const name = env.GITHUB_EVENT_NAME;
  const path = env.GITHUB_EVENT_PATH;
  if (!name || !path) throw new UsageError('--github needs GITHUB_EVENT_NAME and GITHUB_EVENT_PATH (set by GitHub Actions)');
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the event payload ${path}: ${(e as Error).message}`);
  }
  return parseEvent(name, payload);
}

export function parseEvent(name: string, payload: unknown): CheckEvent {
  if (!supported.includes(name)) {
    throw new UsageError(`modelship check --github runs on ${supported.join(', ')} events; this workflow ran on "${name}"`);
  }
  const p = payload as Record<string, any>;
  const full = p?.repository?.full_name as string | undefined;
  const [owner, repo] = (full ?? '').split('/');
  if (!owner || !repo) throw new UsageError(`the ${name} payload has no repository.full_name`);
  if (name === 'merge_group') {
    const g = p.merge_group;
    if (!g?.head_sha || !g?.base_sha) throw new UsageError('the merge_group payload has no merge_group.head_sha / base_sha');
    const pr = /\/pr-(\d+)-[0-9a-f]+$/.exec(g.head_ref ?? '');
    return { name, repo: { owner, repo }, ...(pr ? { pull: Number(pr[1]) } : {}), baseSha: g.base_sha, headSha: g.head_sha, checkSha: g.head_sha };
  }
  const pr = p.pull_request;
  if (!pr?.number || !pr?.head?.sha || !pr?.base?.sha) throw new UsageError(`the ${name} payload has no pull_request with head and base commits`);
  return {
    name: name === 'pull_request_target' ? 'pull_request' : (name as CheckEvent['name']), repo: { owner, repo }, pull: pr.number,
    baseSha: pr.base.sha, headSha: pr.head.sha, checkSha: pr.head.sha,
  };
}

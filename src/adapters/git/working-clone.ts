// A throw-away repository for the in-cluster agent to write commits in (a canary rollback), made
// from its bare mirror without copying it: the clone borrows the mirror's objects (alternates, as
// `git clone --shared` does) and has one branch, the release branch at the commit the agent read.
// It has no remote: nothing in it can fetch, and a push names its URL. The installation token
// travels as mirror.ts sends it, in an Authorization header set through git's environment
// configuration (GIT_CONFIG_COUNT/KEY/VALUE): never in the URL, on the command line or on disk.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, gitText } from './run.js';
import { gitEnvironment } from './mirror.js';

export interface WorkingClone {
  /** the clone's working directory (nothing checked out) */
  root: string;
  /** removes it; safe to call twice */
  remove(): Promise<void>;
}

/**
 * A clone of `mirror` with `refs/heads/<branch>` at `commit`, committing as `identity`. The mirror
 * must keep the borrowed objects while the clone lives (a fetch never prunes reachable objects,
 * and the clone's own commits are stored in the clone).
 */
export async function workingClone(mirror: string, req: { branch: string; commit: string; identity: { name: string; email: string } }): Promise<WorkingClone> {
  const dir = await mkdtemp(join(tmpdir(), 'modelship-agent-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const objects = (await gitText(mirror, ['rev-parse', '--path-format=absolute', '--git-common-dir'], 'find the mirror\'s objects')).trim();
    const root = join(dir, 'clone');
    await git(dir, ['init', '--quiet', root], 'make a working clone of the mirror');
    await writeFile(join(root, '.git', 'objects', 'info', 'alternates'), `${join(objects, 'objects')}\n`);
    await git(root, ['update-ref', `refs/heads/${req.branch}`, req.commit], `point ${req.branch} at ${req.commit.slice(0, 12)} in the working clone`);
    for (const [key, value] of [['user.name', req.identity.name], ['user.email', req.identity.email], ['commit.gpgsign', 'false']] as const) {
      await git(root, ['config', key, value], `set ${key} in the working clone`);
    }
    return { root, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/**
 * Pushes `commit` to `branch` of the repository at `url` (a fast-forward, or with `force` a
 * replace), authenticated with `token` as GitHub's `x-access-token` basic credential.
 */
export async function pushWithToken(root: string, req: { url: string; commit: string; branch: string; token: string; force?: boolean; signal?: AbortSignal }): Promise<void> {
  const env = gitEnvironment(req.token);
  await git(root, ['push', '--quiet', ...(req.force ? ['--force'] : []), '--end-of-options', req.url, `${req.commit}:refs/heads/${req.branch}`],
    `push ${req.commit.slice(0, 12)} to ${req.branch}`, {
      env, configFromEnv: true, ...(req.signal ? { signal: req.signal } : {}),
      hint: req.force ? 'check that the GitHub App is installed on the repository with contents: write' : `${req.branch} moved on since it was read, or the GitHub App lacks contents: write; the next run reads it again`,
    });
}

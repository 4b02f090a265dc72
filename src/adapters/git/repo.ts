// The git operations promote needs (through the one git runner, run.ts): status of a path, a commit built with a
// private index (so a branch appears whole or not at all), checkout, push, the remote.

import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { git, gitText } from './run.js';

export async function headCommit(root: string): Promise<string> {
  return (await gitText(root, ['rev-parse', '--verify', 'HEAD'], 'read HEAD', { hint: 'the repository has no commits yet' })).trim();
}

/** The checked-out branch, or undefined when HEAD is detached. */
export async function currentBranch(root: string): Promise<string | undefined> {
  // detached HEAD: symbolic-ref exits 1 by design
  const r = await git(root, ['symbolic-ref', '--quiet', '--short', 'HEAD'], 'read the current branch', { allowExit: true });
  return r.code === 0 ? r.stdout.toString('utf8').trim() || undefined : undefined;
}

/** Porcelain status letters (XY) per path; absent paths are clean and tracked. '??' is untracked. */
export async function pathStatus(root: string, paths: string[]): Promise<Map<string, string>> {
  const out = await gitText(root, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...paths], 'read status');
  const result = new Map<string, string>();
  for (const entry of out.split('\0')) if (entry.length > 3) result.set(entry.slice(3), entry.slice(0, 2));
  return result;
}

export async function branchExists(root: string, branch: string): Promise<boolean> {
  return refExists(root, `refs/heads/${branch}`);
}

/** A file's content at a revision, or undefined when the path does not exist there. */
export async function showFile(root: string, rev: string, path: string): Promise<Buffer | undefined> {
  if (!(await existsAt(root, rev, path))) return undefined;
  return (await git(root, ['show', `${rev}:${path}`], `read ${path} at ${rev}`)).stdout;
}

/** The local branches under a prefix (refs/heads/<prefix>...), newest commit first. */
export async function branchesUnder(root: string, prefix: string): Promise<string[]> {
  const out = await gitText(root, ['for-each-ref', '--sort=-committerdate', '--format=%(refname:short)', `refs/heads/${prefix}`], 'list branches');
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Whether a ref (refs/heads/x, refs/remotes/origin/x) exists. */
export async function refExists(root: string, ref: string): Promise<boolean> {
  // --quiet: a missing ref prints nothing and exits 1
  const r = await git(root, ['rev-parse', '--verify', '--quiet', ref], 'list refs', { allowExit: [1] });
  return r.code === 0 && r.stdout.toString('utf8').trim() !== '';
}

export async function fetchBranch(root: string, branch: string, remote = 'origin'): Promise<void> {
  await git(root, ['fetch', '--quiet', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`], `fetch ${branch} from ${remote}`);
}

/** Whether a path exists in a commit's tree. */
export async function existsAt(root: string, rev: string, path: string): Promise<boolean> {
  const out = await gitText(root, ['ls-tree', '--name-only', rev, '--', path], `list ${path} at ${rev}`);
  return out.trim() === path;
}

export interface FileChange {
  path: string;
  content: string | Buffer;
}

/**
 * Creates a commit of `parent` plus `files` and points `branch` at it, without touching the
 * working tree or the real index. With `force` an existing branch is moved; without, an
 * existing branch makes this fail and nothing changes.
 */
export async function commitOnBranch(root: string, req: { parent: string; branch: string; files: FileChange[]; message: string; force: boolean }): Promise<string> {
  const gitDir = await gitDirectory(root);
  const tag = randomBytes(6).toString('hex');
  const index = join(gitDir, `modelship-index-${tag}`);
  const scratch: string[] = [index];
  const env = { ...plumbingEnv(), GIT_INDEX_FILE: index };
  const g = (args: string[], operation: string, hint?: string) => gitText(root, args, operation, { env, ...(hint ? { hint } : {}) });
  try {
    await g(['read-tree', req.parent], 'prepare the commit');
    for (const f of req.files) {
      const tmp = join(gitDir, `modelship-blob-${tag}-${scratch.length}`);
      scratch.push(tmp);
      await writeFile(tmp, f.content);
      const blob = (await g(['hash-object', '-w', '--', tmp], `store ${f.path}`)).trim();
      await g(['update-index', '--add', '--cacheinfo', `100644,${blob},${f.path}`], `stage ${f.path}`);
    }
    const tree = (await g(['write-tree'], 'write the tree')).trim();
    const commit = (await g(['commit-tree', tree, '-p', req.parent, '-m', req.message], 'create the commit',
      'set your git identity: git config user.name "..." && git config user.email "..."')).trim();
    const ref = `refs/heads/${req.branch}`;
    await g(req.force ? ['update-ref', ref, commit] : ['update-ref', ref, commit, '0'.repeat(40)], `create branch ${req.branch}`,
      req.force ? undefined : `the branch exists; delete it (git branch -D ${req.branch}) or pass --force to replace it`);
    return commit;
  } finally {
    await Promise.all(scratch.map((f) => rm(f, { force: true })));
  }
}

/** A git configuration value as git sees it in `root`; undefined when it is not set (or git cannot say). */
export async function configValue(root: string, key: string): Promise<string | undefined> {
  const r = await git(root, ['config', key], `read the git setting ${key}`, { allowExit: true });
  return r.code === 0 ? r.stdout.toString('utf8').trim() || undefined : undefined;
}

/** The repository's git directory, as an absolute path. */
export async function gitDirectory(root: string): Promise<string> {
  return (await gitText(root, ['rev-parse', '--absolute-git-dir'], 'find the git directory')).trim();
}

/**
 * The environment for local plumbing: only what git needs to find itself, its configuration and
 * the user's identity (simple-git refuses variables such as EDITOR that could run programs).
 */
function plumbingEnv(): Record<string, string> {
  const keep = /^(PATH|HOME|USER|LANG|LC_[A-Z]+|TMPDIR|XDG_CONFIG_HOME|GIT_(AUTHOR|COMMITTER)_(NAME|EMAIL|DATE))$/;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && keep.test(k)) env[k] = v;
  return env;
}

export async function checkout(root: string, branch: string): Promise<void> {
  await git(root, ['checkout', branch], `check out ${branch}`);
}

export async function deleteBranch(root: string, branch: string): Promise<void> {
  await git(root, ['branch', '-D', branch], `delete branch ${branch}`);
}

export async function remoteUrl(root: string, remote = 'origin'): Promise<string | undefined> {
  const r = await git(root, ['remote', 'get-url', remote], `read the ${remote} remote`, { allowExit: true }); // exits 2: no such remote
  return r.code === 0 ? r.stdout.toString('utf8').trim() || undefined : undefined;
}

export async function push(root: string, branch: string, force: boolean, remote = 'origin'): Promise<void> {
  await git(root, ['push', ...(force ? ['--force-with-lease'] : []), '--set-upstream', remote, `refs/heads/${branch}:refs/heads/${branch}`],
    `push ${branch} to ${remote}`, { hint: 'check that you may push to the remote (git push works from this clone)' });
}

/** The remote's default branch as this clone knows it (refs/remotes/origin/HEAD), if known. */
export async function remoteDefaultBranch(root: string, remote = 'origin'): Promise<string | undefined> {
  const r = await git(root, ['symbolic-ref', '--quiet', `refs/remotes/${remote}/HEAD`], `read ${remote}'s default branch`, { allowExit: true });
  if (r.code !== 0) return undefined; // origin/HEAD is not set in this clone
  return r.stdout.toString('utf8').trim().replace(`refs/remotes/${remote}/`, '') || undefined;
}

/** owner/name of a GitHub remote URL (https, ssh or scp-like), or undefined for other remotes. */
export function githubRepoFromUrl(url: string): { owner: string; repo: string } | undefined {
  const m = /^(?:https?:\/\/(?:[^@/]+@)?[^/]+\/|ssh:\/\/git@[^/]+\/|git@[^:]+:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url);
  if (!m || isAbsolute(url)) return undefined;
  return { owner: m[1]!, repo: m[2]! };
}

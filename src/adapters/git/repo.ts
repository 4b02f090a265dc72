// The git operations promote needs, over simple-git: status of a path, a commit built with a
// private index (so a branch appears whole or not at all), checkout, push, the remote.

import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { ExternalError } from '../../errors.js';

// simple-git strips GIT_* variables from the child's environment unless they are allowed; these
// are the ones modelship sets (the private index) or must respect (identity in CI).
const allowEnvironment = ['GIT_INDEX_FILE', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_DATE', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_DATE'];

function git(root: string): SimpleGit {
  return simpleGit({ baseDir: root, maxConcurrentProcesses: 4, allowEnvironment });
}

async function run<T>(operation: string, fn: () => Promise<T>, hint?: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ExternalError) throw e;
    const message = ((e as Error).message ?? String(e)).trim().split('\n').slice(0, 4).join(' ');
    throw new ExternalError('git', operation, message, { cause: e, ...(hint ? { hint } : {}) });
  }
}

export async function headCommit(root: string): Promise<string> {
  return run('read HEAD', async () => (await git(root).raw(['rev-parse', '--verify', 'HEAD'])).trim(),
    'the repository has no commits yet');
}

/** The checked-out branch, or undefined when HEAD is detached. */
export async function currentBranch(root: string): Promise<string | undefined> {
  try {
    return (await git(root).raw(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim() || undefined;
  } catch {
    return undefined; // detached HEAD: symbolic-ref exits 1 by design
  }
}

/** Porcelain status letters (XY) per path; absent paths are clean and tracked. '??' is untracked. */
export async function pathStatus(root: string, paths: string[]): Promise<Map<string, string>> {
  return run('read status', async () => {
    const out = await git(root).raw(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--', ...paths]);
    const result = new Map<string, string>();
    for (const entry of out.split('\0')) if (entry.length > 3) result.set(entry.slice(3), entry.slice(0, 2));
    return result;
  });
}

export async function branchExists(root: string, branch: string): Promise<boolean> {
  return refExists(root, `refs/heads/${branch}`);
}

/** A file's content at a revision, or undefined when the path does not exist there. */
export async function showFile(root: string, rev: string, path: string): Promise<Buffer | undefined> {
  if (!(await existsAt(root, rev, path))) return undefined;
  return Buffer.from(await run(`read ${path} at ${rev}`, () => git(root).raw(['show', `${rev}:${path}`])));
}

/** The local branches under a prefix (refs/heads/<prefix>...), newest commit first. */
export async function branchesUnder(root: string, prefix: string): Promise<string[]> {
  const out = await run('list branches', () => git(root).raw(['for-each-ref', '--sort=-committerdate', '--format=%(refname:short)', `refs/heads/${prefix}`]));
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Whether a ref (refs/heads/x, refs/remotes/origin/x) exists. */
export async function refExists(root: string, ref: string): Promise<boolean> {
  // simple-git reports a non-zero exit as an error only when git wrote to stderr, so ask for
  // output instead of relying on the exit code: --quiet prints nothing for a missing ref.
  const out = await run('list refs', () => git(root).raw(['rev-parse', '--verify', '--quiet', ref]));
  return out.trim() !== '';
}

export async function fetchBranch(root: string, branch: string, remote = 'origin'): Promise<void> {
  await run(`fetch ${branch} from ${remote}`, () => git(root).raw(['fetch', '--quiet', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`]));
}

/** Whether a path exists in a commit's tree. */
export async function existsAt(root: string, rev: string, path: string): Promise<boolean> {
  const out = await run(`list ${path} at ${rev}`, () => git(root).raw(['ls-tree', '--name-only', rev, '--', path]));
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
  const gitDir = (await run('find the git directory', () => git(root).raw(['rev-parse', '--absolute-git-dir']))).trim();
  const tag = randomBytes(6).toString('hex');
  const index = join(gitDir, `modelship-index-${tag}`);
  const scratch: string[] = [index];
  const g = git(root).env({ ...plumbingEnv(), GIT_INDEX_FILE: index });
  try {
    await run('prepare the commit', () => g.raw(['read-tree', req.parent]));
    for (const f of req.files) {
      const tmp = join(gitDir, `modelship-blob-${tag}-${scratch.length}`);
      scratch.push(tmp);
      await writeFile(tmp, f.content);
      const blob = (await run(`store ${f.path}`, () => g.raw(['hash-object', '-w', '--', tmp]))).trim();
      await run(`stage ${f.path}`, () => g.raw(['update-index', '--add', '--cacheinfo', `100644,${blob},${f.path}`]));
    }
    const tree = (await run('write the tree', () => g.raw(['write-tree']))).trim();
    const commit = (await run('create the commit', () => g.raw(['commit-tree', tree, '-p', req.parent, '-m', req.message]),
      'set your git identity: git config user.name "..." && git config user.email "..."')).trim();
    const ref = `refs/heads/${req.branch}`;
    await run(`create branch ${req.branch}`, () => g.raw(req.force ? ['update-ref', ref, commit] : ['update-ref', ref, commit, '0'.repeat(40)]),
      req.force ? undefined : `the branch exists; delete it (git branch -D ${req.branch}) or pass --force to replace it`);
    return commit;
  } finally {
    await Promise.all(scratch.map((f) => rm(f, { force: true })));
  }
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
  await run(`check out ${branch}`, () => git(root).checkout(branch));
}

export async function deleteBranch(root: string, branch: string): Promise<void> {
  await run(`delete branch ${branch}`, () => git(root).raw(['branch', '-D', branch]));
}

export async function remoteUrl(root: string, remote = 'origin'): Promise<string | undefined> {
  try {
    return (await git(root).raw(['remote', 'get-url', remote])).trim() || undefined;
  } catch {
    return undefined; // no such remote
  }
}

export async function push(root: string, branch: string, force: boolean, remote = 'origin'): Promise<void> {
  await run(`push ${branch} to ${remote}`,
    () => git(root).raw(['push', ...(force ? ['--force-with-lease'] : []), '--set-upstream', remote, `refs/heads/${branch}:refs/heads/${branch}`]),
    'check that you may push to the remote (git push works from this clone)');
}

/** The remote's default branch as this clone knows it (refs/remotes/origin/HEAD), if known. */
export async function remoteDefaultBranch(root: string, remote = 'origin'): Promise<string | undefined> {
  try {
    const ref = (await git(root).raw(['symbolic-ref', '--quiet', `refs/remotes/${remote}/HEAD`])).trim();
    return ref.replace(`refs/remotes/${remote}/`, '') || undefined;
  } catch {
    return undefined; // origin/HEAD is not set in this clone
  }
}

/** owner/name of a GitHub remote URL (https, ssh or scp-like), or undefined for other remotes. */
export function githubRepoFromUrl(url: string): { owner: string; repo: string } | undefined {
  const m = /^(?:https?:\/\/(?:[^@/]+@)?[^/]+\/|ssh:\/\/git@[^/]+\/|git@[^:]+:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url);
  if (!m || isAbsolute(url)) return undefined;
  return { owner: m[1]!, repo: m[2]! };
}

// A real `git revert`, made in a temporary worktree so the user's working tree and index are
// never touched, and pushes of a single commit. A revert that conflicts is aborted and reported
// as such: the caller decides what to do instead.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git as run } from './run.js';

/** A git command whose exit code the caller reads. */
async function git(cwd: string, args: string[], operation = `git ${args[0]}`): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await run(cwd, args, operation, { allowExit: true });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

async function must(cwd: string, operation: string, args: string[], hint?: string): Promise<string> {
  return (await run(cwd, args, operation, hint ? { hint } : {})).stdout.toString('utf8');
}

export type RevertOutcome = { commit: string } | { conflict: string };

/**
 * `git revert` of `commit` on top of `parent` (with `-m 1` for a merge), committed with
 * `message`; `branch` is pointed at the result. On a conflict nothing is left behind.
 */
export async function revertOnBranch(root: string, req: { parent: string; commit: string; merge: boolean; message: string; branch: string }): Promise<RevertOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'modelship-revert-'));
  const tree = join(dir, 'tree');
  await must(root, 'prepare a worktree for the revert', ['worktree', 'add', '--quiet', '--detach', tree, req.parent]);
  try {
    const r = await git(tree, ['revert', '--no-commit', ...(req.merge ? ['-m', '1'] : []), req.commit], `revert ${req.commit.slice(0, 12)}`);
    if (r.code !== 0) {
      await git(tree, ['revert', '--abort'], 'abort the revert');
      const conflicted = (await git(tree, ['diff', '--name-only', '--diff-filter=U'], 'list the conflicted files')).stdout.trim();
      return { conflict: conflicted || (r.stderr || r.stdout).trim().split('\n')[0] || `git revert exited with ${r.code}` };
    }
    const staged = (await git(tree, ['diff', '--cached', '--quiet'], 'look for staged changes')).code;
    if (staged === 0) return { conflict: 'the revert changes nothing: its effect is already undone' };
    await must(tree, 'commit the revert', ['commit', '--quiet', '--no-verify', '-m', req.message],
      'set your git identity: git config user.name "..." && git config user.email "..."');
    const commit = (await must(tree, 'read the revert commit', ['rev-parse', 'HEAD'])).trim();
    await must(root, `point ${req.branch} at the revert`, ['update-ref', `refs/heads/${req.branch}`, commit]);
    return { commit };
  } finally {
    await git(root, ['worktree', 'remove', '--force', tree], 'remove the revert worktree');
    await rm(dir, { recursive: true, force: true });
    await git(root, ['worktree', 'prune'], 'prune worktrees');
  }
}

/** Pushes one commit to a branch of the remote: a fast-forward, or with `force` a lease-checked replace. */
export async function pushCommit(root: string, commit: string, branch: string, options: { force?: boolean; remote?: string } = {}): Promise<void> {
  const remote = options.remote ?? 'origin';
  await must(root, `push ${commit.slice(0, 12)} to ${remote}/${branch}`,
    ['push', '--quiet', ...(options.force ? ['--force'] : []), remote, `${commit}:refs/heads/${branch}`],
    options.force ? undefined : `${branch} on ${remote} moved on; fetch and run the command again`);
}

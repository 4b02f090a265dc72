// Searches of first-parent history that rollback and the held gate need: the commits where a
// text (a version) appears in or leaves a file, and what one commit changed.

import { git as run, gitText } from './run.js';

const git = (root: string, operation: string, args: string[]): Promise<string> => gitText(root, args, operation);

/**
 * First-parent commits of `rev` that changed how often `text` occurs in `path` (git's pickaxe),
 * newest first. A version cannot be in a file before it was registered, so with `since` (an ISO
 * time) the search starts a day before it.
 */
export async function commitsChangingText(root: string, rev: string, path: string, text: string, since?: string, signal?: AbortSignal): Promise<string[]> {
  const after = since && !Number.isNaN(Date.parse(since)) ? [`--since=${new Date(Date.parse(since) - 86_400_000).toISOString()}`] : [];
  const out = await gitText(root, ['log', '--first-parent', '--format=%H', ...after, `-S${text}`, rev, '--', path], `search the history of ${path}`, signal ? { signal } : {});
  return out.trim().split('\n').filter(Boolean);
}

export interface CommitFacts {
  commit: string;
  parents: string[];
  subject: string;
  /** paths the commit changed against its first parent */
  paths: string[];
}

/** A commit's parents, subject and the paths it changed against its first parent. */
export async function commitFacts(root: string, rev: string): Promise<CommitFacts> {
  const head = (await git(root, `read commit ${rev}`, ['log', '-1', '--format=%H %P%x1f%s', rev])).trim();
  const [ids, subject] = head.split('\x1f');
  const [commit, ...parents] = ids!.split(' ').filter(Boolean);
  const diff = parents.length
    ? await git(root, `list what ${rev} changed`, ['diff', '--name-only', '--no-renames', '-z', parents[0]!, commit!])
    : await git(root, `list what ${rev} changed`, ['ls-tree', '-r', '--name-only', '-z', commit!]);
  return { commit: commit!, parents, subject: subject ?? '', paths: diff.split('\0').filter(Boolean).sort() };
}

/** Whether `commit` is on the first-parent line of `rev`. */
export async function onFirstParentLine(root: string, rev: string, commit: string): Promise<boolean> {
  const out = await git(root, `walk the first-parent history of ${rev}`, ['rev-list', '--first-parent', rev]);
  return out.split('\n').includes(commit);
}

/** When a commit was committed (committer time), as an ISO time without milliseconds. */
export async function committedAt(root: string, rev: string): Promise<string> {
  const out = (await git(root, `read the time of ${rev}`, ['log', '-1', '--format=%ct', rev])).trim();
  return new Date(Number(out) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Whether commit `a` is an ancestor of `b` (`git merge-base --is-ancestor` answers with its exit code; 1: no). */
export async function isAncestor(root: string, a: string, b: string): Promise<boolean> {
  return (await run(root, ['merge-base', '--is-ancestor', a, b], `ask whether ${a.slice(0, 12)} is an ancestor of ${b.slice(0, 12)}`, { allowExit: [1] })).code === 0;
}

/** The best common ancestor of two commits, or undefined when they share no history. */
export async function mergeBase(root: string, a: string, b: string): Promise<string | undefined> {
  const r = await run(root, ['merge-base', a, b], `find the merge base of ${a} and ${b}`, { allowExit: [1] });
  return r.stdout.toString('utf8').trim() || undefined;
}

/** `git diff --name-status -z` between two commits, limited to `paths`: NUL-separated status and path fields. */
export async function diffNameStatus(root: string, from: string, to: string, paths: string[]): Promise<string> {
  return git(root, `list the files changed between ${from.slice(0, 12)} and ${to.slice(0, 12)}`, ['diff', '--name-status', '--no-renames', '-z', from, to, '--', ...paths]);
}

/** Whether `rev` names a commit this repository holds. */
export async function hasCommit(root: string, rev: string): Promise<boolean> {
  const r = await run(root, ['cat-file', '-e', `${rev}^{commit}`], `look for commit ${rev.slice(0, 12)}`, { allowExit: true });
  return r.code === 0;
}

/** The tree a commit records. */
export async function treeOf(root: string, rev: string): Promise<string> {
  return (await git(root, `read the tree of ${rev.slice(0, 12)}`, ['rev-parse', `${rev}^{tree}`])).trim();
}

/**
 * The tree git makes merging `b` into `a` without touching the work tree or the index (`git
 * merge-tree --write-tree`, git 2.38 or later); undefined when the two conflict.
 */
export async function mergedTree(root: string, a: string, b: string): Promise<string | undefined> {
  const r = await run(root, ['merge-tree', '--write-tree', '--no-messages', a, b], `merge ${b.slice(0, 12)} into ${a.slice(0, 12)} in memory`, { allowExit: [1] });
  if (r.code === 1) return undefined;
  return r.stdout.toString('utf8').split('\n')[0]!.trim();
}

/**
 * Which of `commits` (full ids this repository holds) are not ancestors of (or equal to) `rev`.
 * One `git rev-list` answers for all of them when every one is (the usual case: a sync of main's
 * head); only otherwise is each asked on its own.
 */
export async function notAncestorsOf(root: string, commits: string[], rev: string): Promise<string[]> {
  const others = commits.filter((c) => c !== rev);
  if (!others.length) return [];
  const beyond = await gitText(root, ['rev-list', '--max-count=1', ...others, '--not', rev], `ask whether ${others.length} commit${others.length === 1 ? ' is an ancestor' : 's are ancestors'} of ${rev.slice(0, 12)}`);
  if (!beyond.trim()) return [];
  const out: string[] = [];
  for (const c of others) if (!(await isAncestor(root, c, rev))) out.push(c);
  return out;
}

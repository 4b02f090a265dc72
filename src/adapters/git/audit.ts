// The git facts the audit trail records and checks: a commit's tree, parents, message and
// trailers; main's first-parent line with the files each commit changed; incremental bundles.
// Thin wrappers over the git runner (binary-safe output, one process per question).

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExternalError } from '../../errors.js';
import type { CommitFact, GitView, LineCommit } from '../../audit/verify.js';
import { git as run } from './run.js';

function git(root: string, args: string[], operation: string, options: { allowFail?: boolean } = {}): Promise<{ stdout: Buffer; code: number }> {
  return run(root, args, operation, options.allowFail ? { allowExit: true } : {});
}

const US = '\x1f';

export interface CommitInfo extends CommitFact {
  author: string;
  committer: string;
  committedAt: string;
  subject: string;
  body: string;
  /** `Key: value` trailers; a key may repeat */
  trailers: Record<string, string[]>;
}

/** A revision's commit id; an ExternalError naming the revision when there is none. */
export async function resolveCommit(root: string, rev: string): Promise<string> {
  const r = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], `resolve revision ${JSON.stringify(rev)}`, { allowFail: true });
  if (r.code !== 0) throw new ExternalError('git', `resolve revision ${JSON.stringify(rev)}`, 'no such commit, branch or tag');
  return r.stdout.toString('utf8').trim();
}

/** One commit's facts; undefined when the repository does not have it. */
export async function commitInfo(root: string, commit: string): Promise<CommitInfo | undefined> {
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const exists = await git(root, ['cat-file', '-e', `${commit}^{commit}`], `look for commit ${commit}`, { allowFail: true });
  if (exists.code !== 0) return undefined;
  const out = (await git(root, ['show', '-s', `--format=%H${US}%T${US}%P${US}%an <%ae>${US}%cn <%ce>${US}%cI${US}%s${US}%b${US}%(trailers:only,unfold)`, commit], `read commit ${commit}`)).stdout.toString('utf8');
  const [id, tree, parents, author, committer, committedAt, subject, body, trailerText] = out.replace(/\n$/, '').split(US);
  const trailers: Record<string, string[]> = {};
  for (const line of (trailerText ?? '').split('\n')) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) (trailers[m[1]!] ??= []).push(m[2]!.trim());
  }
  return {
    commit: id!, tree: tree!, parents: parents ? parents.split(' ') : [], author: author!, committer: committer!,
    committedAt: new Date(committedAt!).toISOString().replace('.000Z', 'Z'), subject: subject!, body: body ?? '', trailers,
  };
}

/** main's first-parent line up to `rev`, oldest first, with the files each commit changed against its first parent. */
export async function firstParentLine(root: string, rev: string): Promise<LineCommit[]> {
  // Into a file, not through a pipe: verify asks for the line first and then keeps its thread busy
  // reading records, and a pipe nobody reads stops git once it holds 64 KiB (the line of 10,000
  // commits is 2 MB): git would finish only after the records, on verify's critical path.
  const dir = await mkdtemp(join(tmpdir(), 'modelship-line-'));
  let out: string;
  try {
    const file = join(dir, 'line');
    await git(root, ['log', '--first-parent', '--reverse', '--no-renames', '--name-only', '-z', `--format=%x1e%H %T %P${US}%s`, `--output=${file}`, rev], `list main's first-parent commits (${rev})`);
    out = (await readFile(file)).toString('utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const line: LineCommit[] = [];
  for (const entry of out.split('\x1e')) {
    if (!entry) continue;
    const nul = entry.indexOf('\0');
    const header = nul < 0 ? entry : entry.slice(0, nul);
    const [ids, subject] = header.split(US);
    const [commit, tree, ...parents] = ids!.trim().split(' ');
    const changed = (nul < 0 ? '' : entry.slice(nul + 1)).split(/[\0\n]/).filter(Boolean);
    line.push({ commit: commit!, tree: tree!, parents: parents.filter(Boolean), subject: subject ?? '', changed });
  }
  return line;
}

/** A GitView for verify: the first-parent line, and lookups of other commits as they are asked for. */
export async function gitView(root: string, rev: string, otherCommits: string[]): Promise<GitView> {
  return gitViewOf(root, await firstParentLine(root, rev), otherCommits);
}

/** gitView for a first-parent line read beforehand (verify starts reading it before it knows the other commits). */
export async function gitViewOf(root: string, line: LineCommit[], otherCommits: string[]): Promise<GitView> {
  const known = new Map<string, CommitFact>(line.map((c) => [c.commit, c]));
  for (const c of new Set(otherCommits)) {
    if (known.has(c)) continue;
    const info = await commitInfo(root, c);
    if (info) known.set(c, { commit: info.commit, tree: info.tree, parents: info.parents });
  }
  return { line, commit: (id) => known.get(id) };
}

/** Files `commit` changed against its first parent (everything, for a root commit). */
export async function changedFiles(root: string, commit: string): Promise<string[]> {
  const out = await git(root, ['diff-tree', '--no-commit-id', '--name-only', '-r', '-z', '--root', '-m', '--first-parent', commit], `list the files ${commit} changed`);
  return out.stdout.toString('utf8').split('\0').filter(Boolean);
}

/** The first-parent commits after `from` (exclusive) up to `to` (inclusive), oldest first; undefined when `from` is not on that line. */
export async function firstParentRange(root: string, from: string, to: string): Promise<string[] | undefined> {
  const line = (await git(root, ['rev-list', '--first-parent', to], `list main's first-parent commits (${to})`)).stdout.toString('utf8').split('\n').filter(Boolean);
  const at = line.indexOf(from);
  return at < 0 ? undefined : line.slice(0, at).reverse();
}

/** A file's bytes at a commit, undefined when the commit does not have it. */
export async function fileAt(root: string, commit: string, path: string): Promise<Buffer | undefined> {
  const r = await git(root, ['cat-file', 'blob', `${commit}:${path}`], `read ${path} at ${commit}`, { allowFail: true });
  return r.code === 0 ? r.stdout : undefined;
}

/**
 * An incremental bundle of main up to `to`: everything reachable from it that `from` does not
 * have (the whole history for the first record). Restore with `git fetch <bundle>` in order.
 */
export async function createBundle(root: string, from: string | null, to: string): Promise<Buffer> {
  // git bundles need a ref to name. It lives in a scratch repository that borrows this one's
  // objects (alternates), so the user's refs are never touched and two mirrors running at once
  // cannot remove each other's ref. Named after the commit and packed on one thread, so the same
  // range gives the same bytes (a re-run's bundle then matches the one stored).
  const ref = `refs/modelship-audit/${to}`;
  const dir = await mkdtemp(join(tmpdir(), 'modelship-bundle-'));
  try {
    const commonDir = (await git(root, ['rev-parse', '--path-format=absolute', '--git-common-dir'], 'find the repository\'s objects')).stdout.toString().trim();
    const scratch = join(dir, 'scratch.git');
    await git(dir, ['init', '--quiet', '--bare', scratch], 'make a scratch repository for the bundle');
    await writeFile(join(scratch, 'objects/info/alternates'), `${join(commonDir, 'objects')}\n`);
    await git(scratch, ['update-ref', ref, to], `point ${ref} at ${to}`);
    const file = join(dir, 'main.bundle');
    await git(scratch, ['-c', 'pack.threads=1', 'bundle', 'create', '--quiet', file, ref, ...(from ? [`^${from}`] : [])], `bundle ${from ? `${from.slice(0, 12)}..` : ''}${to.slice(0, 12)}`);
    return await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The commits a bundle's header says it holds (its heads), or undefined when it is not a git bundle. */
export function bundleHeads(bytes: Buffer): string[] | undefined {
  const end = bytes.indexOf('\n\n');
  const header = bytes.subarray(0, end < 0 ? Math.min(bytes.length, 4096) : end).toString('utf8').split('\n');
  if (!/^# v[23] git bundle$/.test(header[0] ?? '')) return undefined;
  return header.slice(1).filter((l) => /^[0-9a-f]{40,64} /.test(l)).map((l) => l.split(' ')[0]!);
}

/** owner/name for a GitHub remote, else the remote URL, else the folder name. */
export async function repositoryName(root: string): Promise<string> {
  const r = await git(root, ['remote', 'get-url', 'origin'], 'read the origin remote', { allowFail: true });
  const url = r.code === 0 ? r.stdout.toString('utf8').trim() : '';
  const m = /github\.com[/:]([^/]+)\/([^/]+?)(?:\.git)?$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url || root.split('/').filter(Boolean).pop()!;
}

/** The names of the entries of a folder at a revision (`git ls-tree --name-only <rev>:<dir>`). */
export async function folderEntries(root: string, rev: string, dir: string): Promise<string[]> {
  return (await git(root, ['ls-tree', '--name-only', `${rev}:${dir}`], `list ${dir} at ${rev}`)).stdout.toString('utf8').split('\n').filter(Boolean);
}

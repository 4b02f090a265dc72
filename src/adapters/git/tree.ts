// The release files at a git revision, read straight from the object database: no checkout,
// so `check` can hold base and head side by side. One `ls-tree` and one `cat-file --batch`
// process per snapshot, whatever the number of files.

import { ExternalError } from '../../errors.js';
import { releaseRoots, type RepoFile, type Snapshot } from '../../config/snapshot.js';
import { readObjects } from './objects.js';
import { git, gitText } from './run.js';

/** Resolves `rev` to a full commit id, or throws an ExternalError that says which revision. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  const operation = `resolve revision ${JSON.stringify(rev)}`;
  const r = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], operation, { allowExit: true });
  if (r.code !== 0) throw new ExternalError('git', operation, 'no such commit, branch or tag');
  return r.stdout.toString('utf8').trim();
}

/** A snapshot of the release files at a commit. */
export async function gitRevision(root: string, rev: string): Promise<Snapshot> {
  const commit = await resolveRevision(root, rev);
  const label = rev === commit ? commit.slice(0, 12) : `${rev} (${commit.slice(0, 12)})`;
  let listing: Array<RepoFile & { oid: string }> | undefined;
  let byPath: Map<string, RepoFile & { oid: string }> | undefined;

  async function list() {
    if (listing) return listing;
    const out = await gitText(root, ['ls-tree', '-r', '-l', '-z', '--full-tree', commit, '--', ...releaseRoots], `list the release files at ${label}`);
    listing = [];
    for (const entry of out.split('\0')) {
      if (!entry) continue;
      // <mode> SP <type> SP <oid> SP+ <size> TAB <path>
      const tab = entry.indexOf('\t');
      const [, type, oid, size] = entry.slice(0, tab).split(/ +/);
      if (type !== 'blob') continue;
      listing.push({ path: entry.slice(tab + 1), size: Number(size), oid: oid! });
    }
    return listing;
  }

  return {
    label,
    list: async () => (await list()).map(({ path, size }) => ({ path, size })),
    async read(paths, maxBytes) {
      // Built once: a snapshot is read several times (release files, then the versions they pin).
      byPath ??= new Map((await list()).map((f) => [f.path, f]));
      const wanted = paths.map((p) => byPath!.get(p)).filter((f): f is RepoFile & { oid: string } => !!f && f.size <= maxBytes);
      const blobs = await catFileBatch(root, wanted.map((f) => f.oid));
      return new Map(wanted.map((f) => [f.path, blobs.get(f.oid)!]));
    },
  };
}

/** Reads many blobs through one `git cat-file --batch`; a missing one is an error. */
export async function catFileBatch(root: string, oids: string[]): Promise<Map<string, Buffer>> {
  const order = [...new Set(oids)];
  const blobs = await readObjects(root, order);
  const result = new Map<string, Buffer>();
  for (const [i, oid] of order.entries()) {
    const blob = blobs[i];
    if (!blob) throw new ExternalError('git', 'read objects', `object ${oid} is missing`);
    result.set(oid, blob);
  }
  return result;
}

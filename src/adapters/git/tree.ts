// The release files at a git revision, read straight from the object database: no checkout,
// so `check` can hold base and head side by side. One `ls-tree` and one `cat-file --batch`
// process per snapshot, whatever the number of files.

import { ExternalError } from '../../errors.js';
import { releaseRoots, type RepoFile, type Snapshot } from '../../config/snapshot.js';
import { ObjectReader, readObjects } from './objects.js';
import { git, gitText } from './run.js';

/** Resolves `rev` to a full commit id, or throws an ExternalError that says which revision. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  const operation = `resolve revision ${JSON.stringify(rev)}`;
  const r = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], operation, { allowExit: true });
  if (r.code !== 0) throw new ExternalError('git', operation, 'no such commit, branch or tag');
  return r.stdout.toString('utf8').trim();
}

type Listed = RepoFile & { oid: string };

/**
 * Listings of release folders by tree id, for the snapshots of one run to share: base and head of
 * a pull request hold the same models/ tree unless the change registers a version, and listing a
 * repository of hundreds of models (every version file, with its size) is the costly part.
 */
export type TreeListings = Map<string, Promise<Listed[]>>;

/** A snapshot of the release files at a commit; with `shared`, folders listed by another snapshot are not listed again. */
export async function gitRevision(root: string, rev: string, shared?: TreeListings): Promise<Snapshot> {
  const commit = await resolveRevision(root, rev);
  const label = rev === commit ? commit.slice(0, 12) : `${rev} (${commit.slice(0, 12)})`;
  let listing: Listed[] | undefined;
  let byPath: Map<string, Listed> | undefined;

  async function list() {
    if (listing) return listing;
    if (!shared) return (listing = await listTree(root, commit, '', `list the release files at ${label}`, [...releaseRoots]));
    // The release folders' own tree ids, then each folder's listing (shared by tree id), in tree order.
    const top = await listEntries(root, ['ls-tree', '-l', '-z', '--full-tree', commit, '--', ...releaseRoots], `list the release files at ${label}`);
    const parts = await Promise.all(top.map((e) => {
      if (e.type !== 'tree') return e.type === 'blob' ? [{ path: e.path, size: e.size, oid: e.oid }] : [];
      const key = `${e.oid} ${e.path}`;
      let folder = shared.get(key);
      if (!folder) {
        shared.set(key, (folder = listTree(root, e.oid, `${e.path}/`, `list the release files at ${label}`, [])));
        folder.catch(() => shared.delete(key)); // a failure is this snapshot's, not the next one's
      }
      return folder;
    }));
    return (listing = parts.flat());
  }

  // One `cat-file --batch` for the reads of a hold (Snapshot.hold: a load reading a batch at a
  // time), ended when the last hold is released and its reads are answered; a read outside any
  // hold has a process of its own, as before.
  let reader: ObjectReader | undefined;
  let holds = 0;
  let reading = 0;
  const idle = () => {
    if (holds || reading || !reader) return;
    reader.close();
    reader = undefined;
  };

  return {
    label,
    list: async () => (await list()).map(({ path, size }) => ({ path, size })),
    async read(paths, maxBytes) {
      // Built once: a snapshot is read several times (release files, then the versions they pin).
      byPath ??= new Map((await list()).map((f) => [f.path, f]));
      const wanted = paths.map((p) => byPath!.get(p)).filter((f): f is Listed => !!f && f.size <= maxBytes);
      if (!wanted.length) return new Map();
      reading++;
      try {
        const blobs = await catFileBatch(root, wanted.map((f) => f.oid), (reader ??= new ObjectReader(root)));
        return new Map(wanted.map((f) => [f.path, blobs.get(f.oid)!]));
      } finally {
        reading--;
        idle();
      }
    },
    hold() {
      holds++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds--;
        idle();
      };
    },
  };
}

/** Every blob under `tree` (a commit or a tree id), recursively, each path prefixed with `prefix`. */
async function listTree(root: string, tree: string, prefix: string, operation: string, paths: string[]): Promise<Listed[]> {
  const entries = await listEntries(root, ['ls-tree', '-r', '-l', '-z', '--full-tree', tree, ...(paths.length ? ['--', ...paths] : [])], operation);
  return entries.flatMap((e) => (e.type === 'blob' ? [{ path: prefix + e.path, size: e.size, oid: e.oid }] : []));
}

async function listEntries(root: string, args: string[], operation: string): Promise<Array<Listed & { type: string }>> {
  const out = await gitText(root, args, operation);
  const entries: Array<Listed & { type: string }> = [];
  for (const entry of out.split('\0')) {
    if (!entry) continue;
    // <mode> SP <type> SP <oid> SP+ <size> TAB <path>
    const tab = entry.indexOf('\t');
    const [, type, oid, size] = entry.slice(0, tab).split(/ +/);
    entries.push({ path: entry.slice(tab + 1), size: Number(size), oid: oid!, type: type! });
  }
  return entries;
}

/** Reads many blobs through one `git cat-file --batch` (`reader`'s, or one of their own); a missing one is an error. */
export async function catFileBatch(root: string, oids: string[], reader?: ObjectReader): Promise<Map<string, Buffer>> {
  const order = [...new Set(oids)];
  const blobs = reader ? await reader.read(order) : await readObjects(root, order);
  const result = new Map<string, Buffer>();
  for (const [i, oid] of order.entries()) {
    const blob = blobs[i];
    if (!blob) throw new ExternalError('git', 'read objects', `object ${oid} is missing`);
    result.set(oid, blob);
  }
  return result;
}

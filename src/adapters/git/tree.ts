// The release files at a git revision, read straight from the object database: no checkout,
// so `check` can hold base and head side by side. One `ls-tree` and one `cat-file --batch`
// process per snapshot, whatever the number of files.

import { ExternalError } from '../../errors.js';
import { releaseRoots, type RepoFile, type Snapshot } from '../../config/snapshot.js';
import { ObjectReader, objectSizes, readObjects } from './objects.js';
import { isAscii } from 'node:buffer';
import { git } from './run.js';

/** Resolves `rev` to a full commit id, or throws an ExternalError that says which revision. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  // A full commit id once found is that commit for good: asked again (a check run resolves its
  // base and head several times) it costs no git process.
  const known = `${root}\0${rev}`;
  if (verified.has(known)) return rev;
  const operation = `resolve revision ${JSON.stringify(rev)}`;
  const r = await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], operation, { allowExit: true });
  if (r.code !== 0) throw new ExternalError('git', operation, 'no such commit, branch or tag');
  const commit = r.stdout.toString('utf8').trim();
  if (verified.size >= 4096) verified.clear();
  verified.add(`${root}\0${commit}`);
  return commit;
}
const verified = new Set<string>();

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
  /** the listing in parts (one per release folder when shared), each found by path through its own index */
  let parts: Listed[][] = [];

  async function list() {
    if (listing) return listing;
    if (!shared) {
      listing = await listTree(root, commit, '', `list the release files at ${label}`, [...releaseRoots]);
      parts = [listing];
      return listing;
    }
    // The release folders' own tree ids, then each folder's listing (shared by tree id), in tree order.
    const top = await listEntries(root, ['ls-tree', '-z', '--full-tree', commit, '--', ...releaseRoots], `list the release files at ${label}`);
    parts = await Promise.all(top.map((e) => {
      if (e.type !== 'tree') return e.type === 'blob' ? [{ path: e.path, oid: e.oid } as Listed] : [];
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

  const find = async (paths: string[]) => {
    await list();
    const found: Listed[] = [];
    for (const p of paths) {
      for (const part of parts) {
        const f = indexOf(part).get(p);
        if (f) {
          found.push(f);
          break;
        }
      }
    }
    return found;
  };
  /** Learns the sizes the listing left out (kept on the listed file: snapshots sharing a folder share them). */
  const sized = async (files: Listed[]) => {
    const unknown = files.filter((f) => f.size === undefined);
    const sizes = await objectSizes(root, unknown.map((f) => f.oid), `read the sizes of release files at ${label}`);
    for (const [i, f] of unknown.entries()) {
      if (sizes[i] === undefined) throw new ExternalError('git', `read the sizes of release files at ${label}`, `object ${f.oid} (${f.path}) is missing`);
      f.size = sizes[i];
    }
    return files as Array<Listed & { size: number }>;
  };

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
    list,
    async parts() {
      await list();
      return parts;
    },
    async sizes(paths) {
      return new Map((await sized(await find(paths))).map((f) => [f.path, f.size]));
    },
    async read(paths, maxBytes) {
      // A file over maxBytes is never read: a blob of gigabytes would otherwise be held whole.
      const wanted = (await sized(await find(paths))).filter((f) => f.size <= maxBytes);
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

/**
 * Finds files of a listing by path. Git lists a tree in the byte order of its paths, which for
 * the names of a release repository is JavaScript's string order too, so a binary search finds a
 * path without an index of 146k entries; a listing not in that order (names whose UTF-16 order
 * differs) gets a Map, built once however many snapshots share the listing.
 */
const indexes = new WeakMap<Listed[], { get(path: string): Listed | undefined }>();
function indexOf(files: Listed[]): { get(path: string): Listed | undefined } {
  let index = indexes.get(files);
  if (!index) {
    let sorted = true;
    for (let i = 1; i < files.length && sorted; i++) sorted = files[i - 1]!.path < files[i]!.path;
    index = sorted ? { get: (path) => search(files, path) } : new Map(files.map((f) => [f.path, f]));
    indexes.set(files, index);
  }
  return index;
}

function search(files: Listed[], path: string): Listed | undefined {
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = files[mid]!.path;
    if (p === path) return files[mid];
    if (p < path) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** Every blob under `tree` (a commit or a tree id), recursively, each path prefixed with `prefix`. */
async function listTree(root: string, tree: string, prefix: string, operation: string, paths: string[]): Promise<Listed[]> {
  // Without -l: sizes would make git look up every object of the tree (146k version files of 600
  // models: 3x the listing's time); they are learned for the files actually read (sizes() below).
  const out = (await git(root, ['ls-tree', '-r', '-z', '--full-tree', tree, ...(paths.length ? ['--', ...paths] : [])], operation)).stdout;
  const files: Listed[] = [];
  for (const e of entriesOf(out)) if (e.type === 'blob') files.push({ path: prefix + e.path, oid: e.oid });
  return files;
}

async function listEntries(root: string, args: string[], operation: string): Promise<Array<{ path: string; oid: string; type: string }>> {
  return [...entriesOf((await git(root, args, operation)).stdout)];
}

/**
 * The entries of `ls-tree -z` output, <mode> SP <type> SP <oid> TAB <path> NUL each, read from
 * the bytes: a listing of 146k files is 14 MB, and decoding it whole to split it made two more
 * copies of it and 146k intermediate strings. Names that are all ASCII (nearly every one) are
 * sliced from one Latin-1 decoding; the others are decoded as UTF-8.
 */
function* entriesOf(out: Buffer): Generator<{ path: string; oid: string; type: string }> {
  const ascii = isAscii(out);
  const text = ascii ? out.toString('latin1') : '';
  for (let at = 0; at < out.length;) {
    let end = out.indexOf(0, at);
    if (end < 0) end = out.length;
    const type = out.indexOf(0x20, at);
    const oid = out.indexOf(0x20, type + 1);
    const tab = out.indexOf(0x09, oid + 1);
    if (type < 0 || oid < 0 || tab < 0 || tab > end) throw new ExternalError('git', 'list a tree', `unexpected ls-tree output: ${JSON.stringify(out.toString('utf8', at, Math.min(end, at + 200)))}`);
    yield ascii
      ? { path: text.slice(tab + 1, end), oid: text.slice(oid + 1, tab), type: text.slice(type + 1, oid) }
      : { path: out.toString('utf8', tab + 1, end), oid: out.toString('latin1', oid + 1, tab), type: out.toString('latin1', type + 1, oid) };
    at = end + 1;
  }
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

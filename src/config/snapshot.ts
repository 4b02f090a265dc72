// A read-only view of the repository's release files at one point: the working tree, or a git
// revision (src/git/tree.ts). Loading goes through this interface so base and head of a pull
// request can be read side by side without a checkout.

import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RepoFile {
  /** path relative to the repository root, with forward slashes */
  path: string;
  /** bytes; left out by a listing that does not carry it (a git revision: `sizes` tells) */
  size?: number;
}

export interface Snapshot {
  /** what this is, for messages: "working tree", "main (3f2a1c9)" */
  readonly label: string;
  /** files under environments/, models/ and policies/ */
  list(): Promise<RepoFile[]>;
  /** contents of the named files; at most `maxBytes` of each is read (the size check happens before) */
  read(paths: string[], maxBytes: number): Promise<Map<string, Buffer>>;
  /**
   * The listing as the folders it is put together from, when it is (a git revision sharing
   * listings with others): a folder listed once for several snapshots is the same array in each.
   */
  parts?(): Promise<ReadonlyArray<readonly RepoFile[]>>;
  /** the sizes of listed files whose size list() left out */
  sizes?(paths: string[]): Promise<Map<string, number>>;
  /**
   * Optional: keeps what serves reads open (a git revision's `cat-file --batch`) until the
   * returned function is called, for a caller that reads many small batches in a row. Without
   * it, each read may start and end its own.
   */
  hold?(): () => void;
}

/** The folders that hold release data. */
export const releaseRoots = ['environments', 'models', 'policies'] as const;

/**
 * The release files as they are on disk now. Reads are synchronous on purpose: thousands of small
 * files cost far more in promise and thread-pool round trips than in the reads themselves.
 */
export function workingTree(root: string): Snapshot {
  return {
    label: 'working tree',
    async list() {
      const out: RepoFile[] = [];
      for (const top of releaseRoots) walk(root, top, out);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async read(paths, maxBytes) {
      const result = new Map<string, Buffer>();
      for (const p of paths) result.set(p, readAtMost(join(root, p), maxBytes));
      return result;
    },
  };
}

function walk(root: string, rel: string, out: RepoFile[]): void {
  let entries;
  try {
    entries = readdirSync(join(root, rel), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const entry of entries) {
    const path = `${rel}/${entry.name}`;
    if (entry.isDirectory()) walk(root, path, out);
    else if (entry.isFile()) out.push({ path, size: statSync(join(root, path)).size });
  }
}

/** Reads a file but never more than `maxBytes + 1` bytes, so a huge file costs nothing to reject. */
function readAtMost(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const length = Math.min(fstatSync(fd).size, maxBytes + 1);
    const buffer = Buffer.allocUnsafe(length);
    let offset = 0;
    while (offset < length) {
      const bytesRead = readSync(fd, buffer, offset, length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return buffer.subarray(0, offset);
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** A snapshot with some files replaced or added: what the repository would be after an edit. */
export function withChanges(base: Snapshot, changes: Map<string, Buffer>): Snapshot {
  return {
    label: `${base.label} with changes`,
    ...(base.hold ? { hold: () => base.hold!() } : {}),
    async list() {
      const files = (await base.list()).filter((f) => !changes.has(f.path));
      for (const [path, content] of changes) files.push({ path, size: content.length });
      return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async read(paths, maxBytes) {
      const rest = paths.filter((p) => !changes.has(p));
      const result = await base.read(rest, maxBytes);
      for (const p of paths) if (changes.has(p)) result.set(p, changes.get(p)!);
      return result;
    },
    ...(base.sizes ? {
      async sizes(paths: string[]) {
        const result = await base.sizes!(paths.filter((p) => !changes.has(p)));
        for (const p of paths) if (changes.has(p)) result.set(p, changes.get(p)!.length);
        return result;
      },
    } : {}),
  };
}

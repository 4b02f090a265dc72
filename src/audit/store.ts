// Where audit records and bundles live: write once, never overwrite. Two stores behind one
// interface: S3 with Object Lock (s3-store.ts) in production and a local directory (here) for
// the demo, with the same rules: a key is written at most once, atomically; a second writer
// finds it taken.

import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, link, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ExternalError } from '../errors.js';

export interface AuditStore {
  /** s3://bucket/prefix or a folder, for messages */
  readonly location: string;
  /**
   * keys directly under a folder-like prefix (ending in '/'), sorted. With `after` (a key under
   * that prefix), a store may leave out the keys that sort at or before it (a filter, not a
   * promise: callers still compare).
   */
  list(prefix: string, after?: string): Promise<string[]>;
  /**
   * The objects directly under a folder-like prefix, sorted by key, each with the time the store
   * wrote it (its own clock: S3's LastModified, a file's modification time) and, where the store
   * keeps versions, every version and delete marker of the key, oldest first. A key whose newest
   * version is a delete marker is listed too (list() does not show it): verify reports it.
   */
  objects(prefix: string): Promise<StoredObject[]>;
  /** the object's bytes (of one version, where the store keeps versions), undefined when there is none */
  read(key: string, versionId?: string): Promise<Buffer | undefined>;
  /**
   * Writes `body` at `key` unless something is there already. 'written': the key now holds these
   * bytes (written now, or by an earlier attempt); 'exists': it holds other bytes, left as they are.
   */
  writeOnce(key: string, body: Buffer, contentType: string): Promise<'written' | 'exists'>;
}

/** One version of a key in a store that keeps versions (S3 with versioning, which Object Lock requires). */
export interface ObjectVersion {
  versionId: string;
  /** when the store wrote this version (or delete marker) */
  storedAt: Date;
  /** a delete marker: what a DELETE without a version id adds; the versions under it stay */
  deleteMarker: boolean;
}

export interface StoredObject {
  key: string;
  /**
   * when the store wrote the object's first version: what verify judges key validity and order
   * by. Both stores here have a clock; one without leaves it out, and verify then falls back to
   * the signers' claims (warning when they step back).
   */
  storedAt?: Date;
  /** every version and delete marker, oldest first; absent where the store keeps none (a folder) */
  versions?: ObjectVersion[];
}

/** The version verify reads: the first one written (what Object Lock protects), when the key has more than one or a delete marker over it. */
export function originalVersion(o: StoredObject): ObjectVersion | undefined {
  const versions = o.versions ?? [];
  if (versions.length < 2) return undefined;
  return versions.find((v) => !v.deleteMarker);
}

const plainKey = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** A folder as a write-once store: files are created with link(2) (atomic, fails if taken) and made read-only. */
export class DirectoryStore implements AuditStore {
  readonly location: string;
  constructor(private readonly root: string) {
    this.location = resolve(root);
  }

  private path(key: string): string {
    // A plain relative key (no empty, '.' or '..' segment) is its own normal form: verify reads
    // thousands of them, and path.resolve on each is a measurable share of that.
    if (plainKey.test(key) && !/(^|\/)\.{1,2}(\/|$)/.test(key)) return this.location + sep + key;
    const p = resolve(this.root, key);
    if (!p.startsWith(this.location + sep)) throw new ExternalError('filesystem', `resolve ${key}`, 'the key leaves the audit folder');
    return p;
  }

  async list(prefix: string, after?: string): Promise<string[]> {
    try {
      const names = await readdir(this.path(prefix.replace(/\/$/, '') || '.'));
      const last = after?.startsWith(prefix) ? after.slice(prefix.length) : undefined;
      return names.filter((n) => !n.startsWith('.') && (last === undefined || n > last)).sort().map((n) => `${prefix}${n}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ExternalError('filesystem', `list ${prefix} in ${this.location}`, (e as Error).message, { cause: e });
    }
  }

  async objects(prefix: string): Promise<StoredObject[]> {
    const keys = await this.list(prefix);
    try {
      // The file's modification time is this store's clock: a folder has no other (and its owner can
      // change it: the demo's store is not evidence the way an S3 bucket under Object Lock is).
      return keys.map((key) => ({ key, storedAt: statSync(this.path(key)).mtime }));
    } catch (e) {
      throw new ExternalError('filesystem', `list ${prefix} in ${this.location}`, (e as Error).message, { cause: e });
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      // Synchronous on purpose: verify reads thousands of small files, and a thread-pool round
      // trip per file costs more than the read itself.
      return readFileSync(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ExternalError('filesystem', `read ${key} in ${this.location}`, (e as Error).message, { cause: e });
    }
  }

  async writeOnce(key: string, body: Buffer): Promise<'written' | 'exists'> {
    const target = this.path(key);
    const tmp = join(dirname(target), `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(dirname(target), { recursive: true });
      // The whole file is written and synced under a private name first, then linked into place:
      // a crash never leaves a half-written record under its real name.
      const f = await open(tmp, 'wx', 0o600);
      try {
        await f.writeFile(body);
        await f.sync();
      } finally {
        await f.close();
      }
      await chmod(tmp, 0o444);
      try {
        await link(tmp, target);
        return 'written';
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const there = await readFile(target);
        return there.equals(body) ? 'written' : 'exists';
      }
    } catch (e) {
      throw new ExternalError('filesystem', `write ${key} in ${this.location}`, (e as Error).message, { cause: e });
    } finally {
      await unlink(tmp).catch(() => undefined); // already gone when open() failed
    }
  }
}

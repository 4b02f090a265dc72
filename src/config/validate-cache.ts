// Version manifests are immutable once merged, so `validate` need not parse the same one twice.
// This cache remembers the parsed data of version files that loaded with no problem at all,
// keyed by the SHA-256 of their exact bytes (the digest register's record carries anyway) under
// an identity of the validators: the schema files, modelship's version, the loader's format and
// the limits. Anything else (a different identity, a missing, unreadable, truncated or corrupt
// file) is a cold run, never an error and never a different answer: invalid files are never
// cached, so their problems, with file, line and column, are always found fresh.
//
// Where: <git dir>/modelship/validate-cache (the common git dir of a worktree, the repository
// itself when bare), so it is never committed and goes with the clone. Safe to delete.
// Format: one header line of JSON ({format, identity, entries, bodyBytes, bodySha256}, perhaps
// padded with spaces), then the body, one line per entry, ["<sha256>",<parsed data>]; the
// header's digest of the body is checked before the body is trusted. Memory does not grow with
// the cache: the file is checked and indexed a MiB at a time and each entry's data read from it
// when asked for; what a run learns is written to a temporary file as it goes, which is renamed
// over the old one at the end. Bounded (maxEntries, maxBytes): the entries this run used are kept first.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaDir } from './schema.js';
import { defaultLimits, type Limits } from './yaml.js';

export const cacheFormat = 'modelship-validate-cache/2';

/** Bumped when what the loader produces from the same bytes changes (parsers, data shape). */
const loaderVersion = 1;

export interface CacheBounds {
  /** most entries kept */
  maxEntries: number;
  /** largest cache file read or written, in bytes */
  maxBytes: number;
}

export const defaultCacheBounds: CacheBounds = { maxEntries: 50_000, maxBytes: 64 * 2 ** 20 };

/** What a run did with the cache (validate --json does not show it; tests and the bench read it). */
export interface CacheStats {
  /** how the file was found: 'missing', 'unreadable', 'corrupt', 'other-identity', 'too-large' or 'loaded' */
  opened: string;
  hits: number;
  misses: number;
  added: number;
  /** whether save() wrote the file */
  written: boolean;
}

export interface ValidateCache {
  readonly file: string;
  readonly stats: CacheStats;
  /** the parsed data of a version file whose bytes have this SHA-256, if it loaded cleanly before */
  get(sha256: string): unknown;
  /** remembers a version file that loaded with no problem (data that JSON cannot carry exactly is skipped) */
  put(sha256: string, data: unknown): void;
  /** writes the cache when it learnt something; failures are ignored (the next run is cold) */
  save(): void;
}

/** The validators' identity: schema files, modelship's version, loader format and limits. */
export function schemaIdentity(limits: Limits, schemaDir: URL, packageVersion: string): string {
  const hash = createHash('sha256');
  hash.update(`${cacheFormat}\0loader ${loaderVersion}\0modelship ${packageVersion}\0${JSON.stringify(limits)}\0`);
  const dir = fileURLToPath(schemaDir);
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    hash.update(`${name}\0`).update(readFileSync(join(dir, name))).update('\0');
  }
  return hash.digest('hex');
}

/**
 * The git directory of a repository root, found without running git: `.git` as a folder, or a
 * `.git` file pointing at a worktree's folder (then its common dir), or the root itself when it
 * is a bare repository. Undefined when there is none (no cache then).
 */
export function gitDirOf(root: string): string | undefined {
  const dotGit = join(root, '.git');
  try {
    const st = statSync(dotGit);
    if (st.isDirectory()) return dotGit;
    if (st.isFile()) {
      const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, 'utf8'));
      if (!m) return undefined;
      const dir = isAbsolute(m[1]!) ? m[1]! : resolve(root, m[1]!);
      try {
        const common = readFileSync(join(dir, 'commondir'), 'utf8').trim();
        return common ? (isAbsolute(common) ? common : resolve(dir, common)) : dir;
      } catch {
        return dir;
      }
    }
  } catch {
    // no .git: perhaps a bare repository
  }
  try {
    if (statSync(join(root, 'objects')).isDirectory() && statSync(join(root, 'HEAD')).isFile()) return root;
  } catch {
    // not a repository
  }
  return undefined;
}

export function cacheFileIn(gitDir: string): string {
  return join(gitDir, 'modelship', 'validate-cache');
}

/** Opens (reads) the cache at `file` for `identity`; never throws. */
export function openValidateCache(file: string, identity: string, bounds: CacheBounds = defaultCacheBounds): ValidateCache {
  const stats: CacheStats = { opened: 'missing', hits: 0, misses: 0, added: 0, written: false };
  // The old file is indexed, not kept: each entry's JSON is read from it when asked for (a year
  // of manifests is ~30 MB of JSON, and several times that parsed).
  let old: OldEntries | undefined;
  try {
    const size = statSync(file).size;
    if (size > bounds.maxBytes) stats.opened = 'too-large';
    else {
      const read = indexCacheFile(file, identity);
      stats.opened = read.status;
      old = read.entries;
    }
  } catch (e) {
    stats.opened = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  // The keys this run used, in order: they are kept first when the file is written. From this
  // run's first addition on, what it uses goes straight into the next file (CacheWriter), so
  // a cold run does not hold what it learns either.
  const used = new Set<string>();
  let writer: CacheWriter | undefined;
  let failed = false;
  const write = (key: string, json: Buffer | string) => {
    if (!writer || failed) return;
    try {
      writer.add(key, json);
    } catch {
      failed = true; // a full or read-only disk: nothing is written, the next run is cold
    }
  };

  return {
    file,
    stats,
    get(sha256) {
      const json = old?.read(sha256);
      if (json === undefined) {
        stats.misses++;
        return undefined;
      }
      let data: unknown;
      try {
        data = JSON.parse(json.toString('utf8'));
      } catch {
        stats.misses++; // checked whole by its digest when opened, so only if the file lied about itself
        return undefined;
      }
      stats.hits++;
      if (!used.has(sha256)) {
        used.add(sha256);
        write(sha256, json);
      }
      return data;
    },
    put(sha256, data) {
      if (used.has(sha256) || !jsonExact(data, 0)) return;
      if (!writer && !failed) {
        try {
          writer = new CacheWriter(file, identity, bounds);
          // This run's earlier hits first, in the order used.
          for (const key of used) {
            const json = old?.read(key);
            if (json) writer.add(key, json);
          }
        } catch {
          failed = true;
        }
      }
      used.add(sha256);
      write(sha256, JSON.stringify(data));
      stats.added++;
    },
    save() {
      const w = writer;
      writer = undefined;
      try {
        if (!w) return;
        if (failed) throw new Error('not written');
        // Then the older entries while there is room.
        for (const key of old?.keys() ?? []) {
          if (used.has(key)) continue;
          const json = old!.read(key);
          if (json && !w.add(key, json)) break;
        }
        w.finish();
        stats.written = true;
      } catch {
        w?.discard(); // a read-only or full disk: the next run is cold, which is only slower
      } finally {
        old?.close();
      }
    },
  };
}

/** The entries of a cache file: where each one's JSON is, read from the file when asked for. */
interface OldEntries {
  keys(): IterableIterator<string>;
  /** the entry's data as JSON bytes; undefined when there is none, or the file is no longer the one checked */
  read(key: string): Buffer | undefined;
  close(): void;
}

type Header = { format?: unknown; identity?: unknown; bodyBytes?: unknown; bodySha256?: unknown };

/**
 * Checks a cache file (header, identity, the body's length and digest, each line an entry),
 * reading it a MiB at a time, and indexes where each entry's data is. Entries are then read
 * one at a time through a descriptor closed once the reading in progress is done (a long-lived
 * process, the checker, keeps none open); a file replaced since (another run's rename) answers
 * nothing, so what is read is what was checked.
 */
function indexCacheFile(file: string, identity: string): { status: string; entries?: OldEntries } {
  const index = new Map<string, [number, number]>(); // key -> [offset of the data, its length]
  let header: Header | undefined;
  let bodyAt = 0;
  const hash = createHash('sha256');
  const line = (bytes: Buffer, at: number): string | undefined => {
    if (!header) {
      try {
        header = JSON.parse(bytes.toString('utf8')) as Header;
      } catch {
        return 'corrupt';
      }
      if (!header || typeof header !== 'object' || header.format !== cacheFormat) return 'corrupt';
      if (header.identity !== identity) return 'other-identity';
      bodyAt = at + bytes.length + 1;
      return undefined;
    }
    // Each line is ["<key>",<data>]: the key (a JSON string) is parsed, and where the data is kept.
    const end = bytes.length;
    if (bytes[0] !== 0x5b || bytes[1] !== 0x22 || bytes[end - 1] !== 0x5d) return 'corrupt';
    let quote = 2;
    for (;;) {
      quote = bytes.indexOf(0x22, quote);
      if (quote < 0) return 'corrupt';
      let slashes = 0;
      while (bytes[quote - 1 - slashes] === 0x5c) slashes++;
      if (slashes % 2 === 0) break;
      quote++;
    }
    if (bytes[quote + 1] !== 0x2c || quote + 2 >= end - 1) return 'corrupt';
    let key: unknown;
    try {
      key = JSON.parse(bytes.toString('utf8', 1, quote + 1));
    } catch {
      return 'corrupt';
    }
    if (typeof key !== 'string') return 'corrupt';
    index.set(key, [at + quote + 2, end - 1 - (quote + 2)]);
    return undefined;
  };

  let checked: Stats;
  let size = 0;
  const fd = openSync(file, 'r');
  try {
    checked = fstatSync(fd);
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry: Buffer = Buffer.alloc(0); // a line not yet whole, and where it starts in the file
    let carryAt = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, size);
      if (n === 0) break;
      const data = chunk.subarray(0, n);
      if (header) hash.update(data);
      let from = 0;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, from)) {
        const at = carry.length ? carryAt : size + from;
        const bytes = carry.length ? Buffer.concat([carry, data.subarray(from, nl)]) : data.subarray(from, nl);
        carry = Buffer.alloc(0);
        const wasHeader = !header;
        const status = line(bytes, at);
        if (status) return { status };
        if (wasHeader) hash.update(data.subarray(nl + 1)); // the body starts after the header's line feed
        from = nl + 1;
      }
      if (from < n) {
        if (!carry.length) carryAt = size + from;
        carry = Buffer.concat([carry, data.subarray(from)]);
      }
      size += n;
    }
    if (!header) return { status: 'corrupt' };
    if (carry.length) { // the last line has no line feed
      const status = line(carry, carryAt);
      if (status) return { status };
    }
  } finally {
    closeSync(fd);
  }
  if (header.bodyBytes !== size - bodyAt || header.bodySha256 !== hash.digest('hex')) return { status: 'corrupt' };

  let reading: number | undefined;
  let gone = false;
  const close = () => {
    if (reading === undefined) return;
    try {
      closeSync(reading);
    } catch {
      // already closed
    }
    reading = undefined;
  };
  return {
    status: 'loaded',
    entries: {
      keys: () => index.keys(),
      read(key) {
        const where = index.get(key);
        if (!where || gone) return undefined;
        try {
          if (reading === undefined) {
            reading = openSync(file, 'r');
            const now = fstatSync(reading);
            if (now.ino !== checked.ino || now.dev !== checked.dev || now.size !== checked.size || now.mtimeMs !== checked.mtimeMs) throw new Error('replaced');
            // Closed once this batch of reads is done (nothing waits on it to end the process).
            setImmediate(close).unref();
          }
          const bytes = Buffer.allocUnsafe(where[1]);
          for (let got = 0; got < bytes.length;) {
            const n = readSync(reading, bytes, got, bytes.length - got, where[0] + got);
            if (n === 0) throw new Error('truncated');
            got += n;
          }
          return bytes;
        } catch {
          gone = true; // replaced or unreadable since it was checked: no more answers from it
          close();
          return undefined;
        }
      },
      close,
    },
  };
}

/** Room for the header line at the start of the file, which is written last (padded with spaces, which JSON allows). */
const headerRoom = 512;

/**
 * The next cache file, written as it is learnt: entries go to a temporary file a MiB at a time
 * (with their digest), the header is written over the room left for it at the start, and the
 * file is renamed over the old one. Bounded like the file (maxEntries, maxBytes).
 */
class CacheWriter {
  private readonly temp: string;
  private readonly hash = createHash('sha256');
  private readonly chunk = Buffer.allocUnsafe(1 << 20);
  private buffered = 0;
  /** where the next flush goes */
  private position = headerRoom;
  private bytes = 0;
  private entries = 0;

  constructor(private readonly file: string, private readonly identity: string, private readonly bounds: CacheBounds) {
    mkdirSync(dirname(file), { recursive: true });
    this.temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    closeSync(openSync(this.temp, 'wx', 0o644));
  }

  /** Adds an entry; false when the bounds leave no room for it. */
  add(key: string, json: Buffer | string): boolean {
    const head = `${this.entries ? '\n' : ''}[${JSON.stringify(key)},`;
    const length = Buffer.byteLength(head) + (typeof json === 'string' ? Buffer.byteLength(json) : json.length) + 1;
    if (this.entries >= this.bounds.maxEntries || this.bytes + length > this.bounds.maxBytes - headerRoom) return false;
    this.hash.update(head).update(json).update(']');
    this.put(head);
    this.put(json);
    this.put(']');
    this.bytes += length;
    this.entries++;
    return true;
  }

  /** Writes the header and puts the file in place. */
  finish(): void {
    this.flush();
    const header = JSON.stringify({ format: cacheFormat, identity: this.identity, entries: this.entries, bodyBytes: this.bytes, bodySha256: this.hash.digest('hex') });
    const line = Buffer.from(`${header.padEnd(headerRoom - 1)}\n`, 'utf8');
    if (line.length !== headerRoom) throw new Error('the header does not fit');
    this.writeAt(line, 0);
    renameSync(this.temp, this.file);
    removeStale(this.file);
  }

  discard(): void {
    rmSync(this.temp, { force: true });
  }

  private put(part: Buffer | string): void {
    const length = typeof part === 'string' ? Buffer.byteLength(part) : part.length;
    if (this.buffered + length > this.chunk.length) this.flush();
    if (length > this.chunk.length) {
      this.writeAt(typeof part === 'string' ? Buffer.from(part, 'utf8') : part, this.position);
      this.position += length;
    } else this.buffered += typeof part === 'string' ? this.chunk.write(part, this.buffered, 'utf8') : part.copy(this.chunk, this.buffered);
  }

  private flush(): void {
    if (!this.buffered) return;
    this.writeAt(this.chunk.subarray(0, this.buffered), this.position);
    this.position += this.buffered;
    this.buffered = 0;
  }

  /** Opened for each write, so no descriptor is left open should the run end before finish(). */
  private writeAt(buffer: Buffer, position: number): void {
    const fd = openSync(this.temp, 'r+');
    try {
      for (let at = 0; at < buffer.length;) at += writeSync(fd, buffer, at, buffer.length - at, position + at);
    } finally {
      closeSync(fd);
    }
  }
}

/** Temporary files of runs that ended before saving (killed), once they are an hour old. */
function removeStale(file: string): void {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  try {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
      const path = join(dir, name);
      if (Date.now() - statSync(path).mtimeMs > 3600_000) rmSync(path, { force: true });
    }
  } catch {
    // only tidying
  }
}

/** True when JSON.stringify then JSON.parse gives back exactly this value (no -0, NaN, Infinity, undefined...). */
function jsonExact(value: unknown, depth: number): boolean {
  if (depth > 200) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every((v) => jsonExact(v, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value as Record<string, unknown>).every((v) => jsonExact(v, depth + 1));
  }
  return false;
}

/**
 * The cache of the repository at `root` for the validators this modelship runs, or undefined
 * when `root` is not in a git repository (nowhere to keep it that is never committed).
 */
export function repositoryCache(root: string, limits: Limits = defaultLimits, bounds: CacheBounds = defaultCacheBounds): ValidateCache | undefined {
  const gitDir = gitDirOf(root);
  if (!gitDir) return undefined;
  let identity: string;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    identity = schemaIdentity(limits, schemaDir, pkg.version);
  } catch {
    return undefined;
  }
  return openValidateCache(cacheFileIn(gitDir), identity, bounds);
}

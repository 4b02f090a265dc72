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
// Format: one header line of JSON ({format, identity, entries, bodyBytes, bodySha256}), then the
// body, one line per entry, ["<sha256>",<parsed data>]; the header's digest of the body is checked
// before the body is trusted, and each entry's data stays as its JSON bytes until it is asked for. Written whole to a temporary file and renamed over the old one, and
// bounded (maxEntries, maxBytes): the entries this run used are kept first.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
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
  let old = new Map<string, Buffer>();
  try {
    const size = statSync(file).size;
    if (size > bounds.maxBytes) stats.opened = 'too-large';
    else {
      const read = readCacheFile(readFileSync(file), identity);
      stats.opened = read.status;
      if (read.entries) old = read.entries;
    }
  } catch (e) {
    stats.opened = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  // Entries stay as their JSON text (the file's bytes, or this run's text) until asked for: a
  // year of manifests parsed at once is several times the file's size in memory.
  const used = new Map<string, Buffer | string>(); // sha256 -> the entry's data as JSON, this run's
  const previous = old;
  let dirty = false;

  return {
    file,
    stats,
    get(sha256) {
      const json = previous.get(sha256);
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
      used.set(sha256, json);
      return data;
    },
    put(sha256, data) {
      if (used.has(sha256) || !jsonExact(data, 0)) return;
      used.set(sha256, Buffer.from(JSON.stringify(data), 'utf8')); // off the JS heap: thousands of these would make it grow
      stats.added++;
      dirty = true;
    },
    save() {
      if (!dirty) return;
      try {
        writeCacheFile(file, identity, used, previous, bounds);
        stats.written = true;
      } catch {
        // a read-only or full disk: the next run is cold, which is only slower
      }
    },
  };
}

/** The entries, as each one's data in JSON (a view into `bytes`), by sha256; each line is checked to be an entry. */
function readCacheFile(bytes: Buffer, identity: string): { status: string; entries?: Map<string, Buffer> } {
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) return { status: 'corrupt' };
  let header: { format?: unknown; identity?: unknown; bodyBytes?: unknown; bodySha256?: unknown };
  try {
    header = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as typeof header;
  } catch {
    return { status: 'corrupt' };
  }
  if (!header || typeof header !== 'object' || header.format !== cacheFormat) return { status: 'corrupt' };
  if (header.identity !== identity) return { status: 'other-identity' };
  const body = bytes.subarray(nl + 1);
  if (header.bodyBytes !== body.length || header.bodySha256 !== createHash('sha256').update(body).digest('hex')) return { status: 'corrupt' };
  const entries = new Map<string, Buffer>();
  // Each line is ["<key>",<data>]: the key (a JSON string) is parsed and the data kept as its
  // bytes, parsed when asked for (the body's digest was checked above).
  for (let at = 0; at < body.length;) {
    let end = body.indexOf(0x0a, at);
    if (end < 0) end = body.length;
    if (body[at] !== 0x5b || body[at + 1] !== 0x22 || body[end - 1] !== 0x5d) return { status: 'corrupt' };
    let quote = at + 2;
    for (;;) {
      quote = body.indexOf(0x22, quote);
      if (quote < 0 || quote >= end) return { status: 'corrupt' };
      let slashes = 0;
      while (body[quote - 1 - slashes] === 0x5c) slashes++;
      if (slashes % 2 === 0) break;
      quote++;
    }
    if (body[quote + 1] !== 0x2c || quote + 2 >= end - 1) return { status: 'corrupt' };
    let key: unknown;
    try {
      key = JSON.parse(body.toString('utf8', at + 1, quote + 1));
    } catch {
      return { status: 'corrupt' };
    }
    if (typeof key !== 'string') return { status: 'corrupt' };
    entries.set(key, body.subarray(quote + 2, end - 1));
    at = end + 1;
  }
  return { status: 'loaded', entries };
}

function writeCacheFile(file: string, identity: string, used: Map<string, Buffer | string>, old: Map<string, Buffer>, bounds: CacheBounds): void {
  // Which entries fit (this run's first, older ones while there is room) and the body's digest,
  // then the header and the body written a group of lines at a time: the body is never in memory whole.
  const chosen: Array<[string, Buffer | string]> = [];
  let bytes = 0;
  const hash = createHash('sha256');
  const add = (key: string, json: Buffer | string): boolean => {
    const head = `${chosen.length ? '\n' : ''}[${JSON.stringify(key)},`;
    const length = Buffer.byteLength(head) + (typeof json === 'string' ? Buffer.byteLength(json) : json.length) + 1;
    if (chosen.length >= bounds.maxEntries || bytes + length > bounds.maxBytes - 512) return false;
    chosen.push([key, json]);
    hash.update(head).update(json).update(']');
    bytes += length;
    return true;
  };
  for (const [key, json] of used) if (!add(key, json)) break;
  for (const [key, json] of old) {
    if (used.has(key)) continue;
    if (!add(key, json)) break;
  }
  const header = JSON.stringify({ format: cacheFormat, identity, entries: chosen.length, bodyBytes: bytes, bodySha256: hash.digest('hex') });
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeAll(fd, Buffer.from(`${header}\n`, 'utf8'));
      // One reused buffer of lines: writing 30 MB allocates nothing per entry.
      const chunk = Buffer.allocUnsafe(1 << 20);
      let used = 0;
      const put = (part: Buffer | string) => {
        const length = typeof part === 'string' ? Buffer.byteLength(part) : part.length;
        if (used + length > chunk.length) {
          writeAll(fd, chunk.subarray(0, used));
          used = 0;
        }
        if (length > chunk.length) writeAll(fd, typeof part === 'string' ? Buffer.from(part, 'utf8') : part);
        else used += typeof part === 'string' ? chunk.write(part, used, 'utf8') : part.copy(chunk, used);
      };
      chosen.forEach(([key, json], i) => {
        put(`${i ? '\n' : ''}[${JSON.stringify(key)},`);
        put(json);
        put(']');
      });
      writeAll(fd, chunk.subarray(0, used));
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, buffer: Buffer): void {
  for (let at = 0; at < buffer.length;) at += writeSync(fd, buffer, at, buffer.length - at);
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

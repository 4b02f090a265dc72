// Reading an environment's trail for verify and trace: every record and bundle from the store,
// git's view of main, then the pure verify; and the local trace index, rebuilt from verified
// records whenever the store's newest record is not the one it was built from.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleHeads, firstParentLine, gitViewOf } from '../adapters/git/audit.js';
import type { AuditSettings } from './policy.js';
import { bundleKey, decodeRecord, recordKey, seqOfKey } from './record.js';
import { sha256Hex, type TrustedKey } from './sign.js';
import { originalVersion, type AuditStore, type StoredObject } from './store.js';
import { buildIndex, viewOf, type IndexEntry, type TraceIndex, type TraceView } from './trace.js';
import { verifyTrail, type BundleFact, type StoredRecord, type VerifyResult } from './verify.js';
import { BatchBuilder, checkBatch, type BatchKeys, type SignatureAnswers } from './signature-batch.js';

export interface TrailRequest {
  root: string;
  /** main's tip to check history against */
  rev: string;
  settings: AuditSettings;
  store: AuditStore;
  /** judge records from this seq, or from the first recorded at or after this time */
  since?: number | Date;
  /** how many objects to read at once */
  concurrency?: number;
  /** from how many records signatures are checked on worker threads (default 1000; tests lower it) */
  parallelFrom?: number;
}

/** The environment's record objects, with the store's times and versions, sorted by key (= by seq). */
export async function recordObjects(store: AuditStore, settings: AuditSettings): Promise<StoredObject[]> {
  const folder = recordKey(settings.prefix, settings.environment, 0).replace(/[^/]+$/, '');
  return (await store.objects(folder)).filter((o) => seqOfKey(o.key) !== undefined);
}

/**
 * Records are read, decoded and handed to the signature workers this many at a time; between
 * batches the event loop turns (workers' answers heard, idle workers fed): often enough that a
 * worker's two posted batches last until the next turn.
 */
const batchSize = 64;
/** Signatures go to a worker (or are checked here) this many at a time: small enough that no thread waits long for the last batches. */
const signatureBatch = 64;

/**
 * Reads the trail and verifies it. main's first-parent line (a git process) and, for a long
 * trail, the signature workers start first; this thread reads and decodes the records a batch at
 * a time, hands each batch's signatures to the workers and hashes the batch's bundles while they
 * check. What verify judges is the same whichever thread checked a signature.
 */
export async function verifyEnvironment(req: TrailRequest): Promise<VerifyResult> {
  const { store, settings } = req;
  const concurrency = req.concurrency ?? 16;
  const lineRead = firstParentLine(req.root, req.rev);
  lineRead.catch(() => undefined); // awaited below; a failure then is the one reported
  const listed = await recordObjects(store, settings);
  const pool = listed.length >= (req.parallelFrom ?? parallelFrom) ? SignaturePool.start(settings.keys) : undefined;
  const bundleFolder = bundleKey(settings.prefix, settings.environment, 'x').replace(/[^/]+$/, '');
  const bundleObjects = store.objects(bundleFolder).then((list) => new Map(list.filter((o) => o.key.endsWith('.bundle')).map((o) => [o.key, o])));
  bundleObjects.catch(() => undefined); // awaited below
  try {
    const records: StoredRecord[] = [];
    const commits: string[] = [];
    const bundles = new Map<string, BundleFact>();
    let fromSeq = typeof req.since === 'number' ? req.since : req.since ? Infinity : 0;
    for (let at = 0; at < listed.length; at += batchSize) {
      // A key with several versions or a delete marker is read at its first version (what Object Lock protects); verify reports the rest.
      const batch = await mapLimit(listed.slice(at, at + batchSize), concurrency, async (o): Promise<StoredRecord> => ({
        key: o.key, seq: seqOfKey(o.key)!, bytes: (await store.read(o.key, originalVersion(o)?.versionId)) ?? Buffer.alloc(0),
        ...(o.storedAt ? { storedAt: o.storedAt.getTime() } : {}), ...(o.versions ? { versions: o.versions } : {}),
      }));
      let jobs = pool ? new BatchBuilder() : undefined;
      const bundleKeys: string[] = [];
      for (const r of batch) {
        records.push(r);
        const d = (r.decoded = decodeRecord(r.bytes));
        // --since is a time on the store's clock, as verify judges times.
        if (req.since instanceof Date && d.ok && fromSeq === Infinity && (r.storedAt ?? Date.parse(d.statement.predicate.recordedAt)) >= req.since.getTime()) fromSeq = r.seq;
        if (r.seq < fromSeq || !d.ok) continue;
        commits.push(d.statement.predicate.git.commit);
        if (d.statement.predicate.git.bundle?.key) bundleKeys.push(d.statement.predicate.git.bundle.key);
        if (!jobs) continue;
        for (const [i, s] of d.envelope.signatures.entries()) {
          // Anything but a well-formed entry is left to verify itself, which says what is wrong with it.
          if (typeof s?.keyid !== 'string' || typeof s.sig !== 'string') continue;
          jobs.add(`${r.seq}:${i}`, s.keyid, d.envelope.payloadType, d.payload, s.sig);
        }
        if (jobs.size >= signatureBatch) {
          pool!.submit(jobs);
          jobs = new BatchBuilder();
        }
      }
      if (jobs?.size) pool!.submit(jobs);
      const inStore = await bundleObjects;
      await mapLimit(bundleKeys, concurrency, async (key) => {
        const o = inStore.get(key);
        const bytes = await store.read(key, o && originalVersion(o)?.versionId);
        bundles.set(key, bytes ? { sha256: sha256Hex(bytes), size: bytes.length, heads: bundleHeads(bytes) ?? [], ...(o?.versions ? { versions: o.versions } : {}) } : undefined);
      });
      // A folder store reads synchronously: without this turn of the event loop no worker's answer
      // would be heard (and no idle worker given the next batch) until every record was read.
      if (pool) await turn();
    }
    // Bundles no record names: what a record's deletion leaves behind (or a mirror stopped between its two writes).
    const referenced = new Set(records.flatMap((r) => (r.decoded?.ok && r.decoded.statement.predicate.git?.bundle?.key ? [r.decoded.statement.predicate.git.bundle.key] : [])));
    const orphans = await mapLimit([...(await bundleObjects).values()].filter((o) => !referenced.has(o.key)), concurrency, async (o) => {
      const bytes = await store.read(o.key, originalVersion(o)?.versionId);
      return { key: o.key, heads: bytes ? bundleHeads(bytes) ?? [] : [], ...(o.versions ? { versions: o.versions } : {}) };
    });
    const [git, signatures] = await Promise.all([lineRead.then((line) => gitViewOf(req.root, line, commits)), pool?.finish()]);
    return verifyTrail({
      ...(signatures ? { signatures } : {}),
      orphans,
      environment: settings.environment, records, keys: settings.keys, ...(settings.keysFrom ? { keysFrom: settings.keysFrom } : {}), git, bundles, skewMs: settings.skewMs,
      fromSeq: fromSeq === Infinity ? (records[records.length - 1]?.seq ?? -1) + 1 : fromSeq,
    });
  } finally {
    pool?.stop();
  }
}

/**
 * The index on disk: <env>.json holds the intervals and the byte offset of each record's entry
 * in <env>.entries.ndjson, so trace parses only the intervals and reads the few entries it
 * answers from, whatever the length of the trail.
 */
export interface IndexFile {
  format: 2;
  store: string;
  /** the policy's audit section it was verified under */
  policy: string;
  environment: string;
  head: { seq: number; digest: string };
  models: TraceIndex['models'];
  firstSeq: number;
  offsets: number[];
  /** SHA-256 of the entries file as written: verify leaves an index alone only when it is whole (absent in older indexes: rebuilt) */
  entriesSha256?: string;
  /** the policy file it was verified under, by digest, and the store it names: trace finds a current index without parsing the policy */
  source?: IndexSource;
}

/** The environment's policy file (SHA-256 of its bytes at the revision) and the store its audit section names. */
export interface IndexSource {
  policySha256: string;
  bucket: string;
  prefix: string;
  retentionDays: number;
}

export function indexFile(cacheDir: string, environment: string): string {
  return join(cacheDir, `${environment}.json`);
}

const entriesFileOf = (file: string) => file.replace(/\.json$/, '.entries.ndjson');

/** The index file's head (intervals, offsets, where it came from), undefined when there is none or it is unreadable. */
export function readIndexFile(cacheDir: string, environment: string): IndexFile | undefined {
  try {
    const index = JSON.parse(readFileSync(indexFile(cacheDir, environment), 'utf8')) as IndexFile;
    return index?.format === 2 ? index : undefined;
  } catch {
    return undefined; // no index yet, or an unreadable one: rebuild
  }
}

/** Writes the index built from a fully verified trail (atomically: a reader never sees half of it). */
export async function saveIndex(cacheDir: string, result: VerifyResult, location: string, settings: AuditSettings, source?: IndexSource): Promise<TraceView> {
  const index = buildIndex(result.environment, result.records);
  await mkdir(cacheDir, { recursive: true });
  const file = indexFile(cacheDir, result.environment);
  const entriesFile = entriesFileOf(file);
  const offsets: number[] = [];
  let at = 0;
  const lines = index.entries.map((e) => {
    const line = JSON.stringify(e) + '\n';
    offsets.push(at);
    at += Buffer.byteLength(line);
    return line;
  });
  const entries = Buffer.from(lines.join(''), 'utf8');
  const head: IndexFile = {
    format: 2, store: location, policy: settings.fingerprint, environment: index.environment, head: index.head, models: index.models,
    firstSeq: index.entries[0]?.record.seq ?? 0, offsets, entriesSha256: sha256Hex(entries), ...(source ? { source } : {}),
  };
  // The entries first, then the file that points into them: a crash in between leaves the old index pointing at new entries, which currentIndex rejects (digest).
  await writeFile(`${entriesFile}.tmp`, entries);
  await rename(`${entriesFile}.tmp`, entriesFile);
  await writeFile(`${file}.tmp`, JSON.stringify(head));
  await rename(`${file}.tmp`, file);
  return viewOf(index);
}

/**
 * After a verify: writes the index unless the one on disk was built from this same trail (same
 * store, same audit section, same head record by seq and digest, which through the chain's
 * digests names every record before it), from the same policy file, and its entries file is
 * whole. Rebuilding then would write the same bytes again.
 */
export async function refreshIndex(cacheDir: string, result: VerifyResult, location: string, settings: AuditSettings, source?: IndexSource): Promise<void> {
  const last = result.records[result.records.length - 1];
  const on = readIndexFile(cacheDir, result.environment);
  const same = !!last && !!on?.entriesSha256 && on.store === location && on.policy === settings.fingerprint && on.environment === result.environment &&
    on.head.seq === last.seq && on.head.digest === last.digest && on.firstSeq === result.records[0]!.seq && on.offsets.length === result.records.length &&
    JSON.stringify(on.source ?? null) === JSON.stringify(source ?? null);
  if (same) {
    try {
      if (sha256Hex(readFileSync(entriesFileOf(indexFile(cacheDir, result.environment)))) === on.entriesSha256) return;
    } catch {
      // no entries file: rebuild
    }
  }
  await saveIndex(cacheDir, result, location, settings, source);
}

/**
 * The cached index when it is current: built from this store, and the store's newest record is
 * still the one it was built from (same seq, same digest). Undefined otherwise. `read` is the
 * index file when the caller has read it already.
 */
export async function currentIndex(cacheDir: string, store: AuditStore, settings: AuditSettings, read?: IndexFile): Promise<TraceView | undefined> {
  const index = read ?? readIndexFile(cacheDir, settings.environment);
  if (!index || index.store !== store.location || index.policy !== settings.fingerprint) return undefined;
  // The newest record: no record key sorts after the head's, and the head's is there with its digest.
  const headKey = recordKey(settings.prefix, settings.environment, index.head.seq);
  const folder = headKey.replace(/[^/]+$/, '');
  if ((await store.list(folder, headKey)).some((k) => k > headKey && seqOfKey(k) !== undefined)) return undefined;
  const bytes = await store.read(headKey);
  if (!bytes || sha256Hex(bytes) !== index.head.digest) return undefined;
  const entries = entriesFileOf(indexFile(cacheDir, settings.environment));
  return {
    environment: index.environment, head: index.head, models: index.models,
    entry(seq) {
      const i = seq - index.firstSeq;
      const from = index.offsets[i]!;
      const to = index.offsets[i + 1];
      const fd = openSync(entries, 'r');
      try {
        const size = to !== undefined ? to - from : fstatSync(fd).size - from;
        const buf = Buffer.alloc(size);
        readSync(fd, buf, 0, size, from);
        return JSON.parse(buf.toString('utf8')) as IndexEntry;
      } finally {
        closeSync(fd);
      }
    },
  };
}

const workerFile = fileURLToPath(new URL('./verify-worker.js', import.meta.url));
/** Below this many records, starting threads costs more than it saves. */
const parallelFrom = 1000;

/** How many signatures worker threads checked in this process (tests check the workers really ran). */
export const workerStats = { signatures: 0 };

/** One turn of the event loop: messages from the workers are heard. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Worker threads checking signatures, one per core (up to 4), fed batches from a queue as the
 * records are read: each worker has at most two batches posted (one running, one waiting), the
 * rest wait here. When this thread has read every record it checks the queued batches itself,
 * beside the workers, so no core idles whichever side was faster. verify then uses the answers by
 * `${seq}:${index}`. Not started on one core, or when run from the sources (the worker script
 * exists only in dist/): verify then checks them itself.
 */
class SignaturePool {
  private readonly answers = new Map<string, boolean>();
  private readonly queue: BatchBuilder[] = [];
  private readonly posted: number[];
  private readonly inFlight = new Map<number, string[]>();
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private next = 0;

  private constructor(private readonly workers: Worker[], private readonly keys: BatchKeys) {
    this.posted = workers.map(() => 0);
    workers.forEach((w, n) => {
      w.on('message', (m: SignatureAnswers) => {
        const ids = this.inFlight.get(m.id);
        if (!ids) return;
        this.inFlight.delete(m.id);
        this.posted[n]!--;
        this.take(ids, m.answers);
        workerStats.signatures += m.answers.length;
        this.dispatch();
        this.wake?.();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`a signature worker exited with code ${code}`)));
    });
  }

  static start(keys: TrustedKey[]): SignaturePool | undefined {
    const threads = Math.min(availableParallelism(), 4);
    if (threads < 2 || !existsSync(workerFile)) return undefined;
    const der = keys.map((k) => ({ id: k.id, algorithm: k.algorithm, der: k.key.export({ format: 'der', type: 'spki' }) }));
    const workers = Array.from({ length: threads }, () => new Worker(workerFile, { workerData: { keys: der } }));
    return new SignaturePool(workers, new Map(keys.map((k) => [k.id, { algorithm: k.algorithm, key: k.key }])));
  }

  submit(batch: BatchBuilder): void {
    this.queue.push(batch);
    this.dispatch();
  }

  /** Every answer, once the queue is empty (this thread checking what no worker took) and every posted batch answered. */
  async finish(): Promise<Map<string, boolean>> {
    while (this.queue.length && !this.failure) {
      const batch = this.queue.pop()!; // the workers take from the front
      this.take(batch.ids, checkBatch(this.keys, batch.build(-1)));
      await turn();
    }
    while (this.inFlight.size && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    if (this.failure) throw this.failure;
    return this.answers;
  }

  stop(): void {
    this.failure ??= new Error('stopped');
    for (const w of this.workers) void w.terminate();
  }

  private dispatch(): void {
    for (const [n, w] of this.workers.entries()) {
      while (this.posted[n]! < 2 && this.queue.length && !this.failure) {
        const id = this.next++;
        const builder = this.queue.shift()!;
        const batch = builder.build(id);
        this.inFlight.set(id, builder.ids);
        this.posted[n]!++;
        w.postMessage(batch, [batch.bytes, batch.table]);
      }
    }
  }

  private take(ids: string[], answers: Uint8Array): void {
    for (let i = 0; i < ids.length; i++) this.answers.set(ids[i]!, answers[i] === 1);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake?.();
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

// Reading an environment's trail for verify and trace: every record and bundle from the store,
// git's view of main, then the pure verify; and the local trace index, rebuilt from verified
// records whenever the store's newest record is not the one it was built from.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleHeads, gitView } from '../adapters/git/audit.js';
import type { AuditSettings } from './policy.js';
import { decodeRecord, recordKey, seqOfKey } from './record.js';
import { sha256Hex } from './sign.js';
import type { AuditStore } from './store.js';
import { buildIndex, viewOf, type IndexEntry, type TraceIndex, type TraceView } from './trace.js';
import { verifyTrail, type BundleFact, type StoredRecord, type VerifyResult } from './verify.js';
import type { SignatureJob } from './verify-worker.js';

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
}

export async function recordKeys(store: AuditStore, settings: AuditSettings): Promise<string[]> {
  const folder = recordKey(settings.prefix, settings.environment, 0).replace(/[^/]+$/, '');
  return (await store.list(folder)).filter((k) => seqOfKey(k) !== undefined);
}

/** Reads the trail and verifies it. */
export async function verifyEnvironment(req: TrailRequest): Promise<VerifyResult> {
  const { store, settings } = req;
  const keys = await recordKeys(store, settings);
  const records: StoredRecord[] = (await mapLimit(keys, req.concurrency ?? 16, async (key) => ({ key, seq: seqOfKey(key)!, bytes: (await store.read(key)) ?? Buffer.alloc(0) })));
  const commits: string[] = [];
  const bundleKeys: string[] = [];
  let fromSeq = typeof req.since === 'number' ? req.since : req.since ? Infinity : 0;
  for (const r of records) {
    const d = (r.decoded = decodeRecord(r.bytes));
    if (req.since instanceof Date && d.ok && fromSeq === Infinity && Date.parse(d.statement.predicate.recordedAt) >= req.since.getTime()) fromSeq = r.seq;
    if (r.seq < fromSeq || !d.ok) continue;
    commits.push(d.statement.predicate.git.commit);
    if (d.statement.predicate.git.bundle?.key) bundleKeys.push(d.statement.predicate.git.bundle.key);
  }
  // Signatures (on worker threads) and git history (a git process) start first; this thread
  // hashes the bundles meanwhile.
  const checking = Promise.all([gitView(req.root, req.rev, commits), checkSignaturesInParallel(records, settings, fromSeq)]);
  checking.catch(() => undefined);
  const bundles = new Map<string, BundleFact>();
  await mapLimit(bundleKeys, req.concurrency ?? 16, async (key) => {
    const bytes = await store.read(key);
    bundles.set(key, bytes ? { sha256: sha256Hex(bytes), size: bytes.length, heads: bundleHeads(bytes) ?? [] } : undefined);
  });
  const [git, signatures] = await checking;
  return verifyTrail({
    ...(signatures ? { signatures } : {}),
    environment: settings.environment, records, keys: settings.keys, git, bundles, skewMs: settings.skewMs,
    fromSeq: fromSeq === Infinity ? (records[records.length - 1]?.seq ?? -1) + 1 : fromSeq,
  });
}

/**
 * The index on disk: <env>.json holds the intervals and the byte offset of each record's entry
 * in <env>.entries.ndjson, so trace parses only the intervals and reads the few entries it
 * answers from, whatever the length of the trail.
 */
interface IndexFile {
  format: 2;
  store: string;
  /** the policy's audit section it was verified under */
  policy: string;
  environment: string;
  head: { seq: number; digest: string };
  models: TraceIndex['models'];
  firstSeq: number;
  offsets: number[];
}

export function indexFile(cacheDir: string, environment: string): string {
  return join(cacheDir, `${environment}.json`);
}

/** Writes the index built from a fully verified trail (atomically: a reader never sees half of it). */
export async function saveIndex(cacheDir: string, result: VerifyResult, location: string, settings: AuditSettings): Promise<TraceView> {
  const index = buildIndex(result.environment, result.records);
  await mkdir(cacheDir, { recursive: true });
  const file = indexFile(cacheDir, result.environment);
  const entriesFile = file.replace(/\.json$/, '.entries.ndjson');
  const offsets: number[] = [];
  let at = 0;
  const lines = index.entries.map((e) => {
    const line = JSON.stringify(e) + '\n';
    offsets.push(at);
    at += Buffer.byteLength(line);
    return line;
  });
  const head: IndexFile = { format: 2, store: location, policy: settings.fingerprint, environment: index.environment, head: index.head, models: index.models, firstSeq: index.entries[0]?.record.seq ?? 0, offsets };
  // The entries first, then the file that points into them: a crash in between leaves the old index pointing at new entries, which currentIndex rejects (digest).
  await writeFile(`${entriesFile}.tmp`, lines.join(''));
  await rename(`${entriesFile}.tmp`, entriesFile);
  await writeFile(`${file}.tmp`, JSON.stringify(head));
  await rename(`${file}.tmp`, file);
  return viewOf(index);
}

/**
 * The cached index when it is current: built from this store, and the store's newest record is
 * still the one it was built from (same seq, same digest). Undefined otherwise.
 */
export async function currentIndex(cacheDir: string, store: AuditStore, settings: AuditSettings): Promise<TraceView | undefined> {
  let index: IndexFile;
  const file = indexFile(cacheDir, settings.environment);
  try {
    index = JSON.parse(readFileSync(file, 'utf8')) as IndexFile;
  } catch {
    return undefined; // no index yet, or an unreadable one: rebuild
  }
  if (index.format !== 2 || index.store !== store.location || index.policy !== settings.fingerprint) return undefined;
  const keys = await recordKeys(store, settings);
  const last = keys[keys.length - 1];
  if (!last || seqOfKey(last) !== index.head.seq) return undefined;
  const bytes = await store.read(last);
  if (!bytes || sha256Hex(bytes) !== index.head.digest) return undefined;
  const entries = file.replace(/\.json$/, '.entries.ndjson');
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

/**
 * Checks the judged records' signatures on worker threads, one share per core, when the trail
 * is long; verify then uses these answers. Undefined: verify checks them itself.
 */
async function checkSignaturesInParallel(records: StoredRecord[], settings: AuditSettings, fromSeq: number): Promise<Map<string, boolean> | undefined> {
  const threads = Math.min(availableParallelism(), 4);
  if (threads < 2 || records.length < parallelFrom || !existsSync(workerFile)) return undefined;
  const ids: string[] = [];
  const jobs: SignatureJob[] = [];
  for (const r of records) {
    if (r.seq < fromSeq || !r.decoded?.ok) continue;
    for (const [i, s] of r.decoded.envelope.signatures.entries()) {
      ids.push(`${r.seq}:${i}`);
      jobs.push({ type: r.decoded.envelope.payloadType, payload: r.decoded.payload, keyid: s.keyid, sig: s.sig });
    }
  }
  const keys = settings.keys.map((k) => ({ id: k.id, algorithm: k.algorithm, der: k.key.export({ format: 'der', type: 'spki' }) }));
  const share = Math.ceil(jobs.length / threads);
  const answers = await Promise.all(Array.from({ length: threads }, (_, t) => new Promise<boolean[]>((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { keys, jobs: jobs.slice(t * share, (t + 1) * share) } });
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  const out = new Map<string, boolean>();
  answers.flat().forEach((ok, i) => out.set(ids[i]!, ok));
  return out;
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

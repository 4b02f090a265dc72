// Reading an environment's trail for verify and trace: every record and bundle from the store,
// git's view of main, then the pure verify; and the local trace index, rebuilt from verified
// records whenever the store's newest record is not the one it was built from.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleHeads, gitView } from './git.js';
import type { AuditSettings } from './policy.js';
import { decodeRecord, recordKey, seqOfKey } from './record.js';
import { sha256Hex } from './sign.js';
import type { AuditStore } from './store.js';
import { buildIndex, type TraceIndex } from './trace.js';
import { verifyTrail, type BundleFact, type StoredRecord, type VerifyResult } from './verify.js';

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
    const d = decodeRecord(r.bytes);
    if (req.since instanceof Date && d.ok && fromSeq === Infinity && Date.parse(d.statement.predicate.recordedAt) >= req.since.getTime()) fromSeq = r.seq;
    if (r.seq < fromSeq || !d.ok) continue;
    commits.push(d.statement.predicate.git.commit);
    if (d.statement.predicate.git.bundle?.key) bundleKeys.push(d.statement.predicate.git.bundle.key);
  }
  const bundles = new Map<string, BundleFact>();
  await mapLimit(bundleKeys, req.concurrency ?? 16, async (key) => {
    const bytes = await store.read(key);
    bundles.set(key, bytes ? { sha256: sha256Hex(bytes), size: bytes.length, heads: bundleHeads(bytes) ?? [] } : undefined);
  });
  const git = await gitView(req.root, req.rev, commits);
  return verifyTrail({
    environment: settings.environment, records, keys: settings.keys, git, bundles, skewMs: settings.skewMs,
    fromSeq: fromSeq === Infinity ? (records[records.length - 1]?.seq ?? -1) + 1 : fromSeq,
  });
}

/** The index file of an environment in the cache folder. */
export function indexFile(cacheDir: string, environment: string): string {
  return join(cacheDir, `${environment}.json`);
}

/** Writes the index built from a fully verified trail (atomically: a reader never sees half a file). */
export async function saveIndex(cacheDir: string, result: VerifyResult, location: string): Promise<TraceIndex> {
  const index = { ...buildIndex(result.environment, result.records), store: location };
  await mkdir(cacheDir, { recursive: true });
  const file = indexFile(cacheDir, result.environment);
  await writeFile(`${file}.tmp`, JSON.stringify(index));
  await rename(`${file}.tmp`, file);
  return index;
}

/**
 * The cached index when it is current: built from this store, and the store's newest record is
 * still the one it was built from (same seq, same digest). Undefined otherwise.
 */
export async function currentIndex(cacheDir: string, store: AuditStore, settings: AuditSettings): Promise<TraceIndex | undefined> {
  let index: TraceIndex & { store?: string };
  try {
    index = JSON.parse(await readFile(indexFile(cacheDir, settings.environment), 'utf8')) as TraceIndex & { store?: string };
  } catch {
    return undefined; // no index yet, or an unreadable one: rebuild
  }
  if (index.format !== 1 || index.store !== store.location) return undefined;
  const keys = await recordKeys(store, settings);
  const last = keys[keys.length - 1];
  if (!last || seqOfKey(last) !== index.head.seq) return undefined;
  const bytes = await store.read(last);
  return bytes && sha256Hex(bytes) === index.head.digest ? index : undefined;
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

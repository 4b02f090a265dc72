// The checkpoints of an environment's trail, published and read: after each mirror, a signed
// note (note.ts) of the trail's size and RFC 6962 root (checkpoint.ts) is written once to a
// second place (policy audit.checkpoints: another bucket, written with other credentials); verify
// compares the trail it reads with the newest one, from where the auditor says. A trail whose
// newest records were deleted, even with main rewound to match, is then smaller than what was
// published and signed; one with a record replaced no longer hashes to its root.
//
// Keys, under the place's prefix: <env>/checkpoints/<size, 12 digits>.note, and beside each the
// compact range that lets the next mirror extend the tree without reading every record
// (<size>.range.json; checked against the note's root before use, recomputed from the records
// when it does not match). A checkpoint is never smaller than the one before it, and its first
// leaves always hash to the one before's root: mirror refuses to sign anything else.

import { RefusedError, SignedNoteError } from '../errors.js';
import { checkAgainst, checkpointText, extendRange, leafHash, parseCheckpoint, rangeRoot, type Checkpoint, type CompactRange } from './checkpoint.js';
import { noteSignerFor, noteVerifierFor, openNote, signNote, type NoteVerifier } from './note.js';
import type { AuditSettings } from './policy.js';
import { recordKey, seqOfKey } from './record.js';
import { sha256Hex, type Signer, type TrustedKey } from './sign.js';
import { originalVersion, type AuditStore } from './store.js';
import { versionFindings } from './verify.js';

/** Where an environment's checkpoints are published: a store and the prefix inside it. */
export interface CheckpointPlace {
  store: AuditStore;
  prefix: string;
}

/** The log's identity in its checkpoints, and the key name its signatures carry: <bucket>/<prefix>/<environment> of the records. */
export function checkpointOrigin(settings: Pick<AuditSettings, 'bucket' | 'prefix' | 'environment'>): string {
  const origin = [settings.bucket, settings.prefix, settings.environment].filter(Boolean).join('/');
  if (/[\s+]/.test(origin)) throw new SignedNoteError(`the trail's store ${settings.bucket}/${settings.prefix} cannot name a checkpoint origin (no spaces or '+')`);
  return origin;
}

function folder(prefix: string, environment: string): string {
  return recordKey(prefix, environment, 0).replace(/records\/[^/]+$/, 'checkpoints/');
}
const noteKey = (prefix: string, environment: string, size: number) => `${folder(prefix, environment)}${String(size).padStart(12, '0')}.note`;
const rangeKey = (prefix: string, environment: string, size: number) => `${folder(prefix, environment)}${String(size).padStart(12, '0')}.range.json`;

/**
 * The newest checkpoint note published for the environment, unopened; undefined when there is
 * none. verify lists with versions (`versions: true`: a delete marker over the newest checkpoint
 * would otherwise make an older one the newest, and tampering is named); mirror, which writes
 * the next one and whose role cannot list versions, lists the current keys only.
 */
export async function latestCheckpoint(place: CheckpointPlace, environment: string, versions = false): Promise<{ key: string; size: number; text: string; tampering: string[] } | undefined> {
  const listed = versions
    ? await place.store.objects(folder(place.prefix, environment))
    : (await place.store.list(folder(place.prefix, environment))).map((key) => ({ key, versions: undefined }));
  const notes = listed.filter((o) => /\/\d{12}\.note$/.test(o.key));
  const tampering = notes.flatMap((o) => versionFindings(`checkpoint ${o.key}`, o.versions));
  const newest = notes[notes.length - 1];
  if (!newest) return undefined;
  const bytes = await place.store.read(newest.key, originalVersion(newest)?.versionId);
  if (!bytes) return undefined;
  return { key: newest.key, size: Number(/(\d{12})\.note$/.exec(newest.key)![1]), text: bytes.toString('utf8'), tampering };
}

/** Verifiers for the trusted keys, one per distinct key (two ids for one key would make it ambiguous). */
function verifiersFor(origin: string, keys: readonly TrustedKey[]): NoteVerifier[] {
  const byId = new Map<number, NoteVerifier>();
  for (const k of keys) {
    const v = noteVerifierFor(origin, k.algorithm, k.key);
    byId.set(v.keyId, v);
  }
  return [...byId.values()];
}

/** The opened, parsed checkpoint, or why it cannot be trusted. */
function openCheckpoint(text: string, origin: string, keys: readonly TrustedKey[]): Checkpoint | string {
  try {
    return parseCheckpoint(openNote(text, verifiersFor(origin, keys)).text);
  } catch (e) {
    if (e instanceof SignedNoteError) return e.message;
    throw e;
  }
}

export interface PublishRequest {
  place: CheckpointPlace;
  /** where the records are */
  records: AuditStore;
  settings: AuditSettings;
  /** the records' signer: the checkpoint is signed with the same key */
  signer: Signer;
}

/**
 * Signs and writes the checkpoint of the trail as it is now (its records from seq 0 while they
 * follow each other). Nothing is written when the newest checkpoint already has that size.
 * Refuses, writing nothing, a trail smaller than the newest checkpoint or whose first records no
 * longer hash to its root: that is tampering for verify to name, not something to sign over.
 */
export async function publishCheckpoint(req: PublishRequest): Promise<{ key: string; size: number; written: boolean }> {
  const { place, settings, signer } = req;
  const environment = settings.environment;
  const origin = checkpointOrigin(settings);
  const trusted = settings.keys.find((k) => k.id === signer.keyid);
  if (!trusted) throw new RefusedError(`the signing key ${signer.keyid} is not among the keys ${settings.file} trusts; no checkpoint written`);
  const keys = (await req.records.list(recordKey(settings.prefix, environment, 0).replace(/[^/]+$/, ''))).filter((k) => seqOfKey(k) !== undefined);
  let size = 0;
  while (size < keys.length && seqOfKey(keys[size]!) === size) size++;

  let range: CompactRange = { size: 0, nodes: [] };
  const latest = await latestCheckpoint(place, environment);
  let last: Checkpoint | undefined;
  if (latest) {
    const opened = openCheckpoint(latest.text, origin, settings.keys);
    if (typeof opened === 'string') throw new RefusedError(`${environment}: the newest checkpoint ${latest.key} in ${place.store.location} does not verify: ${opened}; no checkpoint written`, 'run modelship audit verify');
    last = opened;
    if (last.size > size) {
      throw new RefusedError(`${environment}: the trail holds ${size} record${size === 1 ? '' : 's'} from seq 0, but checkpoint ${latest.key} signed it at ${last.size}: records were removed; no checkpoint written`, 'run modelship audit verify');
    }
    if (last.size === size) return { key: latest.key, size, written: false };
    range = await storedRange(place, environment, last) ?? range;
  }
  const digests: string[] = [];
  for (let seq = range.size; seq < size; seq++) {
    const bytes = await req.records.read(keys[seq]!);
    if (!bytes) throw new RefusedError(`${environment}: record ${seq} (${keys[seq]}) could not be read; no checkpoint written`);
    digests.push(sha256Hex(bytes));
  }
  if (last && range.size < last.size) {
    // No usable range beside the last checkpoint: the records are read from seq 0, and must still hash to it.
    const problems = checkAgainst(last, origin, digests);
    if (problems.length) throw new RefusedError(`${environment}: ${problems[0]}; no checkpoint written`, 'run modelship audit verify');
  }
  const next = extendRange(range, digests.map((d) => leafHash(Buffer.from(d, 'hex'))));
  const text = checkpointText({ origin, size, root: rangeRoot(next), extensions: [] });
  const note = await signNote(text, [noteSignerFor(origin, signer, trusted.key)]);
  // The range first: a note found means its range was written (or failed to be, which costs the next mirror a full read only).
  await place.store.writeOnce(rangeKey(place.prefix, environment, size), Buffer.from(JSON.stringify({ size: next.size, nodes: next.nodes.map((n) => n.toString('base64')) })), 'application/json');
  const key = noteKey(place.prefix, environment, size);
  const outcome = await place.store.writeOnce(key, Buffer.from(note, 'utf8'), 'text/plain; charset=utf-8');
  return { key, size, written: outcome === 'written' };
}

/** The compact range kept beside a checkpoint, if it is there and gives the checkpoint's root. */
async function storedRange(place: CheckpointPlace, environment: string, c: Checkpoint): Promise<CompactRange | undefined> {
  try {
    const bytes = await place.store.read(rangeKey(place.prefix, environment, c.size));
    if (!bytes) return undefined;
    const j = JSON.parse(bytes.toString('utf8')) as { size?: unknown; nodes?: unknown };
    if (j.size !== c.size || !Array.isArray(j.nodes) || !j.nodes.every((n) => typeof n === 'string')) return undefined;
    const range = { size: c.size, nodes: (j.nodes as string[]).map((n) => Buffer.from(n, 'base64')) };
    return rangeRoot(range).equals(c.root) ? range : undefined;
  } catch {
    return undefined; // unreadable or inconsistent: the records are read instead
  }
}

/**
 * What verify says of the trail (its records' digests from seq 0, in order) against the newest
 * checkpoint in `place`, signed by a key the auditor trusts: errors, each a sentence.
 */
export async function checkpointFindings(place: CheckpointPlace, settings: Pick<AuditSettings, 'bucket' | 'prefix' | 'environment' | 'keys'>, digests: readonly string[]): Promise<{ errors: string[]; size?: number }> {
  const origin = checkpointOrigin(settings);
  const latest = await latestCheckpoint(place, settings.environment, true);
  if (!latest) return { errors: [`no checkpoint of ${origin} in ${place.store.location}: nothing published vouches for the trail's newest records`] };
  const c = openCheckpoint(latest.text, origin, settings.keys);
  if (typeof c === 'string') return { errors: [...latest.tampering, `checkpoint ${latest.key} does not verify: ${c}`] };
  if (c.size !== latest.size) return { errors: [...latest.tampering, `checkpoint ${latest.key} says size ${c.size}, not the ${latest.size} its name says`] };
  return { errors: [...latest.tampering, ...checkAgainst(c, origin, digests)], size: c.size };
}

// Checkpoints of an audit trail (https://c2sp.org/tlog-checkpoint): a signed note (note.ts)
// whose text is the log's origin, its size and the RFC 6962 Merkle tree hash of its leaves, so
// what is published stands for every record up to it, and a later trail that lost or changed
// any of them has another root. A trail's leaves are its records in sequence order, each leaf
// the 32-byte SHA-256 of the record's stored bytes (the digest the chain already links by).
// Pure: hashing and text.

import { createHash } from 'node:crypto';
import { SignedNoteError } from '../errors.js';

/** RFC 6962 §2.1: the hash of a leaf, SHA-256(0x00 || data). */
export function leafHash(data: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([0])).update(data).digest();
}

/** RFC 6962 §2.1: the Merkle tree hash of leaves given by their leaf hashes (SHA-256 of nothing for none). */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  // Left to right, full subtrees kept on a stack (their sizes are decreasing powers of two);
  // then folded right to left, which is MTH's split at the largest power of two below n.
  const stack: Array<{ hash: Buffer; size: number }> = [];
  for (const leaf of leaves) {
    let node = { hash: leaf, size: 1 };
    while (stack.length && stack[stack.length - 1]!.size === node.size) {
      const left = stack.pop()!;
      node = { hash: nodeHash(left.hash, node.hash), size: left.size * 2 };
    }
    stack.push(node);
  }
  let root = stack.pop()!.hash;
  while (stack.length) root = nodeHash(stack.pop()!.hash, root);
  return root;
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([1])).update(left).update(right).digest();
}

export interface Checkpoint {
  /** the log's identity, e.g. "audit.acmerisk.example/production" (one per environment's trail) */
  origin: string;
  /** how many records (leaves) */
  size: number;
  /** Merkle tree hash of the first `size` leaves */
  root: Buffer;
  /** optional further lines (the spec discourages them; modelship writes none) */
  extensions: string[];
}

/** The note text of a checkpoint. */
export function checkpointText(c: Checkpoint): string {
  if (!validOrigin(c.origin)) throw new SignedNoteError(`invalid checkpoint origin ${JSON.stringify(c.origin)}: non-empty, no spaces, no '+'`);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new SignedNoteError(`invalid checkpoint size ${c.size}`);
  if (c.root.length !== 32) throw new SignedNoteError(`invalid checkpoint root: ${c.root.length} bytes, not 32`);
  for (const e of c.extensions) if (!e || e.includes('\n')) throw new SignedNoteError('invalid checkpoint extension line');
  return [c.origin, String(c.size), c.root.toString('base64'), ...c.extensions].join('\n') + '\n';
}

/** Reads a checkpoint's note text (already opened, i.e. its signature verified). */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (why: string) => new SignedNoteError(`malformed checkpoint: ${why}`);
  if (!text.endsWith('\n')) throw bad('the text does not end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad(`${lines.length} lines; a checkpoint has at least 3 (origin, size, root hash)`);
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (!origin) throw bad('empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad(`size ${JSON.stringify(size)} is not a decimal number without leading zeroes`);
  const hash = Buffer.from(root, 'base64');
  if (hash.length !== 32 || hash.toString('base64') !== root) throw bad(`root hash ${JSON.stringify(root)} is not the base64 of 32 bytes`);
  if (extensions.some((e) => e === '')) throw bad('an empty extension line');
  return { origin, size: Number(size), root: hash, extensions };
}

function validOrigin(origin: string): boolean {
  return origin !== '' && !/[\s+]/.test(origin);
}

/**
 * The checkpoint of a trail whose records, in sequence order from seq 0, have these digests
 * (hex SHA-256 of each record's stored bytes).
 */
export function trailCheckpoint(origin: string, digests: readonly string[]): Checkpoint {
  return { origin, size: digests.length, root: merkleRoot(digests.map((d) => leafHash(Buffer.from(d, 'hex')))), extensions: [] };
}

/**
 * What is wrong with a trail (its records' digests from seq 0, in order, as read now) against a
 * checkpoint published earlier: a trail may have grown since, never shrunk or changed. Empty
 * when the trail extends the checkpoint.
 */
export function checkAgainst(checkpoint: Checkpoint, origin: string, digests: readonly string[]): string[] {
  if (checkpoint.origin !== origin) return [`the checkpoint is for ${checkpoint.origin}, not ${origin}`];
  if (digests.length < checkpoint.size) {
    const missing = checkpoint.size - digests.length === 1 ? `record ${digests.length} is` : `records ${digests.length} to ${checkpoint.size - 1} are`;
    return [`the trail holds ${digests.length} record${digests.length === 1 ? '' : 's'}, but a checkpoint signed it at ${checkpoint.size}: ${missing} gone (a tail removed)`];
  }
  const root = trailCheckpoint(origin, digests.slice(0, checkpoint.size)).root;
  if (!root.equals(checkpoint.root)) return [`records 0 to ${checkpoint.size - 1} do not hash to the root the checkpoint signed (${checkpoint.root.toString('base64')}): a record in them was replaced or rewritten`];
  return [];
}

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

/**
 * A compact range: the roots of the perfect subtrees a tree of `size` leaves is made of, largest
 * first (their sizes are the powers of two in `size`'s binary form). Enough to extend the tree and
 * find its root without its leaves: a mirror keeps it beside each checkpoint it publishes.
 */
export interface CompactRange {
  size: number;
  nodes: Buffer[];
}

/** The range extended by more leaves (leaf hashes). */
export function extendRange(range: CompactRange, leaves: readonly Buffer[]): CompactRange {
  // Each subtree's size is known from `size`: the set bits, largest first.
  const stack = range.nodes.map((hash, i) => ({ hash, size: subtreeSizes(range.size)[i]! }));
  for (const leaf of leaves) {
    let node = { hash: leaf, size: 1 };
    while (stack.length && stack[stack.length - 1]!.size === node.size) {
      const left = stack.pop()!;
      node = { hash: nodeHash(left.hash, node.hash), size: left.size * 2 };
    }
    stack.push(node);
  }
  return { size: range.size + leaves.length, nodes: stack.map((n) => n.hash) };
}

/** The Merkle tree hash of the range's tree (SHA-256 of nothing when empty). */
export function rangeRoot(range: CompactRange): Buffer {
  if (range.nodes.length !== subtreeSizes(range.size).length) throw new SignedNoteError(`a compact range of size ${range.size} has ${subtreeSizes(range.size).length} nodes, not ${range.nodes.length}`);
  if (!range.nodes.length) return createHash('sha256').digest();
  // Folded right to left: MTH's split at the largest power of two below n.
  let root = range.nodes[range.nodes.length - 1]!;
  for (let i = range.nodes.length - 2; i >= 0; i--) root = nodeHash(range.nodes[i]!, root);
  return root;
}

function subtreeSizes(size: number): number[] {
  const out: number[] = [];
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) if (Math.floor(size / bit) % 2 === 1) out.push(bit);
  return out;
}

/** RFC 6962 §2.1: the Merkle tree hash of leaves given by their leaf hashes (SHA-256 of nothing for none). */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  return rangeRoot(extendRange({ size: 0, nodes: [] }, leaves));
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

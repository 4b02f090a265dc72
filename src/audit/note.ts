// C2SP signed notes (https://c2sp.org/signed-note): text, a blank line, then one line per
// signature, "— <key name> base64(4-byte key ID || signature)". The format of transparency-log
// checkpoints (Go's checksum database, Sigstore's Rekor, witnesses), in which modelship publishes
// the head of each audit trail (checkpoint.ts). Behaviour follows the Go reference
// (golang.org/x/mod/sumdb/note): its errors, limits and trust rules, and its test vectors pass
// here (test/audit/note.test.ts). No npm package implements the format outside Sigstore's
// internals, so it is written here: a hundred lines over node:crypto.
//
// Trust rules (the spec's): a signature by a key the verifier does not know is ignored; one by a
// known key (name and key ID) is verified, and if it fails the whole note is rejected; a note
// with no verified signature is rejected. Key IDs are identifiers, not security: the verifier's
// own copy of the public key is what makes a signature count.

import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { SignedNoteError } from '../errors.js';
import type { Signer } from './sign.js';

/** Signature type bytes (the spec's "Signature types"). */
export const signatureTypes = { ed25519: 0x01, ecdsa: 0x02 } as const;

/** Go's error texts, so a message means the same in either implementation. */
const malformed = () => new SignedNoteError('malformed note');

export interface NoteVerifier {
  name: string;
  keyId: number;
  verify(text: Buffer, signature: Buffer): boolean;
}

export interface NoteSigner {
  name: string;
  keyId: number;
  sign(text: Buffer): Promise<Buffer>;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** the signature line's base64 (key ID and signature) */
  base64: string;
}

export interface OpenedNote {
  /** the signed text, ending in a newline */
  text: string;
  /** signatures by known keys, each verified */
  verified: NoteSignature[];
  /** signatures by keys the verifier does not know (ignored, as the spec says) */
  unverified: NoteSignature[];
}

/** A key name: non-empty, valid UTF-8 (no lone surrogate), no Unicode space (Go's unicode.IsSpace), no '+'. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !/[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/.test(name) && !/\p{Surrogate}/u.test(name);
}

/** key ID = SHA-256(key name || 0x0A || type || public key)[:4], big-endian (Ed25519: the 32-byte key). */
export function noteKeyId(name: string, type: number, publicKey: Buffer): number {
  return createHash('sha256').update(name).update(Buffer.from([0x0a, type])).update(publicKey).digest().readUInt32BE(0);
}

/** The 32 raw bytes of an Ed25519 public key. */
function ed25519Raw(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

/** A verifier for signatures of type 0x01 by this Ed25519 key under `name`. */
export function ed25519NoteVerifier(name: string, key: KeyObject): NoteVerifier {
  if (key.asymmetricKeyType !== 'ed25519') throw new SignedNoteError(`the key for ${name} is ${key.asymmetricKeyType}, not ed25519`);
  return { name, keyId: noteKeyId(name, signatureTypes.ed25519, ed25519Raw(key)), verify: (text, sig) => sig.length === 64 && safeVerify(null, text, key, sig) };
}

/**
 * A verifier for signatures of type 0x02 (ECDSA P-256 over SHA-256, ASN.1 DER, as
 * github.com/transparency-dev/witness signs; AWS KMS's ECC_NIST_P256 keys sign so). Its key ID
 * is, as the spec says, the first four bytes of SHA-256 of the key's DER SPKI encoding.
 */
export function ecdsaNoteVerifier(name: string, key: KeyObject): NoteVerifier {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new SignedNoteError(`the key for ${name} is not an ECDSA P-256 key`);
  const spki = key.export({ format: 'der', type: 'spki' });
  return { name, keyId: createHash('sha256').update(spki).digest().readUInt32BE(0), verify: (text, sig) => safeVerify('sha256', text, { key, dsaEncoding: 'der' }, sig) };
}

/** A note verifier for one of the audit trail's keys (sign.ts TrustedKey's algorithm and key). */
export function noteVerifierFor(name: string, algorithm: Signer['algorithm'], key: KeyObject): NoteVerifier {
  return algorithm === 'ed25519' ? ed25519NoteVerifier(name, key) : ecdsaNoteVerifier(name, key);
}

/** A note signer from an audit signer (local Ed25519 or KMS ECDSA) and its public key. */
export function noteSignerFor(name: string, signer: Signer, publicKey: KeyObject): NoteSigner {
  if (!isValidKeyName(name)) throw new SignedNoteError(`invalid key name ${JSON.stringify(name)}`);
  const { keyId } = noteVerifierFor(name, signer.algorithm, publicKey);
  return { name, keyId, sign: (text) => signer.sign(text) };
}

/**
 * Go's verifier key string for an Ed25519 key, "<name>+<key ID, 8 hex digits>+<base64(0x01 ||
 * key)>": what an auditor pins (`verify --trust-root`), and what Go's note.NewVerifier reads.
 */
export function ed25519VerifierKey(name: string, key: KeyObject): string {
  const v = ed25519NoteVerifier(name, key);
  return `${name}+${hex8(v.keyId)}+${Buffer.concat([Buffer.from([signatureTypes.ed25519]), ed25519Raw(key)]).toString('base64')}`;
}

/** Reads a verifier key string (Go's note.NewVerifier: Ed25519 only); any mangling is refused. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const bad = () => new SignedNoteError(`malformed verifier key ${JSON.stringify(vkey.length > 120 ? `${vkey.slice(0, 120)}…` : vkey)}`);
  // as Go reads it: the name up to the first '+', the key ID up to the next, the rest base64 (which may hold '+')
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw bad();
  const [name, id, b64] = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(id) || !isCanonicalBase64(b64)) throw bad();
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 33 || raw[0] !== signatureTypes.ed25519) throw bad();
  const keyId = noteKeyId(name, signatureTypes.ed25519, raw.subarray(1));
  if (keyId !== Number.parseInt(id, 16)) throw bad();
  const key = createPublicKey({ key: Buffer.concat([ed25519SpkiPrefix, raw.subarray(1)]), format: 'der', type: 'spki' });
  return { name, keyId, verify: (text, sig) => sig.length === 64 && safeVerify(null, text, key, sig) };
}
/** DER SPKI of an Ed25519 key, less its 32 key bytes (RFC 8410). */
const ed25519SpkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

/** Signs `text` (ending in a newline, no control characters but newlines) with each signer, in order. */
export async function signNote(text: string, signers: NoteSigner[]): Promise<string> {
  if (!text.endsWith('\n') || hasControl(text) || !signers.length) throw malformed();
  const bytes = Buffer.from(text, 'utf8');
  const lines: string[] = [];
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new SignedNoteError('invalid signer');
    const id = Buffer.alloc(4);
    id.writeUInt32BE(s.keyId >>> 0);
    lines.push(`— ${s.name} ${Buffer.concat([id, await s.sign(bytes)]).toString('base64')}\n`);
  }
  return `${text}\n${lines.join('')}`;
}

/** Go's cap on signature lines, against a note made to be slow to read. */
const maxSignatures = 100;

/**
 * Opens a signed note: verifies every signature by a known key and returns the text. Throws
 * NoteError: 'malformed note', 'invalid signature for key <name>+<id>', 'ambiguous key
 * <name>+<id>' (two verifiers for one key), 'note has no verifiable signatures'.
 */
export function openNote(message: string | Buffer, verifiers: NoteVerifier[]): OpenedNote {
  const msg = typeof message === 'string' ? message : decodeStrict(message);
  if (msg === undefined || hasControl(msg)) throw malformed();
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw malformed();
  const text = msg.slice(0, split + 1);
  let sigs = msg.slice(split + 2);
  if (!sigs.endsWith('\n')) throw malformed();
  const textBytes = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  let count = 0;
  while (sigs.length) {
    const nl = sigs.indexOf('\n');
    let line = sigs.slice(0, nl);
    sigs = sigs.slice(nl + 1);
    if (!line.startsWith('— ')) throw malformed();
    line = line.slice(2);
    const space = line.indexOf(' ');
    const name = space < 0 ? line : line.slice(0, space);
    const b64 = space < 0 ? '' : line.slice(space + 1);
    if (!isValidKeyName(name) || b64 === '' || !isCanonicalBase64(b64)) throw malformed();
    const raw = Buffer.from(b64, 'base64');
    if (raw.length < 5) throw malformed();
    if (++count > maxSignatures) throw malformed();
    const keyId = raw.readUInt32BE(0);
    const signature: NoteSignature = { name, keyId, base64: b64 };
    const known = verifiers.filter((v) => v.name === name && v.keyId === keyId);
    if (known.length > 1) throw new SignedNoteError(`ambiguous key ${name}+${hex8(keyId)}`);
    if (!known.length) {
      // an unknown key's signature is kept once for each distinct line, never trusted
      if (seen.has(`? ${name} ${b64}`)) continue;
      seen.add(`? ${name} ${b64}`);
      unverified.push(signature);
      continue;
    }
    // the first signature by a known key decides; its repeats are dropped unread
    if (seen.has(`${name}+${keyId}`)) continue;
    seen.add(`${name}+${keyId}`);
    if (!known[0]!.verify(textBytes, raw.subarray(4))) throw new SignedNoteError(`invalid signature for key ${name}+${hex8(keyId)}`);
    verified.push(signature);
  }
  if (!verified.length) throw new SignedNoteError('note has no verifiable signatures');
  return { text, verified, unverified };
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * Standard base64 (RFC 4648 §4) that decodes and re-encodes to itself: Buffer.from would skip
 * junk. (Stricter than Go, which accepts non-zero padding bits; modelship never writes them.)
 */
function isCanonicalBase64(s: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 && Buffer.from(s, 'base64').toString('base64') === s;
}

/** ASCII control characters other than newline (the spec forbids them anywhere in a note). */
function hasControl(s: string): boolean {
  return /[\u0000-\u0009\u000b-\u001f]/.test(s);
}

function decodeStrict(b: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
}

function safeVerify(algorithm: string | null, data: Buffer, key: Parameters<typeof cryptoVerify>[2], sig: Buffer): boolean {
  try {
    return cryptoVerify(algorithm, data, key, sig);
  } catch {
    return false;
  }
}

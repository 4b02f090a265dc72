// Signature checks in batches, done the same way on a worker thread and on verify's own thread.
// A batch is one buffer holding, for each signature, the DSSE pre-authentication encoding it signs
// and the signature's bytes, plus a small table of where each sits: it crosses to a worker as
// transferred ArrayBuffers (no copy, no per-signature objects to clone) and the worker decodes no
// base64 again. What is checked is exactly verify.ts's check: verifySignature over pae().

import { verifySignature, type SigningAlgorithm } from './sign.js';
import type { KeyObject } from 'node:crypto';

/** A batch as posted: `bytes` and `table` are transferred. */
export interface SignatureBatch {
  id: number;
  bytes: ArrayBuffer;
  /** per signature: key index, PAE start, PAE length, signature length (the signature follows its PAE) */
  table: ArrayBuffer;
  /** the key ids the table's key indexes name */
  keyids: string[];
}

export interface SignatureAnswers {
  id: number;
  /** 1: verifies, 0: does not (or the key is unknown), one per signature, in order */
  answers: Uint8Array;
}

export type BatchKeys = Map<string, { algorithm: SigningAlgorithm; key: KeyObject }>;

const fields = 4;

/** Collects signatures into one growable buffer. */
export class BatchBuilder {
  // Room for a batch of typical records (a PAE of ~3 KB each) without growing.
  private bytes = Buffer.allocUnsafeSlow(512 * 1024);
  private at = 0;
  private table: number[] = [];
  private readonly keyIndex = new Map<string, number>();
  private readonly keyids: string[] = [];
  /** what each signature is, in the caller's terms (`${seq}:${index}`) */
  readonly ids: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  /** Adds the signature `sig` (base64, as stored) by `keyid` over PAE(type, payload). */
  add(id: string, keyid: string, type: string, payload: Buffer, sig: string): void {
    // pae(): "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, type and lengths as UTF-8 bytes.
    const head = `DSSEv1 ${Buffer.byteLength(type, 'utf8')} ${type} ${payload.length} `;
    this.reserve(Buffer.byteLength(head, 'utf8') + payload.length + sig.length + 3);
    const start = this.at;
    this.at += this.bytes.write(head, this.at, 'utf8');
    this.at += payload.copy(this.bytes, this.at);
    const paeLength = this.at - start;
    // The same lenient decoder as Buffer.from(sig, 'base64'); room for the whole string was reserved.
    const sigLength = this.bytes.write(sig, this.at, 'base64');
    this.at += sigLength;
    let k = this.keyIndex.get(keyid);
    if (k === undefined) {
      k = this.keyids.push(keyid) - 1;
      this.keyIndex.set(keyid, k);
    }
    this.table.push(k, start, paeLength, sigLength);
    this.ids.push(id);
  }

  /** The batch, ready to post (its buffers are the builder's: build once). */
  build(id: number): SignatureBatch {
    // The whole buffer goes (allocUnsafeSlow: its own ArrayBuffer, never the shared pool's); the table says what is in it.
    return { id, bytes: this.bytes.buffer as ArrayBuffer, table: new Uint32Array(this.table).buffer, keyids: this.keyids };
  }

  private reserve(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.at + n));
    this.bytes.copy(bigger, 0, 0, this.at);
    this.bytes = bigger;
  }
}

/** Checks every signature of a batch with `keys`; a key it does not know does not verify. */
export function checkBatch(keys: BatchKeys, batch: SignatureBatch): Uint8Array {
  const bytes = Buffer.from(batch.bytes);
  const table = new Uint32Array(batch.table);
  const found = batch.keyids.map((id) => keys.get(id));
  const answers = new Uint8Array(table.length / fields);
  for (let i = 0, t = 0; i < answers.length; i++, t += fields) {
    const k = found[table[t]!];
    const start = table[t + 1]!;
    const paeEnd = start + table[t + 2]!;
    answers[i] = k && verifySignature(k.algorithm, k.key, bytes.subarray(start, paeEnd), bytes.subarray(paeEnd, paeEnd + table[t + 3]!)) ? 1 : 0;
  }
  return answers;
}

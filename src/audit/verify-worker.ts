// A worker thread of verify: checks batches of the records' signatures as the main thread reads
// them, so a long trail's signatures are checked on every core while the store is still being
// read. Same check as verify.ts, on plain data. Each batch is answered in order, by its id.

import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { pae, verifySignature, type SigningAlgorithm } from './sign.js';

export interface SignatureJob {
  type: string;
  /** the envelope's payload, base64 as stored (decoded on the worker) */
  payload: string;
  keyid: string;
  sig: string;
}

export interface SignatureBatch {
  id: number;
  jobs: SignatureJob[];
}

export interface SignatureAnswers {
  id: number;
  answers: boolean[];
}

const data = workerData as { keys: Array<{ id: string; algorithm: SigningAlgorithm; der: Uint8Array }> };
const keys = new Map(data.keys.map((k) => [k.id, { algorithm: k.algorithm, key: createPublicKey({ key: Buffer.from(k.der), format: 'der', type: 'spki' }) }]));
parentPort!.on('message', (batch: SignatureBatch) => {
  const answers = batch.jobs.map((j) => {
    const k = keys.get(j.keyid);
    return !!k && verifySignature(k.algorithm, k.key, pae(j.type, Buffer.from(j.payload, 'base64')), Buffer.from(j.sig, 'base64'));
  });
  parentPort!.postMessage({ id: batch.id, answers } satisfies SignatureAnswers);
});

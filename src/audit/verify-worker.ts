// A worker thread of verify: checks a share of the records' signatures, so a long trail's
// signatures are checked on every core. Same check as verify.ts, on plain data.

import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { pae, verifySignature, type SigningAlgorithm } from './sign.js';

export interface SignatureJob {
  type: string;
  payload: Uint8Array;
  keyid: string;
  sig: string;
}

const data = workerData as { keys: Array<{ id: string; algorithm: SigningAlgorithm; der: Uint8Array }>; jobs: SignatureJob[] };
const keys = new Map(data.keys.map((k) => [k.id, { algorithm: k.algorithm, key: createPublicKey({ key: Buffer.from(k.der), format: 'der', type: 'spki' }) }]));
parentPort!.postMessage(data.jobs.map((j) => {
  const k = keys.get(j.keyid);
  return !!k && verifySignature(k.algorithm, k.key, pae(j.type, Buffer.from(j.payload)), Buffer.from(j.sig, 'base64'));
}));

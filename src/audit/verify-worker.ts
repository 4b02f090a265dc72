// A worker thread of verify: checks batches of the records' signatures as the main thread reads
// them, so a long trail's signatures are checked on every core while the store is still being
// read. Same check as verify.ts, on the packed batches of signature-batch.ts (the main thread
// checks batches the same way when it is free). Each batch is answered by its id.

import { createPublicKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { checkBatch, type BatchKeys, type SignatureAnswers, type SignatureBatch } from './signature-batch.js';
import type { SigningAlgorithm } from './sign.js';

const data = workerData as { keys: Array<{ id: string; algorithm: SigningAlgorithm; der: Uint8Array }> };
const keys: BatchKeys = new Map(data.keys.map((k) => [k.id, { algorithm: k.algorithm, key: createPublicKey({ key: Buffer.from(k.der), format: 'der', type: 'spki' }) }]));
parentPort!.on('message', (batch: SignatureBatch) => {
  const answers = checkBatch(keys, batch);
  parentPort!.postMessage({ id: batch.id, answers } satisfies SignatureAnswers, [answers.buffer as ArrayBuffer]);
});

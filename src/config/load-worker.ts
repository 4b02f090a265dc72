// The worker side of parallel.ts: loads each batch it is given and returns the clean documents' data.
import { parentPort, workerData } from 'node:worker_threads';
import { loadDocument } from './load.js';
import type { WorkerAnswer, WorkerBatch } from './parallel.js';
import type { Limits } from './yaml.js';

const { limits } = workerData as { limits: Limits };
parentPort!.on('message', (batch: WorkerBatch) => {
  const answer: WorkerAnswer = { id: batch.id, clean: [] };
  for (const job of batch.jobs) {
    const r = loadDocument(job.path, Buffer.from(job.bytes), job.schema, limits);
    if (r.loaded && r.problems.length === 0) answer.clean.push({ path: job.path, data: r.loaded.data });
  }
  parentPort!.postMessage(answer);
});

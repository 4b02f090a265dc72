// The worker side of parallel.ts: loads its share of documents and returns the clean ones' data.
import { parentPort, workerData } from 'node:worker_threads';
import { loadDocument } from './load.js';
import type { DocumentJob, WorkerAnswer } from './parallel.js';
import type { Limits } from './yaml.js';

const { jobs, limits } = workerData as { jobs: DocumentJob[]; limits: Limits };
const answer: WorkerAnswer = { clean: [] };
for (const job of jobs) {
  const r = loadDocument(job.path, Buffer.from(job.bytes), job.schema, limits);
  if (r.loaded && r.problems.length === 0) answer.clean.push({ path: job.path, data: r.loaded.data });
}
parentPort!.postMessage(answer);

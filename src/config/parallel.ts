// Loading thousands of documents on two cores: a worker thread parses and schema-checks part of
// them while the main thread does the rest. Only clean results cross the thread boundary (plain
// data); a document with any problem is loaded again on the main thread, where its positions
// and locator live. Small batches, or a machine with one core, stay on the main thread.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SchemaName } from './schema.js';
import type { Limits } from './yaml.js';

export interface DocumentJob {
  path: string;
  bytes: Buffer;
  schema: SchemaName;
}

/** What the worker sends back per document: the data when it loaded cleanly, else nothing. */
export interface WorkerAnswer {
  clean: Array<{ path: string; data: unknown }>;
}

/** Below this many documents a worker's start-up (~0.2 s to load parsers and compile schemas) does not pay. */
export const defaultParallelThreshold = 1500;

/** How many documents went to workers in this process (tests check the split really happens). */
export const offloadStats = { documents: 0 };

const workerFile = fileURLToPath(new URL('./load-worker.js', import.meta.url));

/**
 * Splits `jobs` between a worker and the caller. Returns the worker's share (to be awaited after
 * the caller has done its own) or undefined when everything should run here. Runs only from the
 * compiled dist/, where the worker script exists.
 */
export function offload(jobs: DocumentJob[], limits: Limits, threshold = defaultParallelThreshold):
  { mine: DocumentJob[]; theirs: Promise<Map<string, unknown>> } | undefined {
  if (jobs.length < threshold || availableParallelism() < 2 || !existsSync(workerFile)) return undefined;
  // The worker starts late (module loading), so it takes a little less than half.
  const split = Math.floor(jobs.length * 0.55);
  const mine = jobs.slice(0, split);
  const given = jobs.slice(split);
  offloadStats.documents += given.length;
  const theirs = new Promise<Map<string, unknown>>((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { jobs: given, limits } });
    worker.once('message', (answer: WorkerAnswer) => {
      resolve(new Map(answer.clean.map((c) => [c.path, c.data])));
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`the loader worker exited with code ${code}`)); });
  });
  return { mine, theirs };
}

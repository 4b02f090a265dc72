// Loading thousands of documents on two cores: a worker thread parses and schema-checks part of
// them while the main thread does the rest. Only clean results cross the thread boundary (plain
// data); a document with any problem is loaded again on the main thread, where its positions
// and locator live. Small batches, or a machine with one core, stay on the main thread.
// The worker lives for the whole load and takes its share batch by batch, so neither thread
// ever holds every document at once (a year of version files is hundreds of MB parsed).

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

/** A batch for the worker. */
export interface WorkerBatch {
  id: number;
  jobs: DocumentJob[];
}

/** What the worker sends back per batch: the data of the documents that loaded cleanly. */
export interface WorkerAnswer {
  id: number;
  clean: Array<{ path: string; data: unknown }>;
}

/** Below this many documents a worker's start-up (~0.2 s to load parsers and compile schemas) does not pay. */
export const defaultParallelThreshold = 1500;

/** How many documents went to workers in this process (tests check the split really happens). */
export const offloadStats = { documents: 0 };

/** The worker's share of each batch: it starts late (module loading), so a little less than half. */
const workerShare = 0.45;

/**
 * The worker's heap: parsing makes much short-lived garbage, and left to itself V8 lets a heap
 * grow to several times what is alive before collecting. Capped, it collects sooner and the
 * process's peak memory stays lower. What a worker keeps is its modules and one batch (a few MB);
 * should a batch ever not fit, the worker fails and the loader does that batch and the rest itself.
 */
const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

const workerFile = fileURLToPath(new URL('./load-worker.js', import.meta.url));

/** A loader thread for the duration of one load, fed batch by batch. */
export class LoaderWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (m: Map<string, unknown>) => void; reject: (e: Error) => void }>();
  private next = 0;
  private failure?: Error;

  /**
   * A worker when `total` documents are to be loaded and that is worth a thread; undefined when
   * everything should run here. Runs only from the compiled dist/, where the worker script exists.
   */
  static start(total: number, limits: Limits, threshold = defaultParallelThreshold): LoaderWorker | undefined {
    if (total < threshold || availableParallelism() < 2 || !existsSync(workerFile)) return undefined;
    return new LoaderWorker(limits);
  }

  private constructor(limits: Limits) {
    this.worker = new Worker(workerFile, { workerData: { limits }, resourceLimits });
    this.worker.on('message', (answer: WorkerAnswer) => {
      const p = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      p?.resolve(new Map(answer.clean.map((c) => [c.path, c.data])));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the loader worker exited with code ${code}`)));
  }

  /** Whether the worker failed (then the caller loads everything itself). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Splits a batch: the caller loads `mine` while the worker loads the rest; `theirs` is the worker's clean data by path. */
  split(jobs: DocumentJob[]): { mine: DocumentJob[]; theirs: Promise<Map<string, unknown>> } {
    const at = this.failure ? jobs.length : Math.ceil(jobs.length * (1 - workerShare));
    const given = jobs.slice(at);
    if (!given.length) return { mine: jobs, theirs: Promise.resolve(new Map()) };
    offloadStats.documents += given.length;
    const id = this.next++;
    const theirs = new Promise<Map<string, unknown>>((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.pending.set(id, { resolve, reject });
    });
    theirs.catch(() => undefined); // awaited by the caller
    if (!this.failure) this.worker.postMessage({ id, jobs: given } satisfies WorkerBatch);
    return { mine: jobs.slice(0, at), theirs };
  }

  close(): void {
    this.pending.clear();
    void this.worker.terminate();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

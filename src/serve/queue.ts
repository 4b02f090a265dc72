// The work queue of `modelship serve`: at most `concurrency` evaluations at once, one per pull
// request (or merge group) at a time, and the newest head wins: a job queued for a key replaces
// the one waiting for it, and a running job whose key got a newer job in the meantime is told
// it is outdated (its result is not posted; the newer job runs next and posts).

export interface Job {
  /** one evaluation at a time per key: owner/repo#pull, or owner/repo@<merge group head> */
  key: string;
  /** what makes two jobs of a key the same (head sha, review state...) for logging */
  describe: string;
}

export interface RunContext {
  /** true once a newer job for the same key arrived: do not post this one's result */
  outdated(): boolean;
  signal: AbortSignal;
}

export type Runner<J extends Job> = (job: J, context: RunContext) => Promise<void>;

export class WorkQueue<J extends Job> {
  private readonly waiting = new Map<string, J>();
  /** keys in arrival order, for fairness among pull requests */
  private readonly order: string[] = [];
  private readonly running = new Map<string, { job: J; newer: boolean; done: Promise<void> }>();
  private readonly abort = new AbortController();
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** counters for /readyz and the bench */
  readonly stats = { queued: 0, replaced: 0, started: 0, finished: 0, outdated: 0, failed: 0 };

  constructor(private readonly concurrency: number, private readonly run: Runner<J>, private readonly onError: (job: J, e: unknown) => void) {}

  /** Queues `job`; a job already waiting for its key is replaced (newest head wins). */
  push(job: J): 'queued' | 'replaced' | 'closed' {
    if (this.closed) return 'closed';
    this.stats.queued++;
    const running = this.running.get(job.key);
    if (running) running.newer = true;
    const replaced = this.waiting.has(job.key);
    if (replaced) this.stats.replaced++;
    else this.order.push(job.key);
    this.waiting.set(job.key, job);
    this.pump();
    return replaced ? 'replaced' : 'queued';
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.size, running: this.running.size };
  }

  /** Resolves when nothing waits or runs. */
  idle(): Promise<void> {
    if (!this.waiting.size && !this.running.size) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking jobs, drops the waiting ones and gives the running ones `graceMs` to finish;
   * then aborts them (their signal fires) and returns the keys still running.
   */
  async close(graceMs: number): Promise<{ dropped: number; abandoned: string[] }> {
    this.closed = true;
    const dropped = this.waiting.size;
    this.waiting.clear();
    this.order.length = 0;
    let timer: NodeJS.Timeout | undefined;
    const finished = Promise.all([...this.running.values()].map((r) => r.done)).then(() => true);
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const done = await Promise.race([finished, timeout]);
    clearTimeout(timer);
    const abandoned = done ? [] : [...this.running.keys()];
    if (!done) this.abort.abort(new Error('modelship serve is shutting down'));
    return { dropped, abandoned };
  }

  private pump(): void {
    while (this.running.size < this.concurrency) {
      const i = this.order.findIndex((k) => !this.running.has(k));
      if (i < 0) break;
      const key = this.order.splice(i, 1)[0]!;
      const job = this.waiting.get(key)!;
      this.waiting.delete(key);
      this.start(job);
    }
    if (!this.waiting.size && !this.running.size) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private start(job: J): void {
    this.stats.started++;
    const entry = { job, newer: false, done: Promise.resolve() };
    const context: RunContext = { outdated: () => entry.newer, signal: this.abort.signal };
    entry.done = (async () => {
      try {
        await this.run(job, context);
        if (entry.newer) this.stats.outdated++;
      } catch (e) {
        this.stats.failed++;
        this.onError(job, e);
      } finally {
        this.stats.finished++;
        this.running.delete(job.key);
        this.pump();
      }
    })();
    this.running.set(job.key, entry);
  }
}

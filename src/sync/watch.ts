// `sync --watch`: sync again every interval until SIGTERM or SIGINT. A failed iteration (an API
// server restart, a bad commit) is reported and the loop goes on; its state is served on --listen.

import { ExitCode, ModelshipError } from '../errors.js';
import { serveState } from './health-server.js';

/** The loop's state, as /state shows it. */
export interface WatchState {
  startedAt: string;
  iterations: number;
  lastRunAt?: string;
  lastError?: string | undefined;
  commit?: string;
  environments?: Record<string, { converged: boolean; writes: number; drift: string[]; skipped?: string }>;
}

export interface WatchOptions {
  /** between the end of one iteration and the start of the next */
  everyMs: number;
  /** host:port (or a port) for /healthz and /state */
  listen?: string;
  /** one sync; it updates the state's commit and environments as it goes; returns its exit code */
  iterate(state: WatchState): Promise<number>;
  /** hears an iteration's failure (a ModelshipError; anything else ends the loop) */
  failed(e: ModelshipError): void;
}

/** Runs the loop; returns the last iteration's exit code. */
export async function watchLoop(opts: WatchOptions): Promise<number> {
  let stop = false;
  process.once('SIGTERM', () => (stop = true));
  process.once('SIGINT', () => (stop = true));
  const state: WatchState = { startedAt: new Date().toISOString(), iterations: 0 };
  const server = opts.listen ? await serveState(opts.listen, state) : undefined;
  let code: number = ExitCode.ok;
  try {
    while (!stop) {
      try {
        code = await opts.iterate(state);
        state.lastError = undefined;
      } catch (e) {
        // The loop outlives a failed iteration: say so and go on.
        if (!(e instanceof ModelshipError)) throw e;
        state.lastError = e.message;
        opts.failed(e);
      }
      state.iterations++;
      state.lastRunAt = new Date().toISOString();
      for (let waited = 0; waited < opts.everyMs && !stop; waited += 250) await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    server?.close();
  }
  return code;
}

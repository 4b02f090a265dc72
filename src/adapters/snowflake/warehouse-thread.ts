// Snowflake sessions on a worker thread. snowflake-sdk takes about half a second of CPU to load;
// a cold `modelship sync` loads @kubernetes/client-node (as long again), git trees and YAML on the
// main thread. Started first, the worker loads the driver on the machine's other core meanwhile,
// and it then holds every session the command opens, one per distinct set of connection options
// (environments that share an account, user and role share one login).
//
// The sessions are the ones snowflakeConnection() makes (same timeouts, retries and errors); only
// statements, bound values, rows and errors cross the thread boundary. An ExternalError thrown in
// the worker arrives as an ExternalError with the same system, operation, message and hint.

import { Worker } from 'node:worker_threads';
import { ExternalError } from '../../errors.js';
import type { SnowflakeConnection, WarehouseOptions } from './warehouse.js';

export type ThreadRequest =
  | { kind: 'query'; id: number; session: string; options: WarehouseOptions; sql: string; binds: Array<string | number> }
  | { kind: 'close'; id: number; session: string }
  | { kind: 'close-all'; id: number };

export type ThreadAnswer =
  | { id: number; rows: Array<Record<string, unknown>> }
  | { id: number; error: SerializedError }
  | { id: number; done: true };

export interface SerializedError {
  external?: { system: ExternalError['system']; operation: string; message: string; status?: number; retryable?: boolean; hint?: string };
  message: string;
}

export interface SnowflakeThread {
  /** A session with these options; sessions with equal options are one session (one login). */
  connection(options: WarehouseOptions): SnowflakeConnection;
  /** Ends every session; the worker stays, with the driver loaded, for the next ones. */
  closeSessions(): Promise<void>;
  /** Ends every session and the worker (idempotent). */
  close(): Promise<void>;
}

/** The Snowflake worker's young generation (V8 sizes the semi-spaces from it). */
export const workerYoungGenerationMb = 12;

/**
 * The Snowflake worker's old generation. What it keeps is the driver's code and the sessions
 * (~30 MB); the rest is each statement's request and response, which die young or soon after.
 * Uncapped, V8 let the worker's heap grow to 96-116 MB during a first sync of 4,800 objects
 * (1,800 tasks, 3,600 statements) before collecting. V8 grows a heap by a factor that is smaller
 * the smaller the heap's maximum (heap-controller.cc, MaxGrowingFactor), so with this cap the
 * worker stayed at ~50 MB in that sync. The cap is also the most one answer may take while it is
 * parsed: a SHOW TASKS of 10,000 tasks fits (warehouse-thread.test.ts); with 64 MB, 5,000 did not.
 */
export const workerOldGenerationMb = 256;

// The compiled worker beside this module (dist/); run from sources, use the build (tests do).
const workerFile = new URL('./warehouse-thread-worker.js', import.meta.url);

/** Starts the worker now (it begins loading the driver at once). */
export function startSnowflakeThread(onEnd?: () => void): SnowflakeThread {
  // The driver's environment switches (set by loadSdk) must be visible in the worker too.
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION ??= 'true';
  process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE ??= '1';
  // A small young generation: the worker's garbage is many small, short-lived answers (a first
  // sync of 4,800 objects sends ~3,600 statements); V8's default lets it grow to tens of MB per
  // thread before collecting, which was a good part of that sync's peak RSS. The old generation
  // likewise (see workerOldGenerationMb).
  const worker = new Worker(workerFile, { resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb, maxOldGenerationSizeMb: workerOldGenerationMb } });
  // An idle worker must not keep the process alive; pending requests hold it (ref) until answered.
  worker.unref();
  const pending = new Map<number, { resolve: (a: ThreadAnswer) => void; reject: (e: Error) => void }>();
  let next = 1;
  let ended: Error | undefined;
  let shutdown: Promise<void> | undefined;

  worker.on('message', (a: ThreadAnswer) => {
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    if (pending.size === 0) worker.unref();
    p.resolve(a);
  });
  const fail = (e: Error) => {
    ended ??= e;
    onEnd?.();
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('error', (e) => fail(new ExternalError('snowflake', 'worker', `the Snowflake worker thread failed: ${e.message}`, { cause: e })));
  worker.on('exit', (code) => fail(new ExternalError('snowflake', 'worker', `the Snowflake worker thread exited (code ${code})`)));

  type Request = ThreadRequest extends infer R ? (R extends ThreadRequest ? Omit<R, 'id'> : never) : never;
  function ask(request: Request): Promise<ThreadAnswer> {
    if (ended) return Promise.reject(ended);
    const id = next++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...request, id });
    });
  }

  return {
    connection(options) {
      const session = sessionKey(options);
      return {
        async query(sql, binds = []) {
          const a = await ask({ kind: 'query', session, options, sql, binds: [...binds] });
          if ('error' in a) throw revive(a.error);
          return 'rows' in a ? a.rows : [];
        },
        async close() {
          if (!ended) await ask({ kind: 'close', session }).catch(() => undefined);
        },
      };
    },
    async closeSessions() {
      if (!ended) await ask({ kind: 'close-all' }).catch(() => undefined);
    },
    close() {
      shutdown ??= (async () => {
        if (!ended) await ask({ kind: 'close-all' }).catch(() => undefined);
        await worker.terminate();
      })();
      return shutdown;
    },
  };
}

let shared: { thread: SnowflakeThread; ended: () => boolean } | undefined;

/**
 * The process's Snowflake thread: started on first use and kept, idle and unref'd (it never holds
 * the process open), for the next command in this process: the watch loop's next iteration, or
 * the next command run in-process. Its close() ends the sessions only.
 */
export function sharedSnowflakeThread(): SnowflakeThread {
  if (!shared || shared.ended()) {
    let gone = false;
    const thread = startSnowflakeThread(() => (gone = true));
    shared = { thread, ended: () => gone };
  }
  const { thread } = shared;
  return { connection: (o) => thread.connection(o), closeSessions: () => thread.closeSessions(), close: () => thread.closeSessions() };
}

/** Sessions are shared by equal options; the key never leaves the process (it holds secrets). */
export function sessionKey(options: WarehouseOptions): string {
  return JSON.stringify(Object.entries(options).sort(([a], [b]) => a.localeCompare(b)));
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ExternalError) {
    const prefix = `${e.system}: ${e.operation}: `;
    return {
      message: e.message,
      external: {
        system: e.system, operation: e.operation, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message,
        ...(e.details.status !== undefined ? { status: e.details.status } : {}),
        ...(e.details.retryable !== undefined ? { retryable: e.details.retryable } : {}),
        ...(e.details.hint !== undefined ? { hint: e.details.hint } : {}),
      },
    };
  }
  return { message: e instanceof Error ? e.message : String(e) };
}

function revive(e: SerializedError): Error {
  if (!e.external) return new Error(e.message);
  const { system, operation, message, ...details } = e.external;
  return new ExternalError(system, operation, message, details);
}

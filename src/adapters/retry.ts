// The one retry loop every adapter uses: bounded attempts, exponential backoff with full jitter
// (a random wait between 0 and base·2^(n-1), capped), a predicate for what is worth retrying,
// an AbortSignal, and a server's Retry-After honoured when it gives one.

export interface RetryOptions {
  /** calls in all, the first included (at least 1) */
  attempts: number;
  /** the cap of the first wait, doubled for each further one */
  baseDelayMs: number;
  /** no wait is longer; default 30 s */
  maxDelayMs?: number;
  /** whether this failure may go away when tried again */
  retryable: (e: unknown) => boolean;
  /** the wait the failure itself asks for (a Retry-After), in ms; undefined when it does not say */
  retryAfterMs?: (e: unknown) => number | undefined;
  /** stops the waiting: the pending wait ends and the last failure is thrown */
  signal?: AbortSignal;
  /** told before each wait (progress lines) */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
  /** 0 ≤ x < 1; Math.random by default (tests pin it) */
  random?: () => number;
  /** waits instead of a timer (tests make it instant) */
  sleep?: (ms: number) => Promise<void>;
}

/** A failure is thrown as it is once it is not retryable, the attempts are spent, or the signal fires. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || options.signal?.aborted || !options.retryable(e)) throw e;
      const asked = options.retryAfterMs?.(e);
      // A server that asks for a longer wait than we allow is not retried early against its word.
      if (asked !== undefined && asked > maxDelayMs) throw e;
      const backoff = Math.min(maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = asked !== undefined ? Math.max(0, asked) : Math.floor(random() * backoff);
      options.onRetry?.({ error: e, attempt, delayMs });
      if (options.sleep) await options.sleep(delayMs);
      else if (!(await sleep(delayMs, options.signal))) throw e;
      if (options.signal?.aborted) throw e;
    }
  }
}

/** Seconds or an HTTP date (RFC 9110 §10.2.3) as milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits `ms`; false when the signal ended the wait first. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// `canary watch` without --once: evaluate the live canaries every interval until SIGTERM or
// SIGINT; one failed evaluation (git, GitHub down) does not end the watch, the next one retries.
// And what a watch report means as an exit code.

import { ExitCode, ModelshipError } from '../errors.js';
import type { WatchReport } from './watch.js';

/** Exit code of one evaluation: 1 a guardrail was breached, 3 a metric source did not answer, else 0. */
export function watchExitCode(r: WatchReport): number {
  if (r.canaries.some((c) => c.verdict.status === 'breached')) return ExitCode.checkFailed;
  if (r.canaries.some((c) => c.verdict.alerts.length)) return ExitCode.external;
  return ExitCode.ok;
}

/**
 * Runs `evaluate` every `intervalMs` (default a minute) until stopped; `failed` hears a failed
 * evaluation and returns its exit code. Returns the last code, or "interrupted" when all was well.
 */
export async function watchUntilStopped(opts: { intervalMs?: number; evaluate(): Promise<number>; failed(e: ModelshipError): number }): Promise<number> {
  let stop = false;
  let wake: () => void = () => {};
  const halt = () => { stop = true; wake(); };
  process.once('SIGTERM', halt);
  process.once('SIGINT', halt);
  let last: number = ExitCode.ok;
  while (!stop) {
    try {
      last = await opts.evaluate();
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      last = opts.failed(e);
    }
    if (stop) break;
    await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, opts.intervalMs ?? 60_000).unref(); });
  }
  return last === ExitCode.ok ? ExitCode.interrupted : last;
}

// Leader election for one environment, as client-go's leaderelection package does it
// (k8s.io/client-go/tools/leaderelection/leaderelection.go) over a coordination.k8s.io/v1 Lease:
// a candidate tries to acquire the lease every retryPeriod (jittered, client-go's JitterFactor
// 1.2) and takes it over once its holder let it expire; the leader renews it every retryPeriod
// and gives leadership up when it could not renew for renewDeadline, or at once when another
// holder has it. Leadership is an AbortSignal: lost, it aborts, and the environment's work stops.
// Timings scale from Kubernetes' own defaults for its controllers (leaseDuration 15 s,
// renewDeadline 10 s, retryPeriod 2 s: k8s.io/component-base/config/v1alpha1/defaults.go,
// kube-controller-manager's --leader-elect-* flags).

import type { AcquireResult } from '../adapters/kubernetes/lease.js';

export interface ElectionTiming {
  leaseDurationMs: number;
  /** the leader gives up when it could not renew for this long */
  renewDeadlineMs: number;
  /** between two tries (acquire or renew) */
  retryPeriodMs: number;
}

/** client-go's proportions (15 s : 10 s : 2 s) for a lease of `seconds`. */
export function electionTiming(seconds: number): ElectionTiming {
  const leaseDurationMs = seconds * 1000;
  return { leaseDurationMs, renewDeadlineMs: Math.round((leaseDurationMs * 10) / 15), retryPeriodMs: Math.max(100, Math.round((leaseDurationMs * 2) / 15)) };
}

/** What the election needs of a lease (EnvironmentLease is one). */
export interface LeaseLock {
  readonly holder: string;
  acquire(): Promise<AcquireResult>;
  /** throws when another holder has the lease now (a non-retryable error) or the API fails; `requested`: a commit another replica asked the holder to reconcile */
  renew(): Promise<{ requested?: string } | void>;
  release(): Promise<void>;
  /** asks the holder (another replica) to reconcile `commit`; false when no live holder */
  requestReconcile?(commit: string): Promise<boolean>;
}

export interface ElectionOptions {
  lease: LeaseLock;
  timing: ElectionTiming;
  /** this replica leads now; `signal` aborts when it stops leading */
  onLead(signal: AbortSignal, tookOverFrom?: string): void;
  /** this replica stopped leading (not called on stop) */
  onLost(reason: string): void;
  /** while leading: another replica got a push for `commit` and asked the holder to reconcile */
  onRequested?(commit: string): void;
  log(line: string): void;
}

export class LeaderElection {
  private stopped = false;
  private leadership: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** the last time a try found the lease held by someone else, and who */
  lastHolder: string | undefined;

  constructor(private readonly o: ElectionOptions) {}

  get leading(): boolean {
    return this.leadership !== undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops trying; a leader stops leading (its signal aborts) and, with `release`, clears the
   * lease's holder so the next replica need not wait for it to expire (client-go's
   * ReleaseOnCancel). Without `release` the lease is left to expire, as after a crash.
   */
  async stop(o: { release: boolean }): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    const was = this.leadership;
    this.leadership = undefined;
    was?.abort(new Error('the agent is stopping'));
    if (was && o.release) {
      await this.o.lease.release().catch((e: unknown) => this.o.log(`could not release the lease (it expires by itself): ${(e as Error).message}`));
    }
  }

  private async run(): Promise<void> {
    const { timing } = this.o;
    let lastRenew = 0;
    while (!this.stopped) {
      if (!this.leadership) {
        let r: AcquireResult | undefined;
        try {
          r = await this.o.lease.acquire();
        } catch (e) {
          this.o.log(`could not try the lease: ${(e as Error).message}`);
        }
        if (this.stopped) {
          // Taken while stopping: leave it as a crash would (it expires), or give it back on release.
          if (r?.acquired) this.leadership = new AbortController();
          break;
        }
        if (r?.acquired) {
          lastRenew = Date.now();
          this.lastHolder = this.o.lease.holder;
          this.leadership = new AbortController();
          this.o.onLead(this.leadership.signal, r.tookOverFrom);
          await this.sleep(timing.retryPeriodMs);
          continue;
        }
        if (r) this.lastHolder = r.holder;
        await this.sleep(timing.retryPeriodMs * (1 + Math.random() * 1.2));
        continue;
      }
      await this.sleep(timing.retryPeriodMs);
      if (this.stopped) break;
      try {
        const renewed = await this.o.lease.renew();
        lastRenew = Date.now();
        if (renewed?.requested) this.o.onRequested?.(renewed.requested);
      } catch (e) {
        const lost = (e as { details?: { retryable?: boolean } }).details?.retryable === false;
        if (lost || Date.now() - lastRenew >= timing.renewDeadlineMs) {
          const reason = lost ? (e as Error).message : `could not renew the lease for ${Math.round(timing.renewDeadlineMs)} ms: ${(e as Error).message}`;
          const was = this.leadership;
          this.leadership = undefined;
          was.abort(new Error(`leadership lost: ${reason}`));
          this.o.onLost(reason);
        }
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

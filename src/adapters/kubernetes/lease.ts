// One sync agent per environment: a coordination.k8s.io/v1 Lease `modelship-<environment>` in the
// environment's namespace. `leaseDecision` is the pure rule (create, renew, take over an expired
// or released lease, or wait for its holder); EnvironmentLease does the I/O with optimistic
// concurrency (every update carries the resourceVersion it read; a 409 means someone else wrote
// first, so it reads again and decides again). A lease held by another agent is reported with
// its holder and the time it runs out; the caller waits or exits with that message.

import { hostname } from 'node:os';
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { ExternalError } from '../../errors.js';
import { apiConfiguration, defaultTimeoutMs, kubernetesError } from './target.js';
import { labels, managerName } from '../../sync/types.js';

/** The lease fields the decision reads; times as Date or as the API's RFC 3339 strings. */
export interface LeaseSpecLike {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: Date | string | null;
  renewTime?: Date | string | null;
  leaseTransitions?: number | null;
}

export type LeaseDecision =
  /** there is no lease: create it */
  | { action: 'create' }
  /** I hold it: renew it */
  | { action: 'renew' }
  /** released (no holder) or expired: take it over */
  | { action: 'take-over'; previousHolder?: string; expiredAt?: Date }
  /** someone else holds it until `until` */
  | { action: 'wait'; holder: string; until: Date };

function toDate(v: Date | string | null | undefined): Date | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** When the lease runs out: last renewal (or acquisition) plus its duration; undefined if unknown. */
export function leaseExpiry(spec: LeaseSpecLike | undefined): Date | undefined {
  const last = toDate(spec?.renewTime) ?? toDate(spec?.acquireTime);
  if (!last) return undefined;
  return new Date(last.getTime() + (spec?.leaseDurationSeconds ?? 0) * 1000);
}

/**
 * The pure rule. A lease is held while renewTime + leaseDurationSeconds >= now; one with no
 * holder (released) or past that time can be taken over; one I hold I renew, even if expired,
 * since nobody took it.
 */
export function leaseDecision(lease: { spec?: LeaseSpecLike | null } | undefined, now: Date, me: string): LeaseDecision {
  if (!lease) return { action: 'create' };
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  if (holder === me) return { action: 'renew' };
  if (!holder) return { action: 'take-over' };
  const expiry = leaseExpiry(spec);
  if (!expiry || expiry.getTime() < now.getTime()) {
    return { action: 'take-over', previousHolder: holder, ...(expiry ? { expiredAt: expiry } : {}) };
  }
  return { action: 'wait', holder, until: expiry };
}

/** The Lease annotation a replica that got a push but does not lead leaves for the holder. */
export const reconcileRequested = 'modelship.io/reconcile-requested';

export function leaseName(environment: string): string {
  return `modelship-${environment}`;
}

/** Who this agent is: a CI run, or host and process. */
export function holderIdentity(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_RUN_ID) return `github-run-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? '1'}`;
  return `${hostname()}-${process.pid}`;
}

export interface EnvironmentLeaseOptions {
  namespace: string;
  environment: string;
  /** this agent's identity; default holderIdentity() */
  holder?: string;
  /** default 60 */
  durationSeconds?: number;
  /** per request; default 30 s */
  timeoutMs?: number;
  /** the clock (tests); default the system clock */
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export type AcquireResult =
  | { acquired: true; tookOverFrom?: string }
  | { acquired: false; holder: string; until: Date; message: string };

const maxRaces = 5;

export class EnvironmentLease {
  readonly name: string;
  readonly namespace: string;
  readonly environment: string;
  readonly holder: string;
  readonly durationSeconds: number;
  private readonly api: CoordinationV1Api;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(kc: KubeConfig, options: EnvironmentLeaseOptions) {
    this.namespace = options.namespace;
    this.environment = options.environment;
    this.name = leaseName(options.environment);
    this.holder = options.holder ?? holderIdentity();
    this.durationSeconds = options.durationSeconds ?? 60;
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.now = options.now ?? (() => new Date());
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.api = new CoordinationV1Api(apiConfiguration(kc, this.timeoutMs));
  }

  private get where(): string {
    return `lease ${this.namespace}/${this.name}`;
  }

  heldMessage(holder: string, until: Date): string {
    return `environment ${this.environment} is being synced by ${holder} (${this.where} held until ${until.toISOString()})`;
  }

  /** Takes the lease if it is free, expired or already ours; otherwise reports who holds it until when. */
  async acquire(): Promise<AcquireResult> {
    for (let attempt = 0; attempt < maxRaces; attempt++) {
      const live = await this.read();
      const now = this.now();
      const decision = leaseDecision(live, now, this.holder);
      const micro = new V1MicroTime(now.getTime());
      try {
        switch (decision.action) {
          case 'wait':
            return { acquired: false, holder: decision.holder, until: decision.until, message: this.heldMessage(decision.holder, decision.until) };
          case 'create':
            await this.api.createNamespacedLease({
              namespace: this.namespace, fieldManager: managerName,
              body: this.body(undefined, { holderIdentity: this.holder, leaseDurationSeconds: this.durationSeconds, acquireTime: micro, renewTime: micro, leaseTransitions: 0 }),
            });
            return { acquired: true };
          case 'renew':
            await this.replace(live!, { ...live!.spec, leaseDurationSeconds: this.durationSeconds, renewTime: micro });
            return { acquired: true };
          case 'take-over':
            await this.replace(live!, {
              holderIdentity: this.holder, leaseDurationSeconds: this.durationSeconds, acquireTime: micro, renewTime: micro,
              leaseTransitions: (live!.spec?.leaseTransitions ?? 0) + 1,
            });
            return { acquired: true, ...(decision.previousHolder ? { tookOverFrom: decision.previousHolder } : {}) };
        }
      } catch (e) {
        if (e instanceof ApiException && e.code === 409) continue; // another agent wrote first: look again
        throw kubernetesError(`${decision.action} ${this.where}`, e, this.timeoutMs);
      }
    }
    throw new ExternalError('kubernetes', `acquire ${this.where}`, `lost ${maxRaces} races in a row for the lease`, { retryable: true });
  }

  /**
   * Acquires, waiting while another agent holds the lease, for at most `maxWaitMs`.
   * Resolves with the last result (acquired or not).
   */
  async acquireWaiting(maxWaitMs: number, pollMs = 2_000): Promise<AcquireResult> {
    const deadline = this.now().getTime() + maxWaitMs;
    for (;;) {
      const r = await this.acquire();
      if (r.acquired) return r;
      const left = deadline - this.now().getTime();
      if (left <= 0) return r;
      const untilFree = r.until.getTime() - this.now().getTime() + 50;
      await this.sleep(Math.max(1, Math.min(left, pollMs, Math.max(untilFree, 1))));
    }
  }

  /**
   * Renews our lease; throws if another agent holds it now (we lost it). Answers the reconcile
   * another replica asked for (requestReconcile), if any: the renewal clears it.
   */
  async renew(): Promise<{ requested?: string }> {
    for (let attempt = 0; attempt < maxRaces; attempt++) {
      const live = await this.read();
      const holder = live?.spec?.holderIdentity ?? '';
      if (!live || holder !== this.holder) {
        throw new ExternalError('kubernetes', `renew ${this.where}`,
          live && holder ? `the lease is now held by ${holder}; this agent (${this.holder}) lost it` : `the lease is gone or released; this agent (${this.holder}) no longer holds it`,
          { retryable: false, hint: 'another sync agent may be writing to this environment: stop and re-run' });
      }
      try {
        await this.replace(live, { ...live.spec, leaseDurationSeconds: this.durationSeconds, renewTime: new V1MicroTime(this.now().getTime()) });
        const requested = live.metadata?.annotations?.[reconcileRequested];
        return requested && /^[0-9a-f]{40}$/.test(requested) ? { requested } : {};
      } catch (e) {
        if (e instanceof ApiException && e.code === 409) continue;
        throw kubernetesError(`renew ${this.where}`, e, this.timeoutMs);
      }
    }
    throw new ExternalError('kubernetes', `renew ${this.where}`, `lost ${maxRaces} races in a row for the lease`, { retryable: true });
  }

  /**
   * Asks the replica that holds the lease to reconcile (a push webhook reached this one, which
   * does not lead): the commit goes into an annotation of the Lease, which the holder reads and
   * clears at its next renewal (every retry period). The same `update` the renewals use, so the
   * Role needs no other verb. Answers false when there is no live holder to ask (the caller's
   * own election takes the lease over and reconciles anyway).
   */
  async requestReconcile(commit: string): Promise<boolean> {
    for (let attempt = 0; attempt < maxRaces; attempt++) {
      const live = await this.read();
      const decision = leaseDecision(live, this.now(), this.holder);
      if (!live?.spec || decision.action !== 'wait') return false;
      try {
        await this.replace(live, live.spec, { ...live.metadata?.annotations, [reconcileRequested]: commit });
        return true;
      } catch (e) {
        if (e instanceof ApiException && e.code === 409) continue; // the holder renewed meanwhile: ask again
        throw kubernetesError(`ask the holder of ${this.where} to reconcile`, e, this.timeoutMs);
      }
    }
    return false;
  }

  /** Gives the lease up (keeps the object, clears the holder) if we hold it; otherwise does nothing. */
  async release(): Promise<void> {
    for (let attempt = 0; attempt < maxRaces; attempt++) {
      const live = await this.read();
      if (!live || live.spec?.holderIdentity !== this.holder) return;
      const { holderIdentity: _mine, ...rest } = live.spec;
      try {
        await this.replace(live, { ...rest, renewTime: new V1MicroTime(this.now().getTime()) });
        return;
      } catch (e) {
        if (e instanceof ApiException && e.code === 409) continue;
        throw kubernetesError(`release ${this.where}`, e, this.timeoutMs);
      }
    }
  }

  /**
   * Renews every third of the lease duration until stopped. `onLost` gets the error when a renewal
   * fails for good (lost to another agent, or the API unreachable until the lease ran out).
   */
  keepRenewed(onLost: (e: ExternalError) => void): () => void {
    let stopped = false;
    let lastOk = this.now().getTime();
    const every = Math.max(1_000, (this.durationSeconds * 1000) / 3);
    const timer = setInterval(() => {
      this.renew().then(() => {
        lastOk = this.now().getTime();
      }, (e: unknown) => {
        if (stopped) return;
        const err = e instanceof ExternalError ? e : kubernetesError(`renew ${this.where}`, e, this.timeoutMs);
        if (!err.details.retryable || this.now().getTime() - lastOk >= this.durationSeconds * 1000) {
          stopped = true;
          clearInterval(timer);
          onLost(err);
        }
      });
    }, every);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return undefined;
      throw kubernetesError(`read ${this.where}`, e, this.timeoutMs);
    }
  }

  private body(resourceVersion: string | undefined, spec: NonNullable<V1Lease['spec']>, annotations?: Record<string, string>): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { [labels.managedBy]: managerName, [labels.environment]: this.environment },
        ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec,
    };
  }

  /** PUT with the resourceVersion we read: a 409 if anyone wrote since. */
  private async replace(live: V1Lease, spec: NonNullable<V1Lease['spec']>, annotations?: Record<string, string>): Promise<void> {
    const rv = live.metadata?.resourceVersion;
    if (!rv) throw new ExternalError('kubernetes', `update ${this.where}`, 'the lease read back has no resourceVersion');
    // times read back are strings at runtime; send them as MicroTime (six fractional digits), which the API server requires
    const micro = (v: unknown) => {
      const d = toDate(v as Date | string | undefined);
      return d ? new V1MicroTime(d.getTime()) : undefined;
    };
    const clean: NonNullable<V1Lease['spec']> = { ...spec };
    for (const k of ['acquireTime', 'renewTime'] as const) {
      const m = micro(spec[k]);
      if (m) clean[k] = m;
      else delete clean[k];
    }
    await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, fieldManager: managerName, body: this.body(rv, clean, annotations) });
  }
}

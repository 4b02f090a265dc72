// One environment in the agent: its leader election, its reconciles (one at a time; a request
// during a reconcile makes exactly one more run, at the newest head), and its duties (audit after
// a sync that wrote or failed, canary and drift on their own timers), all under leadership.

import type { Installation } from '../adapters/github/app.js';
import { formatProblem, ValidationError } from '../errors.js';
import type { RepoRef } from '../adapters/github/client.js';
import type { DeploymentRecord } from '../model/deployments.js';
import type { Metrics, ReconcileResult } from '../serve/metrics.js';
import type { GitHubDeployments } from '../sync/github-deployment.js';
import { syncRevision } from '../sync/run.js';
import type { SharedClients } from '../sync/connect.js';
import type { LoadedRepository } from '../config/load.js';
import type { DutyContext } from './duties.js';
import { LeaderElection, type ElectionTiming, type LeaseLock } from './leader.js';

/** The duties run under leadership (duties.ts's by default). */
export interface Duties {
  canary(ctx: DutyContext): Promise<{ nextInMs: number }>;
  drift(ctx: DutyContext): Promise<{ nextInMs: number }>;
  audit(ctx: DutyContext, record: DeploymentRecord): Promise<void>;
}

/** What an environment needs from its agent. */
export interface AgentSide {
  repository: RepoRef;
  releaseBranch(): string;
  mirror: string;
  /** the newest release-branch head in the mirror */
  head(): string | undefined;
  /** fetch the release branch now, then reconcile every environment led at its head */
  refresh(why: string): void;
  /** the desired state at a commit (loaded once per commit for every environment) */
  desired(commit: string): Promise<LoadedRepository>;
  /** Kubernetes clients shared by every reconcile (API discovery once) */
  kubernetes: NonNullable<SharedClients['kubernetes']>;
  /** the GitHub installation (for the duties), clone URL and the bot's login */
  github(): Promise<{ installation: Installation; cloneUrl: string; login: string }>;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  /** sync --force-conflicts: a hand edit of a managed field is put back, not only reported */
  selfHeal: boolean;
  duties: Duties;
  metrics: Metrics;
  log(line: string): void;
}

export interface EnvironmentStatus {
  leader: boolean;
  /** who held the lease when this replica last looked (itself when leading) */
  holder?: string;
  commit?: string;
  result?: ReconcileResult;
  message?: string;
  lastSyncAt?: string;
  lastSuccessAt?: string;
  reconciles: number;
}

/** An error for the log: a validation error with its first problems (file, line, what is wrong). */
export function describeError(e: unknown): string {
  if (!(e instanceof ValidationError)) return (e as Error).message;
  const errors = e.problems.filter((p) => p.severity === 'error');
  return `${e.message}: ${errors.slice(0, 3).map(formatProblem).join('; ')}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`;
}

/** Retry a failed duty after this long. */
const dutyRetryMs = 60_000;

export class AgentEnvironment {
  readonly election: LeaderElection;
  private readonly lease: LeaseLock;
  readonly status: EnvironmentStatus = { leader: false, reconciles: 0 };
  private leadership: AbortSignal | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private dutyTimers = new Set<NodeJS.Timeout>();
  /** canary and drift runs under way: stop() waits for them (their signal aborted, they end at their next check) */
  private readonly dutiesRunning = new Set<Promise<void>>();
  private dutiesStarted = false;
  /** warnings the sync gave (e.g. an unverified cluster identity): said once, not every resync */
  private readonly warned = new Set<string>();

  constructor(readonly name: string, lease: LeaseLock, timing: ElectionTiming, private readonly side: AgentSide) {
    const log = (line: string) => side.log(`${name}: ${line}`);
    this.election = new LeaderElection({
      lease, timing, log,
      onLead: (signal, from) => {
        this.leadership = signal;
        this.dutiesStarted = false;
        Object.assign(this.status, { leader: true, holder: lease.holder });
        side.metrics.leader(name, true);
        log(`leading (lease held by ${lease.holder}${from ? `, taken over from ${from}` : ''}); reconciling`);
        // at main's head as it is now: the head this replica fetched last may be minutes old (a
        // standby does not reconcile, so pushes only moved the leader's view)
        side.refresh(`${name}: took the lead`);
      },
      onLost: (reason) => this.stopLeading(`leadership lost, work stopped: ${reason}`),
      onRequested: (commit) => side.refresh(`${name}: another replica got the push of ${commit.slice(0, 12)}`),
    });
    this.lease = lease;
  }

  private stopLeading(why: string): void {
    this.leadership = undefined;
    this.status.leader = false;
    for (const t of this.dutyTimers) clearTimeout(t);
    this.dutyTimers.clear();
    this.side.metrics.leader(this.name, false);
    this.side.log(`${this.name}: ${why}`);
  }

  /** Reconcile at the newest head, now or right after the reconcile under way; only while leading. */
  request(): void {
    if (!this.leadership || this.side.head() === undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.reconcile(this.leadership);
        } while (this.again && this.leadership);
      } catch (e) {
        // reconcile() reports its own failures; this is a bug, said rather than crashing the service
        this.side.log(`${this.name}: reconcile failed unexpectedly: ${(e as Error).stack ?? e}`);
      } finally {
        this.running = undefined;
      }
    })();
  }

  /**
   * A push reached this replica: when another one leads the environment, ask it (through the
   * Lease) to reconcile, since GitHub delivers each webhook to one replica behind the Service.
   */
  async handOff(commit: string): Promise<void> {
    if (this.election.leading || !this.lease.requestReconcile) return;
    try {
      if (await this.lease.requestReconcile(commit)) this.side.log(`${this.name}: asked the leader (${this.election.lastHolder ?? 'the lease holder'}) to reconcile ${commit.slice(0, 12)}`);
    } catch (e) {
      this.side.log(`${this.name}: could not ask the leader to reconcile (its next resync will): ${describeError(e)}`);
    }
  }

  /** The status with who holds the lease as this replica last saw it. */
  snapshot(): EnvironmentStatus {
    return { ...this.status, leader: this.election.leading, ...(this.election.lastHolder ? { holder: this.election.lastHolder } : {}) };
  }

  /** Resolves when no reconcile runs. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stops the election (releasing the lease with `release`) once the running reconcile finished or
   * `graceMs` passed; then, the duties' signal aborted, waits for a canary or drift run under way
   * (its warehouse query, its last log line) as long again at most: stopped means nothing of this
   * environment's is still talking to the targets, as far as the grace allows.
   */
  async stop(graceMs: number, release: boolean): Promise<void> {
    for (const t of this.dutyTimers) clearTimeout(t);
    this.dutyTimers.clear();
    const within = (work: Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([work.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]).finally(() => clearTimeout(timer));
    };
    await within(this.idle());
    const wasLeading = !!this.leadership;
    this.leadership = undefined;
    await this.election.stop({ release });
    await this.idle();
    if (this.dutiesRunning.size && !(await within(Promise.allSettled([...this.dutiesRunning])))) {
      this.side.log(`${this.name}: a duty still running ${graceMs} ms after the stop; left to end on its own`);
    }
    if (wasLeading) this.side.metrics.leader(this.name, false);
    this.status.leader = false;
  }

  private async reconcile(signal: AbortSignal | undefined): Promise<void> {
    const commit = this.side.head();
    if (!signal || signal.aborted || !commit) return;
    const log = (line: string) => this.side.log(`${this.name}: ${line}`);
    const started = performance.now();
    let result: ReconcileResult = 'error';
    let record: DeploymentRecord | undefined;
    let message: string;
    try {
      // A deployment that writes is shown on GitHub (the commit, the environment's page) as the App;
      // GitHub is told, not asked: unreachable, the reconcile goes on and says so.
      const github = await this.side.github().then(async (gh): Promise<GitHubDeployments> => ({
        gh: gh.installation.client, repo: this.side.repository, client: await import('../adapters/github/client.js'),
      }), (e: unknown) => {
        log(`GitHub deployments not reported: ${describeError(e)}`);
        return undefined;
      });
      const outcome = await syncRevision({
        root: this.side.mirror, rev: commit, env: [this.name], readyTimeoutMs: this.side.readyTimeoutMs, forceConflicts: this.side.selfHeal,
        lease: 'held', signal, vars: this.side.env, loaded: await this.side.desired(commit), kubernetes: this.side.kubernetes, ...(github ? { github } : {}),
      }, {
        synced: () => {}, progress: () => {},
        // its lines name the environment
        log: (line) => {
          if (line.startsWith(`${this.name}: warning: `)) {
            if (this.warned.has(line)) return;
            this.warned.add(line);
          }
          this.side.log(line);
        },
      });
      const r = outcome.results[0];
      if (!r) throw new Error(`environment ${this.name} was not synced`);
      if ('skipped' in r) {
        result = r.refused ? 'refused' : 'lease-held';
        message = r.skipped;
      } else {
        const changes = r.plan.actions.filter((a) => a.op !== 'noop').length;
        result = r.result.converged ? (r.result.writes > 0 ? 'converged' : 'unchanged') : 'not-converged';
        // converged: live is what main says; otherwise what the plan found different is still in question
        this.side.metrics.outOfSync(this.name, r.result.converged ? 0 : changes);
        message = r.result.converged ? (r.result.writes ? `${r.result.writes} write${r.result.writes === 1 ? '' : 's'}` : 'nothing to do')
          : `${r.result.results.filter((x) => !['ready', 'applied', 'deleted', 'unchanged'].includes(x.outcome)).map((x) => `${x.key}: ${x.outcome}`).join('; ')}`;
        if (r.result.writes > 0 || !r.result.converged) record = r.record;
      }
    } catch (e) {
      message = describeError(e);
    }
    const seconds = (performance.now() - started) / 1000;
    const at = new Date();
    if (signal.aborted) message = `stopped (${(signal.reason as Error | undefined)?.message ?? 'leadership lost'}): ${message}`;
    this.side.metrics.reconcile(this.name, result, seconds);
    if (result === 'converged' || result === 'unchanged') {
      this.side.metrics.lastSuccessfulSync(this.name, at);
      this.status.lastSuccessAt = at.toISOString();
    }
    Object.assign(this.status, { commit, result, message, lastSyncAt: at.toISOString(), reconciles: this.status.reconciles + 1 });
    log(`${result} at ${commit.slice(0, 12)} in ${seconds.toFixed(2)} s: ${message}`);
    if (record && !signal.aborted) {
      // In order, before the next reconcile: the audit chain follows the deployments.
      await this.context(signal, commit).then((ctx) => this.side.duties.audit(ctx, record)).catch((e: unknown) => log(`audit: ${(e as Error).message}`));
    }
    if (!this.dutiesStarted && !signal.aborted) {
      // First run soon after taking the lead: right after its first reconcile.
      this.dutiesStarted = true;
      this.schedule('canary', (ctx) => this.side.duties.canary(ctx), signal, 0);
      this.schedule('drift', (ctx) => this.side.duties.drift(ctx), signal, 0);
    }
  }

  private schedule(name: string, duty: (ctx: DutyContext) => Promise<{ nextInMs: number }>, signal: AbortSignal, inMs: number): void {
    const timer = setTimeout(() => {
      this.dutyTimers.delete(timer);
      if (signal.aborted) return;
      const run = (async () => {
        let next = dutyRetryMs;
        try {
          const commit = this.side.head();
          if (commit) next = (await duty(await this.context(signal, commit))).nextInMs;
        } catch (e) {
          this.side.log(`${this.name}: ${name}: ${(e as Error).message}; again in ${dutyRetryMs / 1000} s`);
        }
        if (!signal.aborted && this.leadership === signal) this.schedule(name, duty, signal, Math.max(1_000, next));
      })();
      this.dutiesRunning.add(run);
      void run.finally(() => this.dutiesRunning.delete(run));
    }, inMs);
    timer.unref();
    this.dutyTimers.add(timer);
  }

  private async context(signal: AbortSignal, commit: string): Promise<DutyContext> {
    const gh = await this.side.github();
    return {
      environment: this.name, mirror: this.side.mirror, commit, releaseBranch: this.side.releaseBranch(), repository: this.side.repository,
      github: { client: gh.installation.client, token: () => gh.installation.token(), cloneUrl: gh.cloneUrl, login: gh.login },
      env: this.side.env, now: () => new Date(), signal,
      log: (line) => this.side.log(`${this.name}: ${line}`), metrics: this.side.metrics,
    };
  }
}

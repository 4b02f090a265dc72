// The in-cluster agent of `modelship serve`: for each environment it is configured for, it elects
// a leader among the replicas (a Lease per environment, leader.ts), and the leader makes the
// environment run what the release branch says (sync/run.ts at the branch's head in the bare
// mirror the checker also uses). A push webhook for the release branch fetches and reconciles at
// once; a periodic resync (default every 3 minutes, Argo CD's default `timeout.reconciliation`,
// jittered by ±10 % as Flux's controllers jitter their intervals, fluxcd/pkg/runtime/jitter)
// catches drift and missed webhooks.

import { hostname } from 'node:os';
import { mirrorPath, updateMirror } from '../adapters/git/mirror.js';
import { resolveRevision } from '../adapters/git/tree.js';
import type { GitHubApp, Installation } from '../adapters/github/app.js';
import type { RepoRef } from '../adapters/github/client.js';
import { EnvironmentLease } from '../adapters/kubernetes/lease.js';
import { loadKubeConfig } from '../adapters/kubernetes/target.js';
import { loadDesiredState } from '../config/state.js';
import type { Metrics } from '../serve/metrics.js';
import { kubeConnection, type SharedClients } from '../sync/connect.js';
import type { LoadedRepository } from '../config/load.js';
import { AgentEnvironment, describeError, type Duties, type EnvironmentStatus } from './environment.js';
import { auditDuty, canaryDuty, driftDuty } from './duties.js';
import { electionTiming } from './leader.js';

export interface AgentOptions {
  /** the release repository (owner/repo), from --repository / MODELSHIP_REPOSITORY */
  repository: RepoRef;
  /** from --environments / MODELSHIP_ENVIRONMENTS */
  environments: string[];
  /** default the repository's default branch */
  releaseBranch?: string;
  /** same mirror dir as the checker's (one bare mirror per repository) */
  mirrorDir: string;
  /** periodic resync, jittered by ±10 % */
  resyncMs: number;
  /** leader election (client-go defaults: 15 s) */
  leaseDurationSeconds: number;
  /** this replica's identity (POD_NAME); default POD_NAME, else host-pid */
  holder?: string;
  app: GitHubApp;
  /** connections (Kubernetes, Snowflake) as src/sync/connect.ts reads them */
  env: NodeJS.ProcessEnv;
  metrics: Metrics;
  log(line: string): void;
  /** put back fields of managed objects someone else changed (sync --force-conflicts); default: report them as not converged */
  selfHeal?: boolean;
  /** how long a sync waits for its objects to become ready (default 5 minutes, as `sync`) */
  readyTimeoutMs?: number;
  /** the duties run under leadership (default: duties.ts's canary, drift and audit) */
  duties?: Partial<Duties>;
}

export interface Agent {
  /** a push webhook for the release branch: reconcile now (coalesced: newest head wins) */
  pushed(p: { installationId?: number; cloneUrl: string; after: string }): void;
  /** true once the release branch was fetched into the mirror */
  ready(): boolean;
  /** per environment: leader?, last commit, last result, last sync time */
  status(): Record<string, unknown>;
  /** stops: lets a running reconcile finish for up to graceMs, then releases the leases it holds (`release: false`: leaves them to expire, as a crash does) */
  stop(graceMs: number, o?: { release?: boolean }): Promise<void>;
}

/** The resync interval with ±`fraction` jitter. */
export function jittered(ms: number, fraction = 0.1): number {
  return Math.round(ms * (1 + (Math.random() * 2 - 1) * fraction));
}

/** This replica's name in the leases: the pod's name (downward API) or host and process. */
export function agentIdentity(env: NodeJS.ProcessEnv): string {
  return env.POD_NAME?.trim() || `${hostname()}-${process.pid}`;
}

/** Retry the first fetch after this long (then every resync). */
const bootstrapRetryMs = 5_000;

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const holder = o.holder ?? agentIdentity(o.env);
  const mirror = mirrorPath(o.mirrorDir, o.repository);
  const full = `${o.repository.owner}/${o.repository.repo}`;
  const log = (line: string) => o.log(`agent ${full}: ${line}`);
  const kc = loadKubeConfig(kubeConnection(o.env));
  const timing = electionTiming(o.leaseDurationSeconds);
  let source: { installationId: number; cloneUrl: string; defaultBranch?: string } | undefined;
  let installation: { id: number; value: Promise<Installation> } | undefined;
  let head: string | undefined;
  let fetched = false;
  let stopped = false;
  const stopping = new AbortController();
  const environments = new Map<string, AgentEnvironment>();
  let electError: string | undefined;
  /** why an environment has no election yet (not in the repository, no cluster) */
  const waiting = new Map<string, string>();
  const release = () => o.releaseBranch ?? source?.defaultBranch ?? 'main';

  /** the desired state of the newest commit asked for, loaded once for every environment */
  let desired: { commit: string; repo: Promise<LoadedRepository> } | undefined;
  const side = {
    repository: o.repository, releaseBranch: release, mirror, head: () => head, env: o.env, metrics: o.metrics, log,
    refresh: (why: string) => refreshSoon(why),
    kubernetes: new Map() as NonNullable<SharedClients['kubernetes']>,
    desired(commit: string): Promise<LoadedRepository> {
      if (desired?.commit !== commit) {
        const loading = { commit, repo: loadDesiredState(mirror, commit) };
        // a failure is not kept: the next reconcile reads the commit again
        loading.repo.catch(() => {
          if (desired === loading) desired = undefined;
        });
        desired = loading;
      }
      return desired.repo;
    },
    readyTimeoutMs: o.readyTimeoutMs ?? 300_000,
    selfHeal: o.selfHeal === true,
    duties: { canary: canaryDuty, drift: driftDuty, audit: auditDuty, ...o.duties },
    async github() {
      if (!source) throw new Error('the repository was not read from GitHub yet');
      if (installation?.id !== source.installationId) installation = { id: source.installationId, value: o.app.installation(source.installationId) };
      return { installation: await installation.value, cloneUrl: source.cloneUrl, login: `${o.app.slug}[bot]` };
    },
  };

  /** Elections for the environments whose namespace the head names (once each). */
  async function elect(): Promise<void> {
    const missing = o.environments.filter((e) => !environments.has(e));
    if (!missing.length || !head) return;
    const repo = await side.desired(head);
    for (const name of missing) {
      const env = repo.environments.get(name)?.data;
      const why = !env ? `environment ${name} is not in ${release()} at ${head.slice(0, 12)}; known: ${[...repo.environments.keys()].sort().join(', ')}`
        : !env.kubernetes ? `environment ${name} has no kubernetes section: the agent elects its leader with a Lease in the environment's namespace` : undefined;
      if (why) {
        if (waiting.get(name) !== why) log(`${name}: not reconciled: ${why}`);
        waiting.set(name, why);
        continue;
      }
      waiting.delete(name);
      const lease = new EnvironmentLease(kc, { namespace: env!.kubernetes!.namespace, environment: name, holder, durationSeconds: o.leaseDurationSeconds, timeoutMs: timing.renewDeadlineMs });
      const e = new AgentEnvironment(name, lease, timing, side);
      environments.set(name, e);
      e.election.start();
    }
  }

  /** Fetch the release branch, then reconcile every environment this replica leads. */
  async function refresh(why: string): Promise<void> {
    if (!source) {
      const r = await o.app.repository(o.repository);
      source = { installationId: r.installationId, cloneUrl: r.cloneUrl, defaultBranch: r.defaultBranch };
    }
    const branch = release();
    const token = await (await side.github()).installation.token();
    await updateMirror(mirror, source.cloneUrl, [`refs/heads/${branch}:refs/heads/${branch}`], token, stopping.signal);
    const now = await resolveRevision(mirror, `refs/heads/${branch}`);
    if (now !== head) log(`${branch} is at ${now.slice(0, 12)} (${why})`);
    head = now;
    if (!fetched) log(`ready: ${branch} fetched into ${mirror}`);
    fetched = true;
    try {
      await elect();
    } catch (e) {
      // main cannot be read (an invalid commit): environments already elected reconcile and report it
      const why = `cannot read the environments at ${now.slice(0, 12)}: ${describeError(e)}`;
      if (why !== electError) log(why);
      electError = why;
    }
    for (const e of environments.values()) e.request();
  }

  // One refresh at a time; asked during one, exactly one more follows.
  let refreshing: Promise<void> | undefined;
  let refreshAgain: string | undefined;
  function refreshSoon(why: string): void {
    if (stopped) return;
    if (refreshing) {
      refreshAgain = why;
      return;
    }
    refreshing = (async () => {
      let reason: string | undefined = why;
      while (reason && !stopped) {
        refreshAgain = undefined;
        try {
          await refresh(reason);
        } catch (e) {
          if (!stopped) log(`could not fetch ${release()} (${reason}): ${(e as Error).message}`);
          // the installation may have changed (the App reinstalled): ask GitHub again next time
          source = undefined;
        }
        reason = refreshAgain;
      }
      refreshing = undefined;
    })();
  }

  let timer: NodeJS.Timeout | undefined;
  function scheduleResync(): void {
    if (stopped) return;
    const inMs = fetched ? jittered(o.resyncMs) : Math.min(bootstrapRetryMs, o.resyncMs);
    timer = setTimeout(() => {
      refreshSoon('resync');
      scheduleResync();
    }, inMs);
    timer.unref();
  }

  log(`starting as ${holder} for ${o.environments.join(', ')}; resync every ${o.resyncMs / 1000} s ± 10 %, lease ${o.leaseDurationSeconds} s${o.selfHeal ? ', self-heal' : ''}`);
  refreshSoon('start');
  scheduleResync();

  return {
    pushed(p) {
      // The delivery was signed with the webhook secret: its installation and clone URL are GitHub's.
      // (A repository webhook's push names no installation: the one found through the App stays.)
      if (source && p.installationId !== undefined) source = { ...source, installationId: p.installationId, cloneUrl: p.cloneUrl };
      refreshSoon(`push of ${p.after.slice(0, 12)}`);
      // environments another replica leads: that one reconciles, once told
      if (/^[0-9a-f]{40}$/.test(p.after)) for (const e of environments.values()) void e.handOff(p.after);
    },
    ready: () => fetched,
    status: () => ({
      holder, head, ready: fetched,
      environments: Object.fromEntries(o.environments.map((name) => [name, environments.get(name)?.snapshot() ?? { leader: false, waiting: waiting.get(name) ?? 'the release branch is not fetched yet' }])) as Record<string, EnvironmentStatus | { leader: false; waiting: string }>,
    }),
    async stop(graceMs, so = {}) {
      stopped = true;
      clearTimeout(timer);
      stopping.abort(new Error('the agent is stopping'));
      await refreshing;
      await Promise.all([...environments.values()].map((e) => e.stop(graceMs, so.release !== false)));
    },
  };
}

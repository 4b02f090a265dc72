// The sync flow: make each environment run what the repository says at a revision, one
// environment at a time under its lease, wait until it serves, and record what was deployed
// (the warehouse's deployment log, --record-dir files, GitHub Deployments).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, ModelshipError } from '../errors.js';
import { loadDesiredState } from '../config/state.js';
import type { LoadedRepository } from '../config/load.js';
import { resolveRevision } from '../adapters/git/tree.js';
import type { SnowflakeThread } from '../adapters/snowflake/warehouse-thread.js';
import { planFor, syncEnvironment, type SyncResult } from './agent.js';
import type { Connections, SharedClients } from './connect.js';
import { environmentsToSync } from './environments.js';
import { backwardsRefusal } from './forward.js';
import { GitHubDeployment, type GitHubDeployments } from './github-deployment.js';
import { conflictRefusal, hasWrites } from './plan.js';
import { checkIdentity } from './identity.js';
import { deploymentRows } from './record.js';
import type { Plan } from './types.js';
import type { WatchState } from './watch.js';

/** How many writes of one apply step sync sends at once (client-go's default burst is 10). */
const applyConcurrency = 8;

export interface SyncRequest {
  root: string;
  rev?: string;
  /** --env: these environments (each must exist), else all */
  env?: string[];
  readyTimeoutMs: number;
  forceConflicts: boolean;
  /** where each environment's deployment record is written as <env>/<commit>.json */
  recordDir?: string;
  snowflake?: SnowflakeThread;
  github?: GitHubDeployments;
  /** the watch loop's state, kept up to date environment by environment */
  state?: WatchState;
  /** 'held': the caller holds each environment's lease (the agent's leader election); it is neither acquired nor released here */
  lease?: 'held';
  /** stops the writes (the agent: leadership lost, or the service stopping) */
  signal?: AbortSignal;
  /** where the connections are configured (default: process.env) */
  vars?: NodeJS.ProcessEnv;
  /** the desired state at `rev`, already loaded (the agent loads it once per commit for all its environments) */
  loaded?: LoadedRepository;
  /** Kubernetes clients kept across calls (the agent: API discovery once, not at every resync) */
  kubernetes?: SharedClients['kubernetes'];
  /**
   * false: each environment's plan in the outcome keeps what each action does and why, not its
   * objects and diff (the caller printed it as it came, through `synced`). Default: all of it.
   */
  keepPlans?: boolean;
}

/** How the flow tells the command what happens, as it happens. */
export interface SyncReporter {
  /** one environment synced */
  synced(r: SyncResult): void;
  /** a message for the operator (stderr) */
  log(line: string): void;
  /** a transient progress line */
  progress(line: string): void;
}

export type EnvironmentOutcome = SyncResult | { environment: string; skipped: string; refused?: true };

export interface SyncOutcome {
  /** the worst of: ok, 1 not converged, 3 GitHub not told, 4 a lease held elsewhere */
  code: number;
  commit: string;
  results: EnvironmentOutcome[];
}

/** Syncs the environments at the revision. */
export async function syncRevision(req: SyncRequest, reporter: SyncReporter): Promise<SyncOutcome> {
  // The Kubernetes client (@kubernetes/client-node, as large as the Snowflake driver) loads while
  // git reads the revision.
  const connecting = import('./connect.js');
  connecting.catch(() => undefined);
  const commit = await resolveRevision(req.root, req.rev ?? 'HEAD');
  const repo = req.loaded ?? await loadDesiredState(req.root, commit);
  const { connect } = await connecting;
  const names = environmentsToSync(repo.environments.keys(), req.env);
  const shared: SharedClients = { ...(req.snowflake ? { snowflake: req.snowflake } : {}), kubernetes: req.kubernetes ?? new Map() };
  const connections = new Map<string, Connections>();
  try {
    for (const name of names) connections.set(name, connect(name, repo.environments.get(name)!.data, req.vars ?? process.env, { lease: req.lease !== 'held', shared }));
    // Reads first, for every environment at once: a sync with nothing to do writes nothing, not
    // even the lease. Changes are then made one environment at a time, in order; an environment
    // whose reads failed fails when its turn comes (the ones before it are synced).
    // The connections must be the environments' own (the cluster that kubernetes.cluster names,
    // the Snowflake account the file names): an environment whose are not is refused, unread.
    const account = (req.vars ?? process.env).SNOWFLAKE_ACCOUNT?.trim() || undefined;
    const refused = new Map<string, string>();
    for (const name of names) {
      const verdict = await checkIdentity(name, repo.environments.get(name)!.data, connections.get(name)!.targets, account);
      if (verdict && 'refused' in verdict) refused.set(name, verdict.refused);
      else if (verdict) reporter.log(`${name}: ${verdict.warning}`);
    }
    // A plan with writes is read again under the lease; until its environment's turn it is only
    // asked for its conflicts, the commits live there and what it would change (slimPlan).
    const plans: Array<Promise<Plan> | undefined> = names.map((name) => (refused.has(name) ? Promise.reject(new Error('refused'))
      : planFor(repo, name, commit, connections.get(name)!.targets).then((p) => (hasWrites(p.plan) ? slimPlan(p.plan, { live: true }) : p.plan))));
    for (const p of plans) p?.catch(() => undefined);
    return await syncAll(repo, names, commit, req, reporter, connections, plans, refused);
  } finally {
    await Promise.all([...connections.values()].map((c) => c.close()));
    await req.snowflake?.closeSessions();
  }
}

async function syncAll(repo: LoadedRepository, names: string[], commit: string, req: SyncRequest, reporter: SyncReporter,
  connections: Map<string, Connections>, plans: Array<Promise<Plan> | undefined>, refused: Map<string, string>): Promise<SyncOutcome> {
  const results: EnvironmentOutcome[] = [];
  let code: number = ExitCode.ok;
  for (const [i, name] of names.entries()) {
    const deployment = req.github ? new GitHubDeployment(req.github, name, reporter.log) : undefined;
    const refusal = refused.get(name);
    if (refusal) reporter.log(`${name}: ${refusal}`);
    // Each environment's first plan (its desired and live objects) is let go once used: a plan
    // with writes is read again under the lease, and the environments after it need not keep it.
    const planned = plans[i]!;
    plans[i] = undefined;
    const r: EnvironmentOutcome = refusal ? { environment: name, skipped: refusal, refused: true }
      : await syncOne(repo, name, commit, req, reporter, connections.get(name)!, await planned, deployment);
    results.push(req.keepPlans === false && !('skipped' in r) ? { ...r, plan: slimPlan(r.plan) } : r);
    if (deployment?.failed) code = Math.max(code, ExitCode.external);
    if ('skipped' in r) code = Math.max(code, r.refused ? ExitCode.targetRefused : ExitCode.leaseHeld);
    else if (!r.result.converged) code = Math.max(code, ExitCode.checkFailed);
    const state = req.state;
    if (state) {
      state.commit = commit;
      state.environments ??= {};
      state.environments[name] = 'skipped' in r
        ? { converged: false, writes: 0, drift: [], skipped: r.skipped }
        : { converged: r.result.converged, writes: r.result.writes, drift: r.plan.actions.filter((a) => a.reason.includes('drift')).map((a) => a.key) };
    }
  }
  return { code, commit, results };
}

async function syncOne(repo: LoadedRepository, name: string, commit: string, req: SyncRequest, reporter: SyncReporter,
  connections: Connections, plan: Plan, deployment?: GitHubDeployment): Promise<EnvironmentOutcome> {
  // Another environment's object, or one modelship does not manage, where this one wants to write:
  // nothing is written here, not even the objects that are this environment's own.
  const refusal = conflictRefusal(plan);
  if (refusal) {
    reporter.log(`${name}: ${refusal}`);
    return { environment: name, skipped: refusal, refused: true };
  }
  // Only forward: a commit that does not descend from what runs there is refused before any
  // write, the lease included; the plan read again under the lease is asked again (guard).
  const backwards = await backwardsRefusal(req.root, plan);
  if (backwards) {
    reporter.log(`${name}: ${backwards}`);
    return { environment: name, skipped: backwards, refused: true };
  }
  let stopRenewing: (() => void) | undefined;
  const leaseLost = new AbortController();
  if (connections.lease && hasWrites(plan)) {
    const held = await connections.lease.acquire();
    if (!held.acquired) {
      reporter.log(`${name}: ${held.message}`);
      return { environment: name, skipped: held.message };
    }
    // Waiting for readiness can outlast the lease: keep it renewed; losing it is reported.
    stopRenewing = connections.lease.keepRenewed((e) => {
      reporter.log(`${name}: lost the lease, stopping: ${e.message}`);
      leaseLost.abort();
    });
  }
  const env = repo.environments.get(name)!.data;
  // Something to deploy: GitHub shows it on the commit and the environment's page.
  if (deployment && hasWrites(plan)) await deployment.begin(plan, env);
  try {
    const r = await syncEnvironment(repo, name, commit, connections.targets, {
      readyTimeoutMs: req.readyTimeoutMs,
      forceConflicts: req.forceConflicts,
      // objects of one step at once (one at a time, a first sync of 4,800 objects took 30 s)
      concurrency: applyConcurrency,
      signal: req.signal ? AbortSignal.any([leaseLost.signal, req.signal]) : leaseLost.signal,
      progress: (line) => reporter.progress(`${name}: ${line}`),
      // nothing to do: no second read (a plan with writes is read again, now under the lease)
      planned: plan,
      guard: (p) => backwardsRefusal(req.root, p),
    });
    reporter.progress('');
    reporter.synced(r);
    const rows = deploymentRows(r.record, artifactDigests(repo, name));
    if (rows.length && env.snowflake && connections.targets.snowflake) {
      // The data team's join key: which version scored what, from when. Only converged models.
      await connections.targets.snowflake.recordDeployments(env.snowflake.database, env.snowflake.schema, rows);
    }
    if (req.recordDir) {
      mkdirSync(join(req.recordDir, name), { recursive: true });
      writeFileSync(join(req.recordDir, name, `${commit}.json`), JSON.stringify(r.record, null, 2) + '\n');
    }
    await deployment?.end(r);
    return r;
  } catch (e) {
    await deployment?.error(e);
    throw e;
  } finally {
    stopRenewing?.();
    if (hasWrites(plan)) await connections.lease?.release().catch((e: unknown) => {
      if (!(e instanceof ModelshipError)) throw e;
      reporter.log(`${name}: could not release the lease (it expires by itself): ${e.message}`);
    });
  }
}

/**
 * The plan without its objects and diffs: each action's op, target, key, model, reason, refusal
 * and warning (and with `live`, the live object, which the only-forward check reads). A first sync
 * of 4,800 objects held every environment's rendered objects and diff lines to the end.
 */
export function slimPlan(plan: Plan, keep: { live?: boolean } = {}): Plan {
  return {
    ...plan,
    actions: plan.actions.map((a) => ({
      op: a.op, target: a.target, key: a.key, ...(a.model !== undefined ? { model: a.model } : {}), reason: a.reason,
      ...(keep.live && a.live ? { live: a.live } : {}), ...(a.refused !== undefined ? { refused: a.refused } : {}), ...(a.warning !== undefined ? { warning: a.warning } : {}),
    })),
  };
}

function artifactDigests(repo: LoadedRepository, environment: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [model, d] of Object.entries(repo.environments.get(environment)!.data.models)) {
    for (const v of [d.version, d.canary?.version, d.shadow?.version]) {
      const m = v ? repo.versions.get(model)?.get(v)?.data : undefined;
      if (m) out[`${model}@${m.version}`] = m.artifact.sha256;
    }
  }
  return out;
}

/** What a sync would do at the revision, read-only: one plan per environment asked. */
export async function planRevision(req: { root: string; rev?: string; env?: string[] }): Promise<{ commit: string; plans: Plan[] }> {
  const { connect } = await import('./connect.js');
  const commit = await resolveRevision(req.root, req.rev ?? 'HEAD');
  const repo = await loadDesiredState(req.root, commit);
  const plans: Plan[] = [];
  for (const name of environmentsToSync(repo.environments.keys(), req.env)) {
    // Each substrate it can reach is planned; the others are reported as unreachable (exit 3).
    const connections = connect(name, repo.environments.get(name)!.data, process.env, { reachable: true });
    try {
      plans.push((await planFor(repo, name, commit, connections.targets, [...(connections.unreachable ?? [])])).plan);
    } finally {
      await connections.close();
    }
  }
  return { commit, plans };
}

// `modelship sync [--env E] [--rev REV] [--once | --watch]`: make each environment run what the
// repository says at REV (default HEAD), wait until it serves, and record what was deployed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { ExitCode, ModelshipError, UsageError } from '../errors.js';
import { loadDesiredState } from '../config/state.js';
import type { LoadedRepository } from '../config/load.js';
import { resolveRevision } from '../adapters/git/tree.js';
import { parseDuration } from '../gates/types.js';
import { planFor, syncEnvironment, type SyncResult } from '../sync/agent.js';
import type { Connections, SharedClients } from '../sync/connect.js';
import { deploymentRows } from '../sync/record.js';
import { planText, resultText } from '../sync/show.js';
import { hasWrites } from '../sync/plan.js';
import type { Plan } from '../sync/types.js';
import { startSnowflakeThread, type SnowflakeThread } from '../adapters/snowflake/warehouse-thread.js';
import { deploymentRequest, finalStatus } from '../sync/deployment.js';
import type { Environment } from '../config/types.js';
import { commandOptions, repoRoot } from './context.js';
import { environmentsToSync } from './plan.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean; watch?: boolean; interval: string; readyTimeout: string; recordDir?: string; forceConflicts?: boolean; listen?: string; github?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const root = repoRoot(opts.repo);
    const github = opts.github ? await githubDeployments(root) : undefined;
    // Started first: the worker loads the Snowflake driver on the other core while this thread
    // reads the repository and loads the Kubernetes client. (No Snowflake account, no worker.)
    const snowflake = process.env.SNOWFLAKE_ACCOUNT?.trim() ? startSnowflakeThread() : undefined;
    try {
      return await (opts.watch ? watch(root, opts, output, snowflake, github) : once(root, opts, output, snowflake, github));
    } finally {
      await snowflake?.close();
    }
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

async function watch(root: string, opts: Options, output: Output, snowflake: SnowflakeThread | undefined, github: GitHubDeployments | undefined): Promise<number> {
  const every = parseDuration(opts.interval) ?? 30_000;
  let stop = false;
  process.once('SIGTERM', () => (stop = true));
  process.once('SIGINT', () => (stop = true));
  const state: WatchState = { startedAt: new Date().toISOString(), iterations: 0 };
  const server = opts.listen ? await serveState(opts.listen, state) : undefined;
  let code: number = ExitCode.ok;
  try {
    while (!stop) {
      try {
        code = await once(root, opts, output, snowflake, github, state);
        state.lastError = undefined;
      } catch (e) {
        // The loop outlives a failed iteration (an API server restart, a bad commit): say so and go on.
        if (!(e instanceof ModelshipError)) throw e;
        state.lastError = e.message;
        printError(e, output, false);
      }
      state.iterations++;
      state.lastRunAt = new Date().toISOString();
      for (let waited = 0; waited < every && !stop; waited += 250) await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    server?.close();
  }
  return code;
}

/** What the watch loop exposes on --listen: /healthz (200 while the last iteration worked) and /state. */
interface WatchState {
  startedAt: string;
  iterations: number;
  lastRunAt?: string;
  lastError?: string | undefined;
  commit?: string;
  environments?: Record<string, { converged: boolean; writes: number; drift: string[]; skipped?: string }>;
}

function serveState(listen: string, state: WatchState): Promise<Server> {
  const at = listen.lastIndexOf(':');
  const host = at > 0 ? listen.slice(0, at) : '127.0.0.1';
  const port = Number(at > 0 ? listen.slice(at + 1) : listen);
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const healthy = state.lastError === undefined;
      if (req.url === '/healthz') {
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : `${state.lastError}\n`);
      } else if (req.url === '/state') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state, null, 2));
      } else {
        res.writeHead(404).end();
      }
    });
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function once(root: string, opts: Options, output: Output, snowflake: SnowflakeThread | undefined, github: GitHubDeployments | undefined, state?: WatchState): Promise<number> {
  // The Kubernetes client (@kubernetes/client-node, as large as the Snowflake driver) loads while
  // git reads the revision.
  const connecting = import('../sync/connect.js');
  connecting.catch(() => undefined);
  const commit = await resolveRevision(root, opts.rev ?? 'HEAD');
  const repo = await loadDesiredState(root, commit);
  const { connect } = await connecting;
  const names = environmentsToSync(repo.environments.keys(), opts.env);
  const shared: SharedClients = { ...(snowflake ? { snowflake } : {}), kubernetes: new Map() };
  const connections = new Map<string, Connections>();
  try {
    for (const name of names) connections.set(name, connect(name, repo.environments.get(name)!.data, process.env, { lease: true, shared }));
    // Reads first, for every environment at once: a sync with nothing to do writes nothing, not
    // even the lease. Changes are then made one environment at a time, in order; an environment
    // whose reads failed fails when its turn comes (the ones before it are synced).
    const plans = names.map((name) => planFor(repo, name, commit, connections.get(name)!.targets).then((p) => p.plan));
    for (const p of plans) p.catch(() => undefined);
    return await syncAll(repo, names, commit, opts, output, { connections, plans, ...(github ? { github } : {}) }, state);
  } finally {
    await Promise.all([...connections.values()].map((c) => c.close()));
    await snowflake?.closeSessions();
  }
}

interface Prepared {
  connections: Map<string, Connections>;
  plans: Array<Promise<Plan>>;
  github?: GitHubDeployments;
}

async function syncAll(repo: LoadedRepository, names: string[], commit: string, opts: Options, output: Output, prepared: Prepared, state?: WatchState): Promise<number> {
  const results: Array<SyncResult | { environment: string; skipped: string }> = [];
  let code: number = ExitCode.ok;
  for (const [i, name] of names.entries()) {
    const deployment = prepared.github ? new GitHubDeployment(prepared.github, name, output) : undefined;
    const r = await syncOne(repo, name, commit, opts, output, prepared.connections.get(name)!, await prepared.plans[i]!, deployment);
    results.push(r);
    if (deployment?.failed) code = Math.max(code, ExitCode.external);
    if ('skipped' in r) code = Math.max(code, ExitCode.leaseHeld);
    else if (!r.result.converged) code = Math.max(code, ExitCode.checkFailed);
    if (state) {
      state.commit = commit;
      state.environments ??= {};
      state.environments[name] = 'skipped' in r
        ? { converged: false, writes: 0, drift: [], skipped: r.skipped }
        : { converged: r.result.converged, writes: r.result.writes, drift: r.plan.actions.filter((a) => a.reason.includes('drift')).map((a) => a.key) };
    }
  }
  if (opts.json) output.out(JSON.stringify({ ok: code === ExitCode.ok, commit, results }, null, 2));
  return code;
}

async function syncOne(repo: LoadedRepository, name: string, commit: string, opts: Options, output: Output,
  connections: Connections, plan: Plan, deployment?: GitHubDeployment): Promise<SyncResult | { environment: string; skipped: string }> {
  let stopRenewing: (() => void) | undefined;
  const leaseLost = new AbortController();
  if (connections.lease && hasWrites(plan)) {
    const held = await connections.lease.acquire();
    if (!held.acquired) {
      output.err(`${name}: ${held.message}`);
      return { environment: name, skipped: held.message };
    }
    // Waiting for readiness can outlast the lease: keep it renewed; losing it is reported.
    stopRenewing = connections.lease.keepRenewed((e) => {
      output.err(`${name}: lost the lease, stopping: ${e.message}`);
      leaseLost.abort();
    });
  }
  const env = repo.environments.get(name)!.data;
  // Something to deploy: GitHub shows it on the commit and the environment's page.
  if (deployment && hasWrites(plan)) await deployment.begin(plan, env);
  try {
    const r = await syncEnvironment(repo, name, commit, connections.targets, {
      readyTimeoutMs: parseDuration(opts.readyTimeout) ?? 300_000,
      forceConflicts: !!opts.forceConflicts,
      signal: leaseLost.signal,
      progress: (line) => output.progress(`${name}: ${line}`),
      // nothing to do: no second read (a plan with writes is read again, now under the lease)
      planned: plan,
    });
    output.progress('');
    if (!opts.json) {
      output.out(planText(r.plan));
      if (r.result.writes) output.out(resultText(r.result));
    }
    const rows = deploymentRows(r.record, artifactDigests(repo, name));
    if (rows.length && env.snowflake && connections.targets.snowflake) {
      // The data team's join key: which version scored what, from when. Only converged models.
      await connections.targets.snowflake.recordDeployments(env.snowflake.database, env.snowflake.schema, rows);
    }
    if (opts.recordDir) {
      mkdirSync(join(opts.recordDir, name), { recursive: true });
      writeFileSync(join(opts.recordDir, name, `${commit}.json`), JSON.stringify(r.record, null, 2) + '\n');
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
      output.err(`${name}: could not release the lease (it expires by itself): ${e.message}`);
    });
  }
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

/** `--github`: where deployments are reported, and the Actions run that made them. */
interface GitHubDeployments {
  gh: import('@octokit/rest').Octokit;
  repo: import('../adapters/github/client.js').RepoRef;
  client: typeof import('../adapters/github/client.js');
  logUrl?: string;
}

async function githubDeployments(root: string): Promise<GitHubDeployments> {
  const client = await import('../adapters/github/client.js');
  const { githubRepository } = await import('../adapters/github/repository.js');
  const connection = client.connectionFromEnv();
  if (!connection) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with deployments: write)');
  const repo = await githubRepository(root);
  if (!repo) throw new UsageError('--github needs GITHUB_REPOSITORY (owner/name) or an origin remote on GitHub');
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: full, GITHUB_RUN_ID: run } = process.env;
  return { gh: client.octokit(connection), repo, client, ...(server && full && run ? { logUrl: `${server}/${full}/actions/runs/${run}` } : {}) };
}

/**
 * One environment's GitHub Deployment during a sync. GitHub is told, not asked: when it cannot be
 * reached the sync still converges the environment, the failure is printed, and the command exits
 * 3 so the workflow shows that the record on GitHub is missing.
 */
class GitHubDeployment {
  failed = false;
  private id: number | undefined;
  constructor(private readonly github: GitHubDeployments, private readonly environment: string, private readonly output: Output) {}

  async begin(plan: Plan, env: Environment): Promise<void> {
    const { client, gh, repo, logUrl } = this.github;
    const request = deploymentRequest(plan, env);
    await this.report(async () => {
      const d = await client.findOrCreateDeployment(gh, repo, { sha: plan.commit, environment: this.environment, description: request.description, payload: request.payload, production: request.production });
      this.id = d.id;
      await client.setDeploymentStatus(gh, repo, d.id, { state: 'in_progress', description: 'modelship is applying the plan', ...(logUrl ? { logUrl } : {}), ...(request.environmentUrl ? { environmentUrl: request.environmentUrl } : {}) });
    });
  }

  async end(r: SyncResult): Promise<void> {
    const status = finalStatus(r.result, r.record);
    await this.status(status.state, status.description);
  }

  async error(e: unknown): Promise<void> {
    await this.status('error', `sync failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  private async status(state: 'success' | 'failure' | 'error', description: string): Promise<void> {
    if (this.id === undefined) return;
    const { client, gh, repo, logUrl } = this.github;
    const id = this.id;
    await this.report(() => client.setDeploymentStatus(gh, repo, id, { state, description, ...(logUrl ? { logUrl } : {}) }));
  }

  private async report(call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      this.failed = true;
      this.output.err(`${this.environment}: could not record the deployment on GitHub: ${e.message}`);
    }
  }
}

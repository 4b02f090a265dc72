// `modelship sync [--env E] [--rev REV] [--once | --watch]`: make each environment run what the
// repository says at REV (default HEAD), wait until it serves, and record what was deployed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { ExitCode, ModelshipError } from '../errors.js';
import { loadDesiredState } from '../config/state.js';
import type { LoadedRepository } from '../config/load.js';
import { resolveRevision } from '../git/tree.js';
import { parseDuration } from '../gates/types.js';
import { planFor, syncEnvironment, type SyncResult } from '../sync/agent.js';
import { hasWrites } from '../sync/plan.js';
import { deploymentRows } from '../sync/record.js';
import { connect } from '../sync/connect.js';
import { planText, resultText } from '../sync/show.js';
import { commandOptions, repoRoot } from './context.js';
import { environmentsToSync } from './plan.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean; watch?: boolean; interval: string; readyTimeout: string; recordDir?: string; forceConflicts?: boolean; listen?: string }

/** Exit code when another agent holds an environment's lease: nothing was done there. */
export const leaseHeldExitCode = 4;

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const root = repoRoot(opts.repo);
    if (!opts.watch) return await once(root, opts, output);
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
          code = await once(root, opts, output, state);
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
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
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

async function once(root: string, opts: Options, output: Output, state?: WatchState): Promise<number> {
  const commit = await resolveRevision(root, opts.rev ?? 'HEAD');
  const repo = await loadDesiredState(root, commit);
  const results: Array<SyncResult | { environment: string; skipped: string }> = [];
  let code: number = ExitCode.ok;
  for (const name of environmentsToSync(repo.environments.keys(), opts.env)) {
    const r = await syncOne(repo, name, commit, opts, output);
    results.push(r);
    if ('skipped' in r) code = Math.max(code, leaseHeldExitCode);
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

async function syncOne(repo: LoadedRepository, name: string, commit: string, opts: Options, output: Output): Promise<SyncResult | { environment: string; skipped: string }> {
  const connections = connect(name, repo.environments.get(name)!.data, process.env, { lease: true });
  try {
    // Reads first: a sync with nothing to do writes nothing, not even the lease.
    const { plan } = await planFor(repo, name, commit, connections.targets);
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
      const env = repo.environments.get(name)!.data;
      const rows = deploymentRows(r.record, artifactDigests(repo, name));
      if (rows.length && env.snowflake && connections.targets.snowflake) {
        // The data team's join key: which version scored what, from when. Only converged models.
        await connections.targets.snowflake.recordDeployments(env.snowflake.database, env.snowflake.schema, rows);
      }
      if (opts.recordDir) {
        mkdirSync(join(opts.recordDir, name), { recursive: true });
        writeFileSync(join(opts.recordDir, name, `${commit}.json`), JSON.stringify(r.record, null, 2) + '\n');
      }
      return r;
    } finally {
      stopRenewing?.();
      if (hasWrites(plan)) await connections.lease?.release().catch((e: unknown) => {
        if (!(e instanceof ModelshipError)) throw e;
        output.err(`${name}: could not release the lease (it expires by itself): ${e.message}`);
      });
    }
  } finally {
    await connections.close();
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

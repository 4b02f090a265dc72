// `modelship status [--env E] [--json] [--html DIR]`: for each environment × model, what main pins
// and what runs on EKS and in Snowflake, readiness, the canary split, the last batch run, drift and
// the last deployment; out-of-sync, unhealthy and split-brain rows stand out. --html writes a
// self-contained dashboard. Exit 0 all well, 1 something out of sync / unhealthy / split, 3 a
// system could not be read (the rows that needed it say so).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDesiredState } from '../config/state.js';
import { UsageError } from '../errors.js';
import { parseDuration } from '../gates/types.js';
import { resolveRevision } from '../adapters/git/tree.js';
import type { ModelDrift } from '../metrics/drift-monitor.js';
import { sampleCanaries } from '../status/canary.js';
import { dashboardHtml } from '../status/html.js';
import { readEnvironment } from '../status/live.js';
import { statusExitCode, statusSnapshot } from '../status/snapshot.js';
import { statusText } from '../status/text.js';
import type { DeploymentRow } from '../sync/targets/snowflake.js';
import { commandOptions, repoRoot } from './context.js';
import { environmentsToSync } from '../sync/environments.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean; html?: string; at?: string; timeout: string; syncGrace: string; drift: boolean; window?: string; prometheusUrl?: string }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const timeoutMs = duration(opts.timeout, '--timeout');
    const syncGraceMs = duration(opts.syncGrace, '--sync-grace');
    const windowMs = opts.window !== undefined ? duration(opts.window, '--window') : undefined;
    const now = opts.at ? new Date(opts.at) : new Date();
    if (Number.isNaN(now.getTime())) throw new UsageError(`--at ${JSON.stringify(opts.at)} is not a time (expected ISO 8601, e.g. 2026-11-20T12:00:00Z)`);
    const root = repoRoot(opts.repo);
    const commit = await resolveRevision(root, opts.rev ?? 'HEAD');
    const repo = await loadDesiredState(root, commit);
    const names = environmentsToSync(repo.environments.keys(), opts.env);

    output.progress(`reading ${names.join(', ')}…`);
    const inputs = await Promise.all(names.map((name) => {
      const span = windowMs ?? parseDuration(repo.policies.get(name)?.data.gates.drift?.window ?? '') ?? 86_400_000;
      return readEnvironment(repo, name, commit, process.env, {
        timeoutMs, ...(opts.drift ? { driftWindow: { start: new Date(now.getTime() - span), end: now } } : {}),
      });
    }));
    output.progress('');
    const snapshot = statusSnapshot(inputs, { now, syncGraceMs, commit });
    const code = statusExitCode(snapshot);

    if (opts.html) {
      const prometheusUrl = opts.prometheusUrl ?? process.env.MODELSHIP_PROMETHEUS_URL;
      const canaries = await sampleCanaries(repo, names, { now, timeoutMs, ...(prometheusUrl ? { prometheusUrl } : {}) });
      const history: Record<string, DeploymentRow[]> = Object.fromEntries(inputs.map((i) => [i.environment, i.history ?? []]));
      const drift: ModelDrift[] = inputs.flatMap((i) => Object.values(i.drift ?? {}));
      const dir = resolve(opts.html);
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'index.html'), dashboardHtml({ snapshot, history, drift, canaries }));
      } catch (e) {
        throw new UsageError(`cannot write the dashboard to ${dir}: ${(e as Error).message}`);
      }
      if (!opts.json) output.err(`dashboard written to ${join(dir, 'index.html')}`);
    }
    if (opts.json) output.out(JSON.stringify({ ok: code === 0, ...snapshot }, null, 2));
    else output.out(statusText(snapshot));
    return code;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (!ms) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration (e.g. 30s, 15m, 24h)`);
  return ms;
}

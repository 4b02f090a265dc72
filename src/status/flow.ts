// The status flow: for each environment, what the revision pins beside what runs (EKS,
// Snowflake), judged into one snapshot; optionally a self-contained HTML dashboard with the
// deployment history, drift and live canary samples.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDesiredState } from '../config/state.js';
import { UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { resolveRevision } from '../adapters/git/tree.js';
import type { ModelDrift } from '../metrics/drift-monitor.js';
import type { DeploymentRow } from '../sync/targets/snowflake.js';
import { environmentsToSync } from '../sync/environments.js';
import { sampleCanaries } from './canary.js';
import { dashboardHtml } from './html.js';
import { readEnvironment } from './live.js';
import { statusExitCode, statusSnapshot, type StatusSnapshot } from './snapshot.js';

export interface StatusRequest {
  root: string;
  rev?: string;
  env?: string[];
  now: Date;
  timeoutMs: number;
  syncGraceMs: number;
  /** measure drift too, over `windowMs` (else the policy's window, else a day) */
  drift: boolean;
  windowMs?: number;
  /** read running shadows' and A/B tests' live numbers (one warehouse aggregation each) */
  experiments?: boolean;
  /** write the dashboard into this folder */
  html?: string;
  prometheusUrl?: string;
}

export interface StatusOutcome {
  snapshot: StatusSnapshot;
  /** 0 all well, 1 out of sync / unhealthy / split, 3 a system could not be read */
  code: number;
  /** the dashboard file written, with html */
  dashboard?: string;
}

/** Reads every environment asked at once and judges the snapshot. */
export async function readStatus(req: StatusRequest, progress: (line: string) => void): Promise<StatusOutcome> {
  const { now } = req;
  const commit = await resolveRevision(req.root, req.rev ?? 'HEAD');
  const repo = await loadDesiredState(req.root, commit);
  const names = environmentsToSync(repo.environments.keys(), req.env);

  progress(`reading ${names.join(', ')}…`);
  const inputs = await Promise.all(names.map((name) => {
    const span = req.windowMs ?? parseDuration(repo.policies.get(name)?.data.gates.drift?.window ?? '') ?? 86_400_000;
    return readEnvironment(repo, name, commit, process.env, {
      timeoutMs: req.timeoutMs, ...(req.drift ? { driftWindow: { start: new Date(now.getTime() - span), end: now } } : {}),
      ...(req.experiments !== false ? { experiments: { root: req.root, now } } : {}),
    });
  }));
  progress('');
  const snapshot = statusSnapshot(inputs, { now, syncGraceMs: req.syncGraceMs, commit });
  const code = statusExitCode(snapshot);
  if (!req.html) return { snapshot, code };

  const canaries = await sampleCanaries(repo, names, { now, timeoutMs: req.timeoutMs, ...(req.prometheusUrl ? { prometheusUrl: req.prometheusUrl } : {}) });
  const history: Record<string, DeploymentRow[]> = Object.fromEntries(inputs.map((i) => [i.environment, i.history ?? []]));
  const drift: ModelDrift[] = inputs.flatMap((i) => Object.values(i.drift ?? {}));
  const dir = resolve(req.html);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.html'), dashboardHtml({ snapshot, history, drift, canaries }));
  } catch (e) {
    throw new UsageError(`cannot write the dashboard to ${dir}: ${(e as Error).message}`);
  }
  return { snapshot, code, dashboard: join(dir, 'index.html') };
}

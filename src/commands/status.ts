// `modelship status [--env E] [--json] [--html DIR]`: for each environment × model, what main pins
// and what runs on EKS and in Snowflake, readiness, the canary split, the last batch run, drift and
// the last deployment, and the live numbers of running shadows and A/B tests; out-of-sync, unhealthy and split-brain rows stand out. --html writes a
// self-contained dashboard. Exit 0 all well, 1 something out of sync / unhealthy / split, 3 a
// system could not be read (the rows that needed it say so).

import { UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { readStatus } from '../status/flow.js';
import { statusText } from '../status/text.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean; html?: string; at?: string; timeout: string; syncGrace: string; drift: boolean; shadowAb: boolean; window?: string; prometheusUrl?: string }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const timeoutMs = duration(opts.timeout, '--timeout');
    const syncGraceMs = duration(opts.syncGrace, '--sync-grace');
    const windowMs = opts.window !== undefined ? duration(opts.window, '--window') : undefined;
    const now = opts.at ? new Date(opts.at) : new Date();
    if (Number.isNaN(now.getTime())) throw new UsageError(`--at ${JSON.stringify(opts.at)} is not a time (expected ISO 8601, e.g. 2026-11-20T12:00:00Z)`);
    const root = repoRoot(opts.repo);
    const prometheusUrl = opts.html ? opts.prometheusUrl ?? process.env.MODELSHIP_PROMETHEUS_URL : undefined;
    const { snapshot, code, dashboard } = await readStatus({
      root, now, timeoutMs, syncGraceMs, drift: !!opts.drift, experiments: opts.shadowAb !== false,
      ...(opts.rev !== undefined ? { rev: opts.rev } : {}), ...(opts.env ? { env: opts.env } : {}),
      ...(windowMs !== undefined ? { windowMs } : {}), ...(opts.html ? { html: opts.html } : {}), ...(prometheusUrl ? { prometheusUrl } : {}),
    }, (line) => output.progress(line));
    if (dashboard && !opts.json) output.err(`dashboard written to ${dashboard}`);
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

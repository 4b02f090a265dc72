// `modelship canary watch --env E [--once] [--interval 1m] [--open-pr]`: judge each live canary's
// guardrails every interval; on a breach, roll it back as the policy says. Exit (with --once, or
// when stopped): 1 a guardrail was breached, 3 a metric source did not answer, else 0.

import { UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { connectionFromEnv } from '../adapters/github/client.js';
import { watchExitCode, watchUntilStopped } from '../canary/loop.js';
import { watchOnce, type WatchReport } from '../canary/watch.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env: string; once?: boolean; interval?: string; openPr?: boolean; at?: string; prometheusUrl?: string; base?: string; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const intervalMs = opts.interval !== undefined ? parseDuration(opts.interval) : undefined;
    if (opts.interval !== undefined && !intervalMs) throw new UsageError(`--interval expects a duration such as 1m or 30s, found ${JSON.stringify(opts.interval)}`);
    const at = opts.at !== undefined ? new Date(opts.at) : undefined;
    if (at && Number.isNaN(at.getTime())) throw new UsageError(`--at expects a time such as 2026-11-20T10:00:00Z, found ${JSON.stringify(opts.at)}`);
    const github = connectionFromEnv();
    const prometheusUrl = opts.prometheusUrl ?? process.env.MODELSHIP_PROMETHEUS_URL;
    const once = async () => {
      const report = await watchOnce({
        root: repoRoot(opts.repo), environment: opts.env, now: at ?? new Date(), act: !!opts.openPr,
        ...(intervalMs ? { intervalMs } : {}), ...(prometheusUrl ? { prometheusUrl } : {}),
        ...(opts.base ? { base: opts.base } : {}), ...(github ? { github } : {}),
      });
      if (opts.json) output.out(JSON.stringify(report, null, 2));
      else print(report, output);
      return watchExitCode(report);
    };
    if (opts.once || at) return await once();

    return await watchUntilStopped({
      ...(intervalMs ? { intervalMs } : {}),
      evaluate: once,
      failed: (e) => printError(e, output, !!opts.json),
    });
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

function print(r: WatchReport, output: Output): void {
  output.out(`canary watch ${r.environment} at ${r.at.replace(/\.\d+Z$/, 'Z')}: every ${r.interval}, autoRollback ${r.autoRollback}`);
  for (const n of r.notes) output.out(`  ${n}`);
  for (const c of r.canaries) {
    const v = c.verdict;
    const state = v.status === 'breached' ? 'BREACHED' : v.status === 'unknown' ? 'UNKNOWN (metric source down)' : 'healthy';
    output.out(`${c.model} ${c.version} at ${c.traffic}% beside ${c.stable}${c.startedAt ? ` (canary since ${c.startedAt.replace(/:\d\d\.\d+Z$|:\d\dZ$/, 'Z')})` : ''}: ${state}`);
    const width = Math.max(...v.checks.map((x) => x.check.length));
    for (const k of v.checks) {
      const values = k.intervals.map((i) => (i.state === 'error' ? '?' : i.value === undefined ? '—' : fmt(i.value)) + (i.state === 'breach' ? '!' : '')).join('  ') || 'not read yet';
      const tag = k.breached ? 'breach' : k.intervals.at(-1)?.state === 'error' ? 'error' : k.streak ? 'warn' : 'ok';
      output.out(`  ${tag.padEnd(6)} ${k.check.padEnd(width)}  ${k.bound.padEnd(12)} ${values}   ${k.streak} of ${v.threshold} in a row`);
    }
    const srm = v.sampleRatio;
    if (srm && srm.status !== 'error' && !srm.mismatch) output.out(`  ${srm.status === 'pass' ? 'ok    ' : 'wait  '} ${srm.message}`);
    for (const a of v.alerts) output.out(`  ALERT  ${a}; no rollback on missing data`);
    for (const why of v.reasons) output.out(`  why    ${why}`);
    if (c.action === 'reported') output.out(`  action none: ${r.autoRollback === 'off' ? 'the policy says autoRollback: off' : 'report only (run with --open-pr to act)'}`);
    if (c.rollback?.pullRequest) output.out(`  action revert pull request #${c.rollback.pullRequest.number} ${c.rollback.pullRequest.created ? 'opened' : 'updated'}: ${c.rollback.pullRequest.url}`);
    if (c.action === 'pushed') output.out(`  action ${c.rollback!.title}: ${c.rollback!.commit.slice(0, 12)} pushed to ${c.rollback!.base}`);
    if (c.error) output.err(`  error  ${c.model}: the rollback was not completed: ${c.error}`);
  }
}

const fmt = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x));

// `modelship drift [--env E] [--model M] [--window 24h] [--json] [--open-issue]`: how far each
// model's serving data has moved from its training data, measured inside the warehouse (one
// aggregation per model), judged by the environment policy's drift bounds. Exit 1 past the
// bounds, 3 when drift could not be measured ("unknown", never "ok"). With --open-issue, a model
// past its bounds opens or updates its retraining issue on GitHub.

import { ExitCode, UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { connectionFromEnv } from '../adapters/github/client.js';
import { measureDrift } from '../drift/flow.js';
import { driftExitCode, driftText } from '../metrics/drift-monitor.js';
import { patterns } from '../sync/render/snowflake.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; model?: string[]; window?: string; table?: string; at?: string; timeout: string; rev?: string; json?: boolean; openIssue?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const timeoutMs = duration(opts.timeout, '--timeout');
    const windowMs = opts.window !== undefined ? duration(opts.window, '--window') : undefined;
    const end = opts.at ? new Date(opts.at) : new Date();
    if (Number.isNaN(end.getTime())) throw new UsageError(`--at ${JSON.stringify(opts.at)} is not a time (expected ISO 8601, e.g. 2026-11-20T12:00:00Z)`);
    if (opts.table !== undefined && !patterns.qualifiedName.test(opts.table)) {
      throw new UsageError(`--table ${JSON.stringify(opts.table)} is not DATABASE.SCHEMA.TABLE of plain identifiers`);
    }
    if (opts.table !== undefined && opts.model?.length !== 1) throw new UsageError('--table names one model\'s scoring log: give exactly one --model with it');
    const github = opts.openIssue ? connectionFromEnv() : undefined;
    if (opts.openIssue && !github) throw new UsageError('--open-issue needs a GitHub token (GITHUB_TOKEN or GH_TOKEN)');

    const root = repoRoot(opts.repo);
    const { commit, results, issues } = await measureDrift({
      root, end, timeoutMs,
      ...(opts.rev !== undefined ? { rev: opts.rev } : {}), ...(opts.env ? { env: opts.env } : {}), ...(opts.model ? { model: opts.model } : {}),
      ...(opts.table !== undefined ? { table: opts.table } : {}), ...(windowMs !== undefined ? { windowMs } : {}), ...(github ? { github } : {}),
    }, (line) => output.progress(line));

    const code = driftExitCode(results);
    if (opts.json) {
      output.out(JSON.stringify({ ok: code === ExitCode.ok, commit, models: results, ...(opts.openIssue ? { issues } : {}) }, null, 2));
    } else {
      output.out(driftText(results));
      for (const i of issues) output.out(`\nissue #${i.number} ${i.created ? 'opened' : 'updated'}: ${i.title} — ${i.url}`);
      if (opts.openIssue && !issues.length) output.out('\nno model is past its bounds: no retraining issue opened');
    }
    return code;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (!ms) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration (e.g. 30s, 15m, 24h, 7d)`);
  return ms;
}

// `modelship check --base REV --head REV [--format text|markdown|json] [--github]`: gates a change
// to the release repository by the base branch's policies and prints (or posts) one report.

import { writeFileSync } from 'node:fs';
import { ExitCode, UsageError } from '../errors.js';
import { renderJson, renderMarkdown, renderText } from '../gates/report/render.js';
import { isBlocked } from '../gates/run.js';
import { readEvent } from '../adapters/github/event.js';
import { checkChange, defaultBase } from '../check/flow.js';
import { publishFailure, publishReport } from '../check/publish.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { base?: string; head?: string; format?: 'text' | 'markdown' | 'json'; json?: boolean; github?: boolean; at?: string; output?: string; prometheusUrl?: string }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  const format = opts.json ? 'json' : opts.format ?? 'text';
  try {
    const root = repoRoot(opts.repo);
    const at = opts.at ? parseTime(opts.at) : new Date();
    const event = opts.github ? readEvent() : undefined;
    const base = event?.baseSha ?? opts.base ?? (await defaultBase(root));
    const head = event?.headSha ?? opts.head ?? 'HEAD';
    const prometheusUrl = opts.prometheusUrl ?? process.env.MODELSHIP_PROMETHEUS_URL;
    let report;
    try {
      report = await checkChange({ root, base, head, at, ...(event ? { event } : {}), ...(prometheusUrl ? { prometheusUrl } : {}) });
    } catch (e) {
      // A change that cannot be judged (a merge group of several pull requests) fails its check
      // run rather than leaving none; the error is still the command's.
      if (event) await publishFailure(event, (e as Error).message, (line) => output.err(line)).catch((p: unknown) => output.err(`could not post the failing check run: ${(p as Error).message}`));
      throw e;
    }

    if (opts.output) writeFileSync(opts.output, renderMarkdown(report) + '\n');
    // Printed before posting, so the job log has the report even when GitHub refuses the post
    // (a fork's read-only token) or is down.
    output.out(format === 'json' ? renderJson(report) : format === 'markdown' ? renderMarkdown(report) : renderText(report));
    if (event) await publishReport(event, report, (line) => output.err(line));
    return isBlocked(report) ? ExitCode.checkFailed : ExitCode.ok;
  } catch (e) {
    return printError(e, output, format === 'json');
  }
}

function parseTime(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--at expects a time such as 2026-11-20T10:00:00Z, found ${JSON.stringify(text)}`);
  return d;
}

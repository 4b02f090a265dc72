// `modelship plan [--env E] [--rev REV] [--json]`: what a sync would create, change or delete,
// like a terraform plan, read-only.

import { ExitCode } from '../errors.js';
import { planRevision } from '../sync/run.js';
import { planText } from '../sync/show.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const root = repoRoot(opts.repo);
    const { commit, plans } = await planRevision({ root, ...(opts.rev !== undefined ? { rev: opts.rev } : {}), ...(opts.env ? { env: opts.env } : {}) });
    if (opts.json) output.out(JSON.stringify({ ok: true, commit, plans }, null, 2));
    else output.out(plans.map(planText).join('\n\n'));
    // a substrate that could not be reached: what could be planned is shown, and the exit says it is partial
    if (plans.some((p) => p.conflicts?.length)) return ExitCode.targetRefused;
    return plans.some((p) => p.unreachable?.length) ? ExitCode.external : ExitCode.ok;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

// `modelship plan [--env E] [--rev REV] [--json]`: what a sync would create, change or delete,
// like a terraform plan, read-only.

import { ExitCode } from '../errors.js';
import { loadDesiredState } from '../config/state.js';
import { resolveRevision } from '../adapters/git/tree.js';
import { planFor } from '../sync/agent.js';
import { connect } from '../sync/connect.js';
import { environmentsToSync } from '../sync/environments.js';
import { planText } from '../sync/show.js';
import type { Plan } from '../sync/types.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const root = repoRoot(opts.repo);
    const commit = await resolveRevision(root, opts.rev ?? 'HEAD');
    const repo = await loadDesiredState(root, commit);
    const plans: Plan[] = [];
    for (const name of environmentsToSync(repo.environments.keys(), opts.env)) {
      const connections = connect(name, repo.environments.get(name)!.data);
      try {
        plans.push((await planFor(repo, name, commit, connections.targets)).plan);
      } finally {
        await connections.close();
      }
    }
    if (opts.json) output.out(JSON.stringify({ ok: true, commit, plans }, null, 2));
    else output.out(plans.map(planText).join('\n\n'));
    return ExitCode.ok;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

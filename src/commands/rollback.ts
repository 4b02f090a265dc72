// `modelship rollback --env E --model M [--to VERSION] [--commit REV] [--open-pr | --break-glass] [--reason TEXT]`.

import { ExitCode } from '../errors.js';
import { connectionFromEnv } from '../adapters/github/client.js';
import { rollback } from '../rollback/rollback.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string; model?: string; to?: string; commit?: string; reason?: string; openPr?: boolean; breakGlass?: boolean; base?: string; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const github = connectionFromEnv();
    const actor = process.env.GITHUB_ACTOR;
    const r = await rollback({
      root: repoRoot(opts.repo), openPr: !!opts.openPr, breakGlass: !!opts.breakGlass, now: new Date(),
      ...(opts.env !== undefined ? { environment: opts.env } : {}), ...(opts.model !== undefined ? { model: opts.model } : {}),
      ...(opts.to !== undefined ? { to: opts.to } : {}), ...(opts.commit !== undefined ? { commit: opts.commit } : {}),
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}), ...(opts.base !== undefined ? { base: opts.base } : {}),
      ...(github ? { github } : {}), ...(actor ? { actor } : {}),
    });
    const stopped = !!r.nextSteps;
    if (opts.json) {
      output.out(JSON.stringify({ ok: !stopped, ...r }, null, 2));
      return stopped ? ExitCode.external : ExitCode.ok;
    }
    output.out(r.title);
    output.out(r.how === 'revert'
      ? `  reverts  ${r.plan.commit.sha.slice(0, 12)} ${r.plan.commit.subject ?? ''}`.trimEnd()
      : `  writes   the pin (undoes ${r.plan.commit.sha.slice(0, 12)}): ${r.plan.write ?? r.notes.at(-1) ?? ''}`.trimEnd());
    for (const n of r.how === 'write' && !r.plan.write ? r.notes.slice(0, -1) : r.notes) output.out(`  note     ${n}`);
    output.out(`  artifact ${r.artifact}`);
    output.out(r.pushed === 'default-branch' ? `  commit   ${r.commit.slice(0, 12)} pushed to ${r.base}` : `  branch   ${r.branch} from ${r.base}, commit ${r.commit.slice(0, 12)}`);
    if (r.issue) output.out(`  review issue #${r.issue.number} ${r.issue.created ? 'opened' : 'updated'}: ${r.issue.url}`);
    if (r.pullRequest) {
      output.out(`  pull request #${r.pullRequest.number} ${r.pullRequest.created ? 'opened' : 'updated'}: ${r.pullRequest.url}`);
      if (r.pullRequest.reviewers.length) output.out(`  review requested from ${r.pullRequest.reviewers.join(', ')}`);
    } else if (stopped) {
      for (const s of r.nextSteps!) output.err(s);
    } else if (!r.pushed) {
      output.out(`next: git push --force origin ${r.branch} and open the pull request, or re-run with --open-pr`);
    }
    output.out(`  held     ${r.plan.model} ${r.plan.takenAway} in ${r.plan.environment} once merged: pinning it there again needs a reason`);
    return stopped ? ExitCode.external : ExitCode.ok;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

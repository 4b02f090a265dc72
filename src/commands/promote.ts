// `modelship promote <model>@<version> --to <env> [--canary PCT | --shadow | --ab PCT] [--ab-override REASON] [--open-pr]`.

import { ExitCode } from '../errors.js';
import { connectionFromEnv } from '../adapters/github/client.js';
import type { PromotionMode } from '../promote/edit.js';
import { parseTarget, promote } from '../promote/promote.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { to: string; canary?: number; ab?: number; abOverride?: string; shadow?: boolean; reason?: string; openPr?: boolean; base?: string; force?: boolean; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const { model, version } = parseTarget(args[0] as string);
    const mode: PromotionMode = opts.canary !== undefined ? { kind: 'canary', traffic: opts.canary } : opts.ab !== undefined ? { kind: 'ab', traffic: opts.ab } : opts.shadow ? { kind: 'shadow' } : { kind: 'stable' };
    const github = connectionFromEnv();
    const result = await promote({
      root: repoRoot(opts.repo), model, version, environment: opts.to, mode,
      openPr: !!opts.openPr, force: !!opts.force,
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      ...(opts.abOverride !== undefined ? { abOverride: opts.abOverride } : {}),
      ...(opts.base !== undefined ? { base: opts.base } : {}),
      ...(github ? { github } : {}),
    });
    const stopped = !!result.nextSteps;
    if (opts.json) {
      output.out(JSON.stringify({ ok: !stopped, ...result }, null, 2));
    } else {
      output.out(result.title);
      output.out(`  branch  ${result.branch} from ${result.base}${result.checkedOut ? ' (checked out)' : ' (not checked out: your working tree has conflicting files)'}`);
      output.out(`  commit  ${result.commit.slice(0, 12)}  ${result.files.join(', ')}`);
      for (const n of result.notes) output.out(`  note    ${n}`);
      if (result.pullRequest) {
        output.out(`  pull request #${result.pullRequest.number} ${result.pullRequest.created ? 'opened' : 'updated'}: ${result.pullRequest.url}`);
        if (result.pullRequest.reviewers.length) output.out(`  review requested from ${result.pullRequest.reviewers.join(', ')}`);
      } else if (stopped) {
        for (const s of result.nextSteps!) output.err(s);
      } else {
        output.out(`next: git push --set-upstream origin ${result.branch} and open the pull request, or re-run with --open-pr`);
      }
    }
    return stopped ? ExitCode.external : ExitCode.ok;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

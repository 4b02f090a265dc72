// `modelship validate [--rev REV]`: every problem in the release files, in one run.

import { formatProblem, ExitCode } from '../errors.js';
import { validateSnapshot } from '../config/state.js';
import { workingTree } from '../config/snapshot.js';
import { repositoryCache } from '../config/validate-cache.js';
import { gitRevision } from '../adapters/git/tree.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<{ rev?: string; json?: boolean }>(args);
  try {
    const root = repoRoot(opts.repo);
    const snapshot = opts.rev === undefined ? workingTree(root) : await gitRevision(root, opts.rev);
    // Version files validated before (same bytes, same validators) are not parsed again.
    const cache = repositoryCache(root);
    // Every version manifest is checked as it is loaded; only the pinned ones are kept (memory stays flat with history).
    const result = await validateSnapshot(snapshot, { keepVersions: 'pinned', ...(cache ? { cache } : {}) });
    cache?.save();
    const errors = result.problems.filter((p) => p.severity === 'error');
    const warnings = result.problems.length - errors.length;
    if (opts.json) {
      output.out(JSON.stringify({
        ok: result.ok, snapshot: snapshot.label, filesChecked: result.repo.filesChecked,
        errors: errors.length, warnings, problems: result.problems,
      }, null, 2));
    } else {
      for (const p of result.problems) output.err(formatProblem(p));
      const files = new Set(errors.map((p) => p.file)).size;
      const summary = result.ok
        ? `${snapshot.label}: ${result.repo.filesChecked} files valid` + (warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : '')
        : `${snapshot.label}: ${errors.length} problem${errors.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}` +
          ` (${result.repo.filesChecked} files checked)`;
      (result.ok ? output.out : output.err)(summary);
    }
    return result.ok ? ExitCode.ok : ExitCode.checkFailed;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

// The repository as validated data: everything in it (validate), or the desired state the
// environments pin (check, sync), at the working tree or at any git revision.

import { ValidationError, type Problem } from '../errors.js';
import { gitRevision } from '../adapters/git/tree.js';
import { repositoryCache } from './validate-cache.js';
import { checkRepository } from './check.js';
import { loadRepository, type LoadedRepository, type LoadOptions } from './load.js';
import { workingTree, type Snapshot } from './snapshot.js';

export interface ValidationResult {
  repo: LoadedRepository;
  /** errors first, then warnings; each group in file order */
  problems: Problem[];
  ok: boolean;
}

/** Loads a snapshot and runs every file and cross-file check. */
export async function validateSnapshot(snapshot: Snapshot, options: LoadOptions = {}): Promise<ValidationResult> {
  const repo = await loadRepository(snapshot, { versions: 'all', ...options });
  const problems = sortProblems([...repo.problems, ...checkRepository(repo)]);
  return { repo, problems, ok: !problems.some((p) => p.severity === 'error') };
}

/**
 * The desired state at a revision (or the working tree when `rev` is undefined): environments,
 * policies, model cards and the versions they pin. Throws a ValidationError if any of it is invalid.
 */
export async function loadDesiredState(root: string, rev?: string): Promise<LoadedRepository> {
  const snapshot = rev === undefined ? workingTree(root) : await gitRevision(root, rev);
  // Manifests and model cards validated before (by validate, check or an earlier sync of this
  // repository: the agent's mirror between pushes) are not parsed again (validate-cache.ts).
  const cache = repositoryCache(root);
  const result = await validateSnapshot(snapshot, { versions: 'pinned', ...(cache ? { cache } : {}) });
  cache?.save();
  if (!result.ok) throw new ValidationError(result.problems, `${snapshot.label}: ${ValidationError.summarize(result.problems)}`);
  return result.repo;
}

export function sortProblems(problems: Problem[]): Problem[] {
  const rank = (p: Problem) => (p.severity === 'error' ? 0 : 1);
  return [...problems].sort((a, b) => rank(a) - rank(b) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

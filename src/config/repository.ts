// Cross-file checks of the repository policy (policies/repository.yaml): it must exist, since
// without it a change outside the release files would have no owner, and "repository" is its
// name, so no environment may take it.

import type { Problem } from '../errors.js';
import { repositoryPolicyFile, type LoadedRepository } from './load.js';

export function checkRepositoryPolicy(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  if (!repo.present.has(repositoryPolicyFile)) {
    problems.push({
      file: repositoryPolicyFile, line: 0, col: 0, path: '', severity: 'error',
      message: 'the repository policy is missing: without it, changes to code, workflows, policies and environment targets have no owner',
      expected: 'policies/repository.yaml with releaseBranch, code.default.owners, policies.owners and environments.owners', found: 'no such file',
    });
  }
  const env = repo.environments.get('repository') ?? (repo.present.has('environments/repository.yaml') ? { file: 'environments/repository.yaml' } : undefined);
  if (env) {
    problems.push({
      file: env.file, line: 0, col: 0, path: '', severity: 'error',
      message: '"repository" cannot name an environment: policies/repository.yaml is the repository policy',
      expected: 'another environment name', found: '"repository"',
    });
  }
  return problems;
}

// Which GitHub repository a command talks to: GITHUB_REPOSITORY (owner/name, as Actions sets it),
// else the origin remote's URL when it is on GitHub.
import { UsageError } from '../../errors.js';
import { githubRepoFromUrl, remoteUrl } from '../git/repo.js';
import type { RepoRef } from './client.js';

/** owner/name from `explicit` (default GITHUB_REPOSITORY), else from the origin remote; undefined when neither says. */
export async function githubRepository(root: string, explicit: string | undefined = process.env.GITHUB_REPOSITORY): Promise<RepoRef | undefined> {
  if (explicit) {
    const [owner, repo, ...rest] = explicit.split('/');
    if (!owner || !repo || rest.length) throw new UsageError(`GITHUB_REPOSITORY must be owner/name, found ${JSON.stringify(explicit)}`);
    return { owner, repo };
  }
  const url = await remoteUrl(root);
  return url ? githubRepoFromUrl(url) : undefined;
}

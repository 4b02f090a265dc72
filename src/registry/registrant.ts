// Who registers a version and when, as the manifest records them: the CI actor, else the git
// user, else the OS user; now, or SOURCE_DATE_EPOCH for repeatable manifests.

import { userInfo } from 'node:os';
import { configValue } from '../adapters/git/repo.js';

/** Who is registering: the CI actor, else the git user, else the OS user. */
export async function registrant(root: string): Promise<string> {
  if (process.env.GITHUB_ACTOR) return process.env.GITHUB_ACTOR;
  return (await configValue(root, 'user.email')) || userInfo().username;
}

/** Now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention), for repeatable manifests. */
export function registrationClock(): () => Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^[0-9]+$/.test(epoch) ? () => new Date(Number(epoch) * 1000) : () => new Date();
}

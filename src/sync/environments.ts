// Which environments a command works on: the ones named by --env, else all of them.

import { UsageError } from '../errors.js';

/** The environments named by --env (each must exist), else all of them, sorted. */
export function environmentsToSync(known: Iterable<string>, asked: string[] | undefined): string[] {
  const all = [...known].sort();
  if (!asked?.length) return all;
  const unknown = asked.filter((e) => !all.includes(e));
  if (unknown.length) throw new UsageError(`no such environment: ${unknown.join(', ')}; environments: ${all.join(', ')}`);
  return [...new Set(asked)];
}

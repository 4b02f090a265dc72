// What every command needs from the command line: the repository root and its own options.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';

/** The options of the command that runs, merged with the global ones. */
export function commandOptions<T>(args: unknown[]): T & { repo?: string } {
  const cmd = args[args.length - 1] as Command;
  return cmd.optsWithGlobals() as T & { repo?: string };
}

/** The release repository: --repo, else the nearest folder upwards holding .git or environments/. */
export function repoRoot(explicit?: string): string {
  if (explicit) return resolve(explicit);
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, '.git')) || existsSync(join(dir, 'environments'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

// Lists what a folder holds at a revision (`git ls-tree`), without a checkout.

import { execFile } from 'node:child_process';
import { ExternalError } from '../../errors.js';

/** The names (not paths) of the entries directly in `dir` at `rev`, in git's order. */
export function listFilesAt(root: string, rev: string, dir: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('git', ['ls-tree', '--name-only', '-z', `${rev}:${dir}`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 }, (e, stdout, stderr) => {
      if (e) reject(new ExternalError('git', `list ${dir} at ${rev}`, (stderr.trim() || e.message).split('\n')[0]!, { cause: e }));
      else resolve(stdout.split('\0').filter(Boolean));
    });
  });
}

// git is started by its path, found on PATH once (run.ts gitBinary): the same git the system
// would start, or the name alone where only the system can tell.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { git, gitBinary } from '../../../src/adapters/git/run.js';

const dir = mkdtempSync(join(tmpdir(), 'modelship-git-binary-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const saved = process.env.PATH;
/** Sets PATH for one test; it is put back when the test ends. */
function usePath(t: Test, path: string) {
  process.env.PATH = path;
  t.teardown(() => {
    process.env.PATH = saved;
  });
}

/** a folder holding an executable `git` that prints `name` */
function fakeGit(name: string): string {
  const bin = join(dir, name);
  mkdirSync(bin);
  writeFileSync(join(bin, 'git'), `#!/bin/sh\necho ${name}\n`);
  chmodSync(join(bin, 'git'), 0o755);
  return bin;
}
const first = fakeGit('first');
const second = fakeGit('second');
const notExecutable = join(dir, 'plain');
mkdirSync(notExecutable);
writeFileSync(join(notExecutable, 'git'), 'not a program');

t.test('the first executable git on PATH, as the system picks it; found again when PATH changes', async (t) => {
  usePath(t, [notExecutable, first, second].join(':'));
  t.equal(gitBinary(), join(first, 'git'));
  t.equal((await git(dir, ['anything'], 'run the fake git')).stdout.toString().trim(), 'first', 'and it is what runs');
  process.env.PATH = [second, first].join(':');
  t.equal(gitBinary(), join(second, 'git'));
});

t.test('an empty or relative PATH entry before any git leaves the choice to the system', async (t) => {
  usePath(t, ['relative/bin', first].join(':'));
  t.equal(gitBinary(), 'git');
  process.env.PATH = ['', first].join(':');
  t.equal(gitBinary(), 'git');
});

t.test('no git on PATH: the name, and starting it fails with the system\'s words', async (t) => {
  usePath(t, dir); // folders, no git
  t.equal(gitBinary(), 'git');
  await t.rejects(git(dir, ['--version'], 'ask git its version'), { message: /^git: ask git its version: Error: spawn git ENOENT/ });
});

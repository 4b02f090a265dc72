import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReleaseRepo } from '../../helpers/repo.js';
import { git, gitText } from '../../../src/adapters/git/run.js';
import { ObjectReader, readObjects } from '../../../src/adapters/git/objects.js';
import { isAncestor, mergeBase } from '../../../src/adapters/git/search.js';
import { ExternalError } from '../../../src/errors.js';

// The one git runner and the one object reader, against a real repository.

t.test('the runner: text, bytes as git wrote them, exit codes that answer, errors that say what was being done', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(() => repo.cleanup());
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0xc3]);
  writeFileSync(join(repo.root, 'blob.bin'), bytes);
  repo.git('add', 'blob.bin');
  repo.git('commit', '-q', '-m', 'a binary file');

  t.equal((await gitText(repo.root, ['rev-parse', 'HEAD'], 'read HEAD')).trim(), repo.git('rev-parse', 'HEAD').trim());
  t.same((await git(repo.root, ['cat-file', 'blob', 'HEAD:blob.bin'], 'read blob.bin')).stdout, bytes, 'binary-safe');

  const missing = await git(repo.root, ['rev-parse', '--verify', '--quiet', 'refs/heads/nope'], 'look for nope', { allowExit: [1] });
  t.equal(missing.code, 1, 'an allowed exit code is an answer');

  const e = await git(repo.root, ['cat-file', 'blob', 'HEAD:no-such-file'], 'read no-such-file at HEAD').catch((x: unknown) => x);
  t.type(e, ExternalError);
  t.match((e as ExternalError).message, /^git: read no-such-file at HEAD: fatal: path 'no-such-file' does not exist/);
  t.equal((e as ExternalError).exitCode, 3);
  await t.rejects(git('/nonexistent-modelship-dir', ['status'], 'read status'), { name: 'ExternalError', message: /^git: read status: / }, 'no such folder: the same kind of error');
});

t.test('search helpers read the exit code: is-ancestor says no, merge-base finds the fork point', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(() => repo.cleanup());
  const base = repo.git('rev-parse', 'HEAD').trim();
  repo.git('commit', '-q', '--allow-empty', '-m', 'later');
  const later = repo.git('rev-parse', 'HEAD').trim();
  t.equal(await isAncestor(repo.root, base, later), true);
  t.equal(await isAncestor(repo.root, later, base), false);
  t.equal(await mergeBase(repo.root, base, later), base);
});

t.test('the object reader: batches in order, missing objects as undefined, one process for many reads', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(() => repo.cleanup());
  writeFileSync(join(repo.root, 'a.txt'), 'first\n');
  repo.git('add', 'a.txt');
  repo.git('commit', '-q', '-m', 'a');
  const head = repo.git('rev-parse', 'HEAD').trim();

  const reader = new ObjectReader(repo.root, 'read test files');
  const [one, two] = await Promise.all([reader.read([`${head}:a.txt`, `${head}:nope.txt`]), reader.read([`${head}:a.txt`])]);
  t.same(one.map((b) => b?.toString()), ['first\n', undefined]);
  t.same(two.map((b) => b?.toString()), ['first\n']);
  t.same(await reader.read([]), []);
  reader.close();

  t.same((await readObjects(repo.root, [`${head}:a.txt`])).map((b) => b?.toString()), ['first\n']);
  await t.rejects(readObjects('/nonexistent-modelship-dir', ['HEAD']), { name: 'ExternalError', message: /^git: read objects: / });
});

t.test('the object reader: large objects arriving in many chunks, between small and missing ones, byte for byte', async (t) => {
  const repo = makeReleaseRepo({ content: false });
  t.teardown(() => repo.cleanup());
  // Sizes around and well past a pipe chunk (64 KiB), pseudo-random bytes so no two agree.
  const sizes = [3_000_000, 10, 65_536, 65_535, 0, 1_000_001, 7];
  let seed = 7;
  const files = sizes.map((n) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff)));
  for (const [i, b] of files.entries()) writeFileSync(join(repo.root, `f${i}.bin`), b);
  repo.git('add', '-A');
  repo.git('commit', '-q', '-m', 'sizes');
  const names = files.map((_, i) => `HEAD:f${i}.bin`);
  const reader = new ObjectReader(repo.root, 'read test files');
  t.teardown(() => reader.close());
  const check = (got: Array<Buffer | undefined>, want: Array<Buffer | undefined>, what: string) =>
    t.same(got.map((b) => b?.toString('hex')), want.map((b) => b?.toString('hex')), what);
  check(await reader.read([...names, 'HEAD:missing.bin']), [...files, undefined], 'one batch, in order');
  // Consecutive batches, asked before the first is answered: each gets its own, whole.
  const [a, b, c] = await Promise.all([reader.read(names.slice(0, 2)), reader.read(['HEAD:missing.bin', names[5]!]), reader.read(names.slice(2))]);
  check(a, files.slice(0, 2), 'first of three batches');
  check(b, [undefined, files[5]], 'second');
  check(c, files.slice(2), 'third');
});

t.test('the object reader: an answer it cannot read (an ambiguous short id) fails the reads with what git said', async (t) => {
  const repo = makeReleaseRepo({ content: false });
  t.teardown(() => repo.cleanup());
  // Two blobs whose ids both start with 9a80 (found by hashing "x<n>\n" until two agreed).
  for (const text of ['x70\n', 'x167\n']) {
    writeFileSync(join(repo.root, 'blob.txt'), text);
    repo.git('hash-object', '-w', 'blob.txt');
  }
  const reader = new ObjectReader(repo.root, 'read test files');
  t.teardown(() => reader.close());
  const failed = { name: 'ExternalError', message: 'git: read test files: unexpected answer from git cat-file: "9a80 ambiguous"' };
  await t.rejects(reader.read(['9a80']), failed);
  await t.rejects(reader.read(['HEAD']), failed, 'and every read after it');
});

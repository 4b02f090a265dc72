// Snapshots of two revisions that share release folders list each shared folder once, and list
// exactly what a snapshot of their own lists. A snapshot held open (Snapshot.hold, as the loader
// does) reads all its batches through one `cat-file --batch`.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { makeReleaseRepo } from '../../helpers/repo.js';
import { gitRevision, type TreeListings } from '../../../src/adapters/git/tree.js';
import { loadRepository } from '../../../src/config/load.js';
import { defaultLimits, formatBytes } from '../../../src/config/yaml.js';

t.test('base and head share the listing of the folders they have in common', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const base = repo.git('rev-parse', 'HEAD').trim();
  const file = join(repo.root, 'environments/staging.yaml');
  writeFileSync(file, `${repo.git('show', 'HEAD:environments/staging.yaml')}# edited\n`);
  repo.git('commit', '-q', '-am', 'edit staging');
  const head = repo.git('rev-parse', 'HEAD').trim();

  const shared: TreeListings = new Map();
  const [sharedBase, sharedHead] = [await gitRevision(repo.root, base, shared), await gitRevision(repo.root, head, shared)];
  const [ownBase, ownHead] = [await gitRevision(repo.root, base), await gitRevision(repo.root, head)];
  t.same(await sharedBase.list(), await ownBase.list(), 'base: the same files, sizes and order');
  t.same(await sharedHead.list(), await ownHead.list(), 'head: the same files, sizes and order');
  t.ok((await ownHead.list()).some((f) => f.path.startsWith('models/')) && (await ownHead.list()).some((f) => f.path.startsWith('policies/')));
  t.same([...shared.keys()].map((k) => k.split(' ')[1]).sort(), ['environments', 'environments', 'models', 'policies'],
    'environments/ listed at each revision, models/ and policies/ once');
  const staging = 'environments/staging.yaml';
  t.match((await sharedHead.read([staging], 1 << 20)).get(staging)!.toString(), /# edited\n$/);
  t.notMatch((await sharedBase.read([staging], 1 << 20)).get(staging)!.toString(), /# edited/);
});

t.test('a revision lists without sizes; a file over the limit is measured, reported with its size and never read', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const pinned = 'models/fraud-detector/versions/2026.11.13-1.yaml';
  // padded with a comment past a 64 KiB limit: pinned in staging, so check and sync would read it
  writeFileSync(join(repo.root, pinned), `${repo.git('show', `HEAD:${pinned}`)}# ${'x'.repeat(70_000)}\n`);
  repo.git('commit', '-q', '-am', 'a pinned manifest over the limit');
  const snapshot = await gitRevision(repo.root, 'HEAD');
  const listed = (await snapshot.list()).find((f) => f.path === pinned);
  t.equal(listed?.size, undefined, 'the listing leaves sizes out (ls-tree without -l)');
  const size = (await snapshot.sizes!([pinned])).get(pinned)!;
  t.ok(size > 70_000, `size learned on demand: ${size}`);
  t.notOk((await snapshot.read([pinned], 65_536)).has(pinned), 'read() leaves a file over maxBytes out');

  const loaded = await loadRepository(snapshot, { versions: 'pinned', limits: { ...defaultLimits, maxBytes: 65_536 } });
  const problem = loaded.problems.find((p) => p.file === pinned);
  t.match(problem, { severity: 'error', message: `file is ${formatBytes(size)}; expected at most 64.0 KiB` });
  t.notOk(loaded.versions.get('fraud-detector')?.has('2026.11.13-1'), 'not loaded');
});

/** The git on PATH now, before a test puts a wrapper in front of it. */
const realGit = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'git')).find((f) => existsSync(f))!;

t.test('a held snapshot reads batch after batch through one cat-file process, in order; released, reads still work', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  // Every git started from here on is logged by a wrapper first on PATH, then run as usual.
  const bin = mkdtempSync(join(tmpdir(), 'modelship-git-log-'));
  const log = join(bin, 'log');
  writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(bin, { recursive: true, force: true });
  });
  const batches = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l === 'cat-file --batch').length : 0);

  const snapshot = await gitRevision(repo.root, 'HEAD');
  const files = (await snapshot.list()).map((f) => f.path);
  t.ok(files.length >= 4);
  const want = (path: string) => repo.git('show', `HEAD:${path}`);
  const release = snapshot.hold!();
  // Batches asked one after another and two at once, as the loader does (the next while this one loads).
  const one = await snapshot.read(files.slice(0, 2), 1 << 20);
  const [two, three] = await Promise.all([snapshot.read(files.slice(2, 3), 1 << 20), snapshot.read(files.slice(3), 1 << 20)]);
  t.same([...one.keys(), ...two.keys(), ...three.keys()], files, 'each batch answers its own files, in order');
  for (const m of [one, two, three]) for (const [p, bytes] of m) t.equal(bytes.toString(), want(p), p);
  t.same(await snapshot.read([], 1 << 20), new Map(), 'an empty batch');
  t.equal(batches(), 1, 'one cat-file --batch for every read of the hold');
  release();
  release(); // a second call changes nothing
  t.equal((await snapshot.read([files[0]!], 1 << 20)).get(files[0]!)!.toString(), want(files[0]!), 'released: a read has its own process');
  t.equal(batches(), 2);
  t.same([...(await snapshot.read(['environments/nope.yaml', files[0]!], 1 << 20)).keys()], [files[0]], 'a path the revision does not have is left out');
});

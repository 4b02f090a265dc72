// Snapshots of two revisions that share release folders list each shared folder once, and list
// exactly what a snapshot of their own lists.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

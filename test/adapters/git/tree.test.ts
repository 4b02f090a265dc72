// Snapshots of two revisions that share release folders list each shared folder once, and list
// exactly what a snapshot of their own lists.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReleaseRepo } from '../../helpers/repo.js';
import { gitRevision, type TreeListings } from '../../../src/adapters/git/tree.js';

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

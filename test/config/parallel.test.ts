// Large repositories are loaded on two threads (src/config/parallel.ts). The split must not change
// a single result: the same files load, the same problems are found at the same positions, and a
// document loaded by the worker can still point at its lines. The worker exists only in dist/,
// so this test loads the compiled loader (npm test builds first).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateRepo } from '../bench/generate-repo.js';
import { projectRoot } from '../helpers/cli.js';

type LoadModule = typeof import('../../src/config/load.js');
type SnapshotModule = typeof import('../../src/config/snapshot.js');
type ErrorsModule = typeof import('../../src/errors.js');
type ParallelModule = typeof import('../../src/config/parallel.js');

t.test('loading on a worker thread gives exactly what loading on one thread gives', async (t) => {
  const { loadRepository } = (await import(join(projectRoot, 'dist/config/load.js'))) as LoadModule;
  const { workingTree } = (await import(join(projectRoot, 'dist/config/snapshot.js'))) as SnapshotModule;
  const { formatProblem } = (await import(join(projectRoot, 'dist/errors.js'))) as ErrorsModule;
  const dir = mkdtempSync(join(tmpdir(), 'modelship-parallel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  generateRepo(dir, { models: 2, versions: 60, environments: ['staging', 'production'] });
  // Broken files late in the listing, where the worker's share is.
  const versionsDir = join(dir, 'models/fraud-detector-02/versions');
  const [badSchema, badSyntax] = readdirSync(versionsDir).sort().slice(-3, -1) as [string, string];
  const text = readFileSync(join(versionsDir, badSchema), 'utf8');
  writeFileSync(join(versionsDir, badSchema), text.replace(/\n  seed: \d+/, '\n  seed: "forty-two"'));
  writeFileSync(join(versionsDir, badSyntax), 'model: [unclosed\n');

  const serial = await loadRepository(workingTree(dir), { versions: 'all', parallelThreshold: Infinity });
  const { offloadStats } = (await import(join(projectRoot, 'dist/config/parallel.js'))) as ParallelModule;
  const parallel = await loadRepository(workingTree(dir), { versions: 'all', parallelThreshold: 1 });
  t.ok(offloadStats.documents > 50, `the worker loaded ${offloadStats.documents} documents`);
  t.ok(serial.filesChecked > 120);
  t.equal(parallel.filesChecked, serial.filesChecked);
  t.same(parallel.problems.map(formatProblem), serial.problems.map(formatProblem), 'the same problems at the same positions');
  const reported = serial.problems.map(formatProblem).join('\n');
  t.match(reported, `${badSchema}:41:9  lineage.seed  `);
  t.match(reported, `${badSyntax}:`);
  const versions = (r: typeof serial) => [...r.versions].map(([m, vs]) => [m, [...vs.keys()].sort(), [...vs.values()].map((v) => v.data)]);
  t.same(versions(parallel), versions(serial), 'the same manifests with the same data');

  const last = parallel.versions.get('fraud-detector-02')!;
  const fromWorker = [...last.values()].at(-1)!;
  t.same(fromWorker.parsed.locate(['artifact', 'sha256']), serial.versions.get('fraud-detector-02')!.get(fromWorker.data.version)!.parsed.locate(['artifact', 'sha256']),
    'a document the worker loaded still locates its fields');
});

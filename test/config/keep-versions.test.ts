// validate checks every version manifest as it is loaded and keeps only the pinned ones
// (LoadOptions.keepVersions 'pinned', src/config/load.ts), so a year of history is never in
// memory at once. That must not change a single problem: the same problems at the same positions
// as keeping them all, for a manifest kept (pinned) and for one that is not.
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatProblem } from '../../src/errors.js';
import { workingTree } from '../../src/config/snapshot.js';
import { validateSnapshot } from '../../src/config/state.js';
import { generateRepo } from '../bench/generate-repo.js';

t.test('checking versions as they load gives exactly the problems of keeping them all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-keep-versions-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  generateRepo(dir, { models: 2, versions: 300, environments: ['staging', 'production'] });
  const model = 'fraud-detector-01';
  const pinned = /\n {4}version: (\S+)/.exec(readFileSync(join(dir, 'environments/production.yaml'), 'utf8').split(`  ${model}:`)[1]!)![1]!;
  const versionsDir = join(dir, `models/${model}/versions`);
  const unpinned = readdirSync(versionsDir).map((f) => f.slice(0, -5)).find((v) => v !== pinned && !readFileSync(join(dir, 'environments/staging.yaml'), 'utf8').includes(v))!;
  // A cross-file problem (model differs from its folder) in a pinned manifest and in one that is not.
  for (const v of [pinned, unpinned]) {
    const file = join(versionsDir, `${v}.yaml`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(`\nmodel: ${model}\n`, '\nmodel: someone-else\n'));
  }

  const all = await validateSnapshot(workingTree(dir), { parallelThreshold: Infinity });
  const kept = await validateSnapshot(workingTree(dir), { keepVersions: 'pinned', parallelThreshold: Infinity });
  t.equal(kept.repo.filesChecked, all.repo.filesChecked);
  t.same(kept.problems.map(formatProblem), all.problems.map(formatProblem), 'the same problems, in the same order');
  for (const v of [pinned, unpinned]) {
    t.ok(kept.problems.some((p) => p.file === `models/${model}/versions/${v}.yaml` && p.message === `model must equal the folder name "${model}"` && p.line === 4 && p.path === 'model'), `found in ${v} (${pinned === v ? 'pinned' : 'not pinned'}) with its line`);
  }
  t.equal(all.repo.versions.get(model)!.size, 300, 'keepVersions all: every manifest kept');
  t.ok(kept.repo.versions.get(model)!.has(pinned), 'pinned: kept');
  t.notOk(kept.repo.versions.get(model)!.has(unpinned), 'not pinned: checked, not kept');
  t.ok(kept.repo.versions.get(model)!.size < 10, `only what the environments pin is kept (${kept.repo.versions.get(model)!.size})`);
});

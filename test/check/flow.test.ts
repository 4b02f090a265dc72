// What check reads of the version manifests: those the environments pin and those the change adds
// or edits, never the others (a repository keeps every version ever registered).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReleaseRepo } from '../helpers/repo.js';
import { checkChange } from '../../src/check/flow.js';

const broken = 'models/fraud-detector/versions/2026.01.01-1.yaml';
const at = new Date('2026-11-20T10:00:00Z');

/** The example repository with a broken manifest of a version pinned nowhere, committed on main. */
function repoWithBrokenManifest(t: Test) {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const commit = (message: string, files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) writeFileSync(join(repo.root, path), text);
    execFileSync('git', ['add', '-A'], { cwd: repo.root });
    execFileSync('git', ['commit', '-q', '-m', message], { cwd: repo.root });
  };
  commit('an old manifest nobody pins', { [broken]: 'model: [fraud-detector\n' });
  return { repo, commit };
}

t.test('a manifest the change does not touch and nobody pins is not read', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'docs');
  commit('docs', { 'README.md': 'release repository\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'docs', at });
  t.not(report.verdict, 'invalid', JSON.stringify(report.problems));
  t.notOk(report.problems?.some((p) => p.file === broken), 'the broken manifest is never parsed');
});

t.test('a manifest the change edits is validated though nobody pins it', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'edit');
  commit('touch the old manifest', { [broken]: 'model: [fraud-detector, again\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'edit', at });
  t.equal(report.verdict, 'invalid');
  t.match(report.headline, /does not validate: 1 problem; no gate ran/);
  t.same(report.problems?.filter((p) => p.severity === 'error').map((p) => p.file), [broken]);
});

t.test('a manifest the change adds is validated though nobody pins it', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'add');
  const added = 'models/fraud-detector/versions/2026.12.01-1.yaml';
  commit('register a version by hand', { [added]: 'model: fraud-detector\nversion: 2026.12.01-1\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'add', at });
  t.equal(report.verdict, 'invalid');
  const errors = report.problems?.filter((p) => p.severity === 'error') ?? [];
  t.ok(errors.length > 0 && errors.every((p) => p.file === added), 'every error is in the added manifest');
  t.match(errors[0], { file: added, path: 'registeredAt', message: 'missing required key "registeredAt"' });
  t.notOk(report.problems?.some((p) => p.file === broken), 'the untouched broken one is still not read');
});

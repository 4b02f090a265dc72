// The validate cache (src/config/validate-cache.ts): a warm run answers exactly as a cold one,
// whatever the working tree holds, and a cache that is missing, corrupt, from other validators
// or deleted is a cold run, never an error or a different answer.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { cacheFileIn, cacheFormat, gitDirOf, openValidateCache } from '../../src/config/validate-cache.js';
import { projectRoot, runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { loadDesiredState } from '../../src/config/state.js';

const v1 = 'models/fraud-detector/versions/2026.10.30-1.yaml';
const v2 = 'models/chargeback-risk/versions/2026.10.15-1.yaml';
const v3 = 'models/chargeback-risk/versions/2026.11.01-1.yaml';

function git(dir: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A committed copy of the example repository's release files with one invalid version file. */
function repository(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-vcache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(dir, d), { recursive: true });
  const bad = readFileSync(join(dir, v3), 'utf8').replace(/^( {2}sha256: )[0-9a-f]{64}$/m, '$1not-a-digest');
  writeFileSync(join(dir, v3), bad);
  git(dir, 'init', '-q');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'release files');
  return dir;
}

const cacheOf = (dir: string) => cacheFileIn(join(dir, '.git'));

async function validate(dir: string, ...extra: string[]) {
  const r = await runCli(['validate', '--json', '-C', dir, ...extra]);
  return { code: r.code, json: JSON.parse(r.stdout) as { ok: boolean; problems: Array<{ file: string; line: number; message: string }>; filesChecked: number } };
}

/** A cold answer: the same command with no cache file. */
async function cold(dir: string, ...extra: string[]) {
  rmSync(join(dir, '.git', 'modelship'), { recursive: true, force: true });
  return validate(dir, ...extra);
}

function header(dir: string): { format: string; identity: string; entries: number } {
  const text = readFileSync(cacheOf(dir), 'utf8');
  return JSON.parse(text.slice(0, text.indexOf('\n'))) as { format: string; identity: string; entries: number };
}

t.test('a warm run gives the same answer as a cold one: invalid, edited and untracked files', async (t) => {
  const dir = repository(t);
  const first = await cold(dir);
  t.equal(first.code, 1);
  t.ok(first.json.problems.some((p) => p.file === v3 && p.line > 0), 'the invalid file is reported with its line');
  // The four clean version files and the two model cards remembered; the invalid file never.
  t.equal(header(dir).entries, 6);
  // each line after the header is ["<key>",<data>]
  const keys = readFileSync(cacheOf(dir), 'utf8').split('\n').slice(1).filter((l) => l.startsWith('["')).map((l) => JSON.parse(l.slice(1, l.indexOf('",') + 1)) as string);
  t.same(keys.filter((k) => k.startsWith('model ')).length, 2, 'model cards under "model <sha256>": the same bytes as a manifest say nothing of them as a card');
  t.equal(header(dir).format, cacheFormat);
  const warm = await validate(dir);
  t.same(warm, first, 'warm = cold');

  // A cached file edited in the working tree (not committed) into an invalid one, and an untracked copy.
  writeFileSync(join(dir, v1), readFileSync(join(dir, v1), 'utf8').replace(/^version: .*$/m, 'version: [1, 2]'));
  writeFileSync(join(dir, 'models/fraud-detector/versions/2026.12.01-1.yaml'),
    readFileSync(join(dir, v2), 'utf8'));
  // and a cached model card edited into an invalid one
  writeFileSync(join(dir, 'models/fraud-detector/model.yaml'), readFileSync(join(dir, 'models/fraud-detector/model.yaml'), 'utf8').replace(/^name: .*$/m, 'name: [x]'));
  const warmEdited = await validate(dir);
  t.ok(warmEdited.json.problems.some((p) => p.file === v1 && p.line === 5), 'the edited file is parsed again and its problem positioned');
  t.ok(warmEdited.json.problems.some((p) => p.file === 'models/fraud-detector/model.yaml' && p.line > 0), 'so is the edited model card');
  t.ok(warmEdited.json.problems.some((p) => p.file === 'models/fraud-detector/versions/2026.12.01-1.yaml'),
    'the untracked copy is checked against its own path (model and version must match it)');
  t.same(warmEdited, await cold(dir), 'warm = cold after the edits');

  // At a revision: the committed blobs, warm and cold alike.
  const revWarm = await validate(dir, '--rev', 'HEAD');
  t.same(revWarm, await cold(dir, '--rev', 'HEAD'));
  t.same((await validate(dir, '--rev', 'HEAD')).json.problems, first.json.problems);
});

t.test('a truncated or corrupt cache is a cold run with the right answer, and is rewritten', async (t) => {
  const dir = repository(t);
  const reference = await cold(dir);
  const file = cacheOf(dir);
  const size = readFileSync(file).length;
  truncateSync(file, Math.floor(size / 2));
  t.same(await validate(dir), reference);
  t.equal(header(dir).entries, 6, 'rewritten whole');

  // A body whose digest does not match: a flipped byte must not give a wrong answer.
  const bytes = readFileSync(file);
  bytes[bytes.length - 3]! ^= 0x01;
  writeFileSync(file, bytes);
  t.same(await validate(dir), reference);

  writeFileSync(file, 'not a cache at all');
  t.same(await validate(dir), reference);
  writeFileSync(file, '');
  t.same(await validate(dir), reference);
});

t.test('entries of other validators (a different identity) are ignored, even ones that claim an invalid file is clean', async (t) => {
  const dir = repository(t);
  const reference = await cold(dir);
  const identity = header(dir).identity;
  const badSha = createHash('sha256').update(readFileSync(join(dir, v3))).digest('hex');
  const forged = (id: string) => {
    // What the file held before it was broken: a whole, valid manifest.
    const body = Buffer.from(JSON.stringify([badSha, parse(readFileSync(join(projectRoot, v3), 'utf8')) as unknown]));
    const head = JSON.stringify({ format: cacheFormat, identity: id, entries: 1, bodyBytes: body.length, bodySha256: createHash('sha256').update(body).digest('hex') });
    writeFileSync(cacheOf(dir), Buffer.concat([Buffer.from(`${head}\n`), body]));
  };
  forged('0'.repeat(64));
  t.same(await validate(dir), reference, 'another schema identity: the forged entry is not used');
  t.not(header(dir).identity, '0'.repeat(64), 'and the file is rewritten for these validators');

  // The control: under this identity the entry would be used, so the test above can fail.
  forged(identity);
  const fooled = await validate(dir);
  t.notOk(fooled.json.problems.some((p) => p.file === v3), 'same identity: the entry is trusted');
});

t.test('deleting the cache, or a repository with no git directory, is fine', async (t) => {
  const dir = repository(t);
  const reference = await cold(dir);
  rmSync(join(dir, '.git', 'modelship'), { recursive: true, force: true });
  t.same(await validate(dir), reference);
  t.ok(existsSync(cacheOf(dir)), 'made again');

  const plain = mkdtempSync(join(tmpdir(), 'modelship-vcache-plain-'));
  t.teardown(() => rmSync(plain, { recursive: true, force: true }));
  for (const d of ['environments', 'models', 'policies']) cpSync(join(dir, d), join(plain, d), { recursive: true });
  t.same((await validate(plain)).json.problems, reference.json.problems);
  t.notOk(existsSync(join(plain, '.git')), 'nothing written outside a git directory');
});

t.test('the cache: identity, bounds, data JSON cannot carry exactly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-vcache-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sub', 'validate-cache');
  const a = openValidateCache(file, 'id-a', { maxEntries: 2, maxBytes: 1 << 20 });
  t.equal(a.stats.opened, 'missing');
  a.put('k1', { n: 1 });
  a.put('k2', { n: Infinity });
  a.put('k3', { n: -0 });
  a.put('k4', { list: [1, 'two', null, true] });
  a.put('k5', { n: 5 });
  a.save();
  t.equal(a.stats.written, true);
  const b = openValidateCache(file, 'id-a', { maxEntries: 2, maxBytes: 1 << 20 });
  t.equal(b.stats.opened, 'loaded');
  t.same(b.get('k1'), { n: 1 });
  t.equal(b.get('k2'), undefined, 'Infinity is not cached');
  t.equal(b.get('k3'), undefined, '-0 is not cached');
  t.same(b.get('k4'), { list: [1, 'two', null, true] });
  t.equal(b.get('k5'), undefined, 'bounded to 2 entries');
  b.save();
  t.equal(b.stats.written, false, 'nothing new: not written');
  t.equal(openValidateCache(file, 'id-b').stats.opened, 'other-identity');
  t.equal(openValidateCache(file, 'id-a', { maxEntries: 2, maxBytes: 10 }).stats.opened, 'too-large');
  // This run's entries are kept first when the bound is reached.
  const c = openValidateCache(file, 'id-a', { maxEntries: 2, maxBytes: 1 << 20 });
  c.get('k4');
  c.put('k6', { n: 6 });
  c.save();
  const d = openValidateCache(file, 'id-a', { maxEntries: 2, maxBytes: 1 << 20 });
  t.same([d.get('k4'), d.get('k6'), d.get('k1')], [{ list: [1, 'two', null, true] }, { n: 6 }, undefined]);
  // Unwritable place: save() is silent, the next run cold.
  writeFileSync(join(dir, 'blocker'), '');
  const e = openValidateCache(join(dir, 'blocker', 'validate-cache'), 'id-a');
  t.equal(e.stats.opened, 'unreadable');
  e.put('k', { n: 1 });
  t.doesNotThrow(() => e.save());
  t.equal(e.stats.written, false);
});

t.test('where the cache lives: .git, a worktree\'s common dir, a bare repository', async (t) => {
  const dir = repository(t);
  t.equal(gitDirOf(dir), join(dir, '.git'));
  const wt = join(dir, '..', `${join(dir).split('/').pop()}-wt`);
  t.teardown(() => rmSync(wt, { recursive: true, force: true }));
  git(dir, 'worktree', 'add', '-q', wt);
  t.equal(gitDirOf(wt), join(dir, '.git'), 'worktrees share the cache');
  const bare = `${dir}-bare.git`;
  t.teardown(() => rmSync(bare, { recursive: true, force: true }));
  git(dir, 'clone', '-q', '--bare', dir, bare);
  t.equal(gitDirOf(bare), bare);
  const nothing = mkdtempSync(join(tmpdir(), 'modelship-vcache-none-'));
  t.teardown(() => rmSync(nothing, { recursive: true, force: true }));
  mkdirSync(join(nothing, 'models'));
  t.equal(gitDirOf(nothing), undefined);
});

t.test('the cache file read a MiB at a time: entries across chunk ends and larger than a chunk, byte for byte', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-vcache-big-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'validate-cache');
  // ~2.6 MB in 600 entries of odd sizes (lines fall across the 1 MiB reads), one of 1.5 MB, keys that need escaping.
  const entries = Array.from({ length: 600 }, (_, i) => [`k${i}${i % 7 === 0 ? '"\\\\' : ''}`, { i, text: 'é'.repeat(i * 7 % 4001) }] as const);
  const large = { text: 'x'.repeat(1_500_000) };
  const a = openValidateCache(file, 'id');
  for (const [k, v] of entries.slice(0, 300)) a.put(k, v);
  a.put('large', large);
  for (const [k, v] of entries.slice(300)) a.put(k, v);
  a.save();
  t.equal(a.stats.written, true);
  const b = openValidateCache(file, 'id');
  t.equal(b.stats.opened, 'loaded');
  t.same(b.get('large'), large);
  t.ok(entries.every(([k, v]) => JSON.stringify(b.get(k)) === JSON.stringify(v)), 'every entry as it was put');
  t.equal(b.stats.hits, 601);
  // A flipped byte anywhere in the body, even in the last MiB, is found.
  const bytes = readFileSync(file);
  bytes[bytes.length - 1000]! ^= 0x01;
  writeFileSync(file, bytes);
  t.equal(openValidateCache(file, 'id').stats.opened, 'corrupt');
});

t.test('what a run learns goes to a temporary file as it comes; a file replaced since it was opened answers nothing; stale temporary files go', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-vcache-temp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'validate-cache');
  const temps = () => readdirSync(dir).filter((n) => n.endsWith('.tmp'));
  const stale = join(dir, 'validate-cache.1.0000.tmp');
  const recent = join(dir, 'validate-cache.2.0000.tmp');
  writeFileSync(stale, 'left by a killed run');
  utimesSync(stale, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
  writeFileSync(recent, 'another run, still going');

  const a = openValidateCache(file, 'id');
  t.equal(temps().length, 2, 'nothing written before anything is learnt');
  a.put('k1', { n: 1 });
  a.put('k2', { text: 'y'.repeat(1_200_000) }); // more than the MiB held before writing
  const mine = temps().filter((n) => ![stale, recent].includes(join(dir, n)));
  t.equal(mine.length, 1, 'a temporary file from the first entry learnt');
  t.ok(statSync(join(dir, mine[0]!)).size > 1_200_000, 'and the entries are in it before save');
  a.save();
  t.same(temps(), ['validate-cache.2.0000.tmp'], 'saved: renamed; a temporary file over an hour old removed, a recent one kept');

  const b = openValidateCache(file, 'id');
  t.same(b.get('k1'), { n: 1 });
  // The descriptor is closed once the reading in progress is done; then another run replaces the file.
  await new Promise((resolve) => setImmediate(resolve));
  const other = openValidateCache(file, 'id');
  other.put('k1', { n: 'other' });
  other.save();
  t.equal(b.get('k2'), undefined, 'replaced since it was checked: no answer from it');
  t.equal(b.get('k1'), undefined, 'nor for an entry it answered before');
  t.same(openValidateCache(file, 'id').get('k1'), { n: 'other' });

  // A run that learns nothing writes nothing.
  const c = openValidateCache(file, 'id');
  c.get('k1');
  c.save();
  t.equal(c.stats.written, false);
  t.same(temps(), ['validate-cache.2.0000.tmp']);
});

t.test('sync\'s desired state uses the cache too, and a cached manifest edited at a later commit is read afresh', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const first = await loadDesiredState(repo.root, 'HEAD');
  const pinned = first.environments.get('production')!.data.models['fraud-detector']!.version;
  const file = `models/fraud-detector/versions/${pinned}.yaml`;
  t.ok(header(repo.root).entries >= 2, 'the pinned manifests and the model cards are remembered');
  // The same path, other bytes: not the cached data, but the file's own problem.
  writeFileSync(join(repo.root, file), readFileSync(join(repo.root, file), 'utf8').replace(/^version: .*$/m, 'version: [1, 2]'));
  repo.git('commit', '-qam', 'a pinned manifest broken');
  const error = await loadDesiredState(repo.root, 'HEAD').then(() => undefined, (e: unknown) => e);
  t.match(error, { problems: [{ file, line: 5, path: 'version', message: 'expected a string, found a list of 2 items' }] });
});

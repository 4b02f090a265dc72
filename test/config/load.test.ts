// Reading release files: every kind of broken YAML gets one positioned problem, and the rest of
// the repository is still checked.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { formatProblem } from '../../src/errors.js';
import { workingTree } from '../../src/config/snapshot.js';
import { validateSnapshot } from '../../src/config/state.js';
import { nestingDepth, parseJson, parseYaml, parseYamlPrecisely } from '../../src/config/yaml.js';
import { projectRoot } from '../helpers/cli.js';

function tree(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-tree-'));
  for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(dir, d), { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function problemsOf(dir: string) {
  const r = await validateSnapshot(workingTree(dir));
  return { ...r, errors: r.problems.filter((p) => p.severity === 'error'), lines: r.problems.map(formatProblem) };
}

t.test('the example repository is valid, with no warnings', async (t) => {
  const r = await problemsOf(projectRoot);
  t.same(r.lines, []);
  t.equal(r.ok, true);
  t.ok(r.repo.filesChecked >= 11);
});

t.test('duplicate keys are reported where the second one is', async (t) => {
  const dir = tree(t);
  const file = join(dir, 'environments/staging.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('  warehouse: SCORING_WH_XS\n', '  warehouse: SCORING_WH_XS\n  warehouse: SCORING_WH_L\n'));
  const r = await problemsOf(dir);
  t.same(r.lines, ['environments/staging.yaml:13:3  duplicate key "warehouse": a key may appear only once in a mapping']);
});

t.test('an alias bomb is refused before it is expanded', async (t) => {
  const dir = tree(t);
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
  writeFileSync(join(dir, 'policies/staging.yaml'), lines.join('\n') + '\n');
  const started = Date.now();
  const r = await problemsOf(dir);
  t.ok(Date.now() - started < 5000, 'answered quickly, not by expanding 9^9 strings');
  const p = r.errors.find((e) => e.file === 'policies/staging.yaml')!;
  t.match(p.message, /^too many aliases: 72; at most 20 are allowed/);
  t.equal(p.line, 4, 'points at the first alias beyond the limit (the 21st)');
});

t.test('a few aliases are fine', async (t) => {
  const parsed = parseYaml('x.yaml', 'a: &a {min: 1}\nb: *a\n');
  t.same(parsed.problems, []);
  t.same(parsed.data, { a: { min: 1 }, b: { min: 1 } });
});

t.test('a cron line keeps the fast path; an alias beside it still goes through the alias limit', async (t) => {
  const cron = 'schedule:\n  cron: 0 2 * * *\n  timezone: UTC\n';
  const parsed = parseYaml('x.yaml', cron);
  t.same([parsed.data, parsed.problems], [{ schedule: { cron: '0 2 * * *', timezone: 'UTC' } }, []]);
  const bomb = ['a: &a [1, 2, 3, 4, 5]', `b: [${Array(25).fill('*a').join(', ')}]`, 'cron: 0 2 * * *'].join('\n') + '\n';
  t.match(parseYaml('x.yaml', bomb).problems.map((p) => p.message), [/^too many aliases: 25; at most 20 are allowed/]);
  t.same(parseYaml('x.yaml', "a: &x 1\nb: ['*x', *x]\n").data, { a: 1, b: ['*x', 1] }, 'a quoted star is text; the alias still resolves');
});

t.test('50 MB of junk is rejected by size, without being read or parsed', async (t) => {
  const dir = tree(t);
  const junk = Buffer.alloc(50 * 1024 * 1024, 0x7a);
  writeFileSync(join(dir, 'models/fraud-detector/versions/2026.11.30-1.yaml'), junk);
  const r = await problemsOf(dir);
  t.same(r.lines, ['models/fraud-detector/versions/2026.11.30-1.yaml  file is 50.0 MiB; expected at most 1.0 MiB']);
  t.equal(r.repo.versions.get('fraud-detector')?.has('2026.11.30-1'), false);
});

t.test('binary content is not YAML', async (t) => {
  const dir = tree(t);
  writeFileSync(join(dir, 'policies/staging.yaml'), Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80]));
  const r = await problemsOf(dir);
  t.same(r.lines, ['policies/staging.yaml:1:1  file is not UTF-8 text (save it as UTF-8); expected UTF-8 text, found byte 0xFF']);
});

t.test('a byte that is not UTF-8 is reported at its line and column', async (t) => {
  const dir = tree(t);
  const file = join(dir, 'policies/staging.yaml');
  // a Latin-1 "é" in a comment on line 2, after "# caf" (the line's 6th character)
  const text = readFileSync(file, 'utf8').split('\n');
  text.splice(1, 0, '# café: staging');
  writeFileSync(file, Buffer.from(text.join('\n'), 'latin1'));
  const r = await problemsOf(dir);
  t.same(r.lines, ['policies/staging.yaml:2:6  file is not UTF-8 text (save it as UTF-8); expected UTF-8 text, found byte 0xE9']);
});

t.test('nesting is bounded: 1 MB of "[" is a clear error, quickly', async (t) => {
  const dir = tree(t);
  writeFileSync(join(dir, 'policies/staging.yaml'), '['.repeat(1024 * 1024));
  const started = Date.now();
  const r = await problemsOf(dir);
  t.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  t.same(r.lines, ['policies/staging.yaml:1:101  nesting too deep: 1048576 levels; at most 100 are allowed (nesting is bounded to keep parsing safe); expected at most 100 levels of nesting, found 1048576 levels']);
});

t.test('nesting is bounded in block collections and JSON too; ordinary nesting passes', async (t) => {
  const message = (p: { problems: Array<{ line: number; col: number; message: string }> }) => p.problems.map((q) => `${q.line}:${q.col} ${q.message}`);
  t.same(message(parseYaml('x.yaml', '- '.repeat(5000) + 'x\n')), ['1:201 nesting too deep: 5000 levels; at most 100 are allowed (nesting is bounded to keep parsing safe)']);
  t.same(message(parseYamlPrecisely('x.yaml', Array.from({ length: 150 }, (_, i) => ' '.repeat(i) + 'k:').join('\n') + ' 1\n')),
    ['101:101 nesting too deep: 150 levels; at most 100 are allowed (nesting is bounded to keep parsing safe)']);
  t.same(message(parseJson('x.json', '{"a":'.repeat(200) + '1' + '}'.repeat(200))), ['1:501 nesting too deep: 200 levels; at most 100 are allowed (nesting is bounded to keep parsing safe)']);
  const ninety = '['.repeat(90) + ']'.repeat(90);
  t.same(parseYaml('x.yaml', `a: ${ninety}\n`).problems, []);
  t.same(parseYaml('x.yaml', 'sql: |\n' + Array.from({ length: 150 }, (_, i) => '  ' + ' '.repeat(i) + 'select [').join('\n') + '\n').problems, [], 'block scalar text is not nesting');
});

t.test('nesting depth is counted from the characters: quotes, comments and block scalars do not nest; flow, `- ` and `? ` do', async (t) => {
  const depth = (text: string) => nestingDepth(text, 2);
  t.same(depth('a: "[[[{{"\nb: \'[ \'\' [\'\nc: "\\" [ ["\n'), { depth: 1 }, 'brackets inside quotes, with escaped quotes');
  t.same(depth('a: x # [[[[ a comment\nb: [1, [2, {c: 3}]]\n'), { depth: 4, beyond: { line: 2, col: 8 } }, 'a comment is not counted; flow is');
  t.same(depth('k: |\n  [[[[\n  {{{{\nafter: [x]\n'), { depth: 2 }, 'block scalar text is skipped until the indentation returns');
  t.same(depth('? - - a\n  : b\n'), { depth: 3, beyond: { line: 1, col: 5 } }, 'each compact `- ` and `? ` nests');
  t.same(depth('a:\r\n  - [x,\r\n     [y]]\r\n  - z\r\n'), { depth: 3, beyond: { line: 3, col: 6 } }, 'CRLF, and flow across lines');
  t.same(depth('x: >-\n   [[\n\n   ]]\ny:\n  - - - q\n'), { depth: 4, beyond: { line: 6, col: 5 } }, 'a blank line inside a block scalar');
});

t.test('tabs used for indentation', async (t) => {
  const dir = tree(t);
  const file = join(dir, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('  cluster: acme-eks-prod', '\tcluster: acme-eks-prod'));
  const r = await problemsOf(dir);
  t.match(r.lines[0], /^environments\/production\.yaml:7:1  tab used for indentation; YAML indentation must be spaces$/);
});

t.test('wrong types and unknown keys: every problem in one run, with line, column and path', async (t) => {
  const dir = tree(t);
  const env = join(dir, 'environments/staging.yaml');
  writeFileSync(env, readFileSync(env, 'utf8')
    .replace('mode: serverless', 'mode: serverles')
    .replace('replicas: { min: 1, max: 3 }', 'replicas: { min: one, max: 3 }\n      replcas: 3'));
  const policy = join(dir, 'policies/production.yaml');
  writeFileSync(policy, readFileSync(policy, 'utf8').replace('  count: 2\n', '  count: 2\n  treshold: 3\n'));
  const r = await problemsOf(dir);
  t.same(r.lines, [
    'environments/staging.yaml:8:9  kubernetes.mode  expected one of "serverless", "raw"; found the string "serverles"',
    'environments/staging.yaml:18:24  models.fraud-detector.online.replicas.min  expected a whole number, found the string "one"',
    'environments/staging.yaml:19:7  models.fraud-detector.online.replcas  unknown key "replcas" (did you mean "replicas"?); expected one of: replicas, scaleMetric, scaleTarget',
    'policies/production.yaml:11:3  approvals.treshold  unknown key "treshold"; expected one of: count, teams, excludeAuthor, dismissStale',
  ]);
  t.equal(r.ok, false);
});

t.test('an environment with a schema error still has its pins checked', async (t) => {
  const dir = tree(t);
  const env = join(dir, 'environments/staging.yaml');
  writeFileSync(env, readFileSync(env, 'utf8').replace('mode: serverless', 'mode: knative').replace('version: 2026.11.13-1', 'version: 2026.12.01-1'));
  const r = await problemsOf(dir);
  t.same(r.errors.map((p) => `${p.line}:${p.col} ${p.path}`), ['8:9 kubernetes.mode', '16:14 models.fraud-detector.version']);
  t.notMatch(r.lines.join('\n'), /production\.yaml/, 'no cascade into files that reference staging');
});

t.test('numbers that YAML cannot represent as metrics are refused', async (t) => {
  const dir = tree(t);
  const v = join(dir, 'models/chargeback-risk/versions/2026.11.01-1.yaml');
  writeFileSync(v, readFileSync(v, 'utf8').replace(/overall: \{auc: [0-9.]+/, 'overall: {auc: .nan'));
  const r = await problemsOf(dir);
  t.equal(r.errors.length, 1);
  t.match(r.lines[0], /models\/chargeback-risk\/versions\/2026\.11\.01-1\.yaml:\d+:\d+  metrics\.overall\.auc  expected a number, found the number NaN/);
});

t.test('the fast and the precise parser agree on every example file', async (t) => {
  const files = (await workingTree(projectRoot).list()).map((f) => f.path);
  t.ok(files.length >= 11);
  for (const f of files) {
    const text = readFileSync(join(projectRoot, f), 'utf8');
    t.same(parseYaml(f, text).data, parseYamlPrecisely(f, text).data, f);
    t.same(parseYaml(f, text).data, parse(text), `${f} matches the yaml library's own reading`);
  }
});

t.test('JSON: syntax errors and duplicate keys with positions', async (t) => {
  const bad = parseJson('metadata.json', '{\n  "model": "x",\n  "model": "y"\n}');
  t.same(bad.problems.map(formatProblem), ['metadata.json:3:3  duplicate key "model": a key may appear only once in a mapping']);
  const broken = parseJson('metadata.json', '{\n  "model": "x",\n}');
  t.equal(broken.problems.length, 1);
  t.match(formatProblem(broken.problems[0]!), /^metadata\.json:3:1  invalid JSON: /);
});

t.test('files in the wrong place are pointed out, .yml especially', async (t) => {
  const dir = tree(t);
  writeFileSync(join(dir, 'environments/qa.yml'), 'name: qa\n');
  writeFileSync(join(dir, 'models/fraud-detector/notes.txt'), 'hello\n');
  const r = await problemsOf(dir);
  t.same(r.lines, [
    'environments/qa.yml  warning:  modelship reads .yaml files only; rename this file to end in .yaml; ignored',
    'models/fraud-detector/notes.txt  warning:  not a file modelship knows; expected models/<model>/model.yaml or models/<model>/versions/<version>.yaml; ignored',
  ]);
  t.equal(r.ok, true, 'warnings do not fail validation');
});

// A/B changes: how the diff names them, how promote edits the pin, and the policy's A/B design
// rules (each with the message that says where and what).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { diffStates, type DesiredState } from '../../src/gates/changes.js';
import { editEnvironment } from '../../src/promote/edit.js';
import type { Deployment, Environment, ModelCard } from '../../src/config/types.js';
import { formatProblem } from '../../src/errors.js';
import { workingTree } from '../../src/config/snapshot.js';
import { validateSnapshot } from '../../src/config/state.js';
import { gatesFor } from '../../src/gates/run.js';
import { projectRoot } from '../helpers/cli.js';

const text = readFileSync(join(projectRoot, 'environments/production.yaml'), 'utf8');
const production: Environment = parse(text);
const card: ModelCard = parse(readFileSync(join(projectRoot, 'models/fraud-detector/model.yaml'), 'utf8'));
const fd = production.models['fraud-detector']!;
const A = '2026.11.06-1';
const B = '2026.11.20-1';
const state = (d: Deployment): DesiredState => ({ environments: new Map([['production', { data: { ...production, models: { ...production.models, 'fraud-detector': d } } }]]), policies: new Map(), models: new Map() });
const diff = (base: Deployment, head: Deployment) => diffStates({ base: state(base), head: state(head), files: [] });
const ab = (traffic = 50, version = B) => ({ ...fd, canary: { version, traffic, ab: true as const } });

t.test('the diff: start, restart, conclusion by B or by A', async (t) => {
  t.match(diff(fd, ab()), [{ kind: 'ab-start', candidate: B, champion: A, description: `fraud-detector A/B: ${B} at 50% beside ${A}` }]);
  t.match(diff(ab(), ab(20)), [{ kind: 'ab-start', description: `fraud-detector A/B of ${B}: 50% → 20%; the test starts over at the new split` }]);
  t.match(diff(ab(), ab(50, '2026.11.13-1')), [{ kind: 'ab-start', candidate: '2026.11.13-1', description: `fraud-detector A/B: ${B} replaced by 2026.11.13-1 at 50% beside ${A}; the test starts over` }]);
  t.match(diff({ ...fd, canary: { version: B, traffic: 5 } }, ab(5)), [{ kind: 'ab-start', description: `fraud-detector canary ${B} at 5% becomes an A/B beside ${A}` }]);
  t.match(diff(ab(), { ...fd, version: B }), [{ kind: 'ab-conclude', candidate: B, champion: A, description: `fraud-detector ${A} → ${B} (A/B concluded: B promoted)` }]);
  t.match(diff(ab(), fd), [{ kind: 'ab-conclude', candidate: A, champion: A, description: `fraud-detector A/B of ${B} ended; ${A} kept` }]);
  t.match(diff(ab(), { ...fd, canary: { version: B, traffic: 50 } }), [{ kind: 'ab-conclude', description: `fraud-detector A/B of ${B} ended; ${A} kept (${B} stays as a canary)` }]);
  // a plain canary is still a canary
  t.match(diff(fd, { ...fd, canary: { version: B, traffic: 5 } }), [{ kind: 'canary-start' }]);
  t.same(gatesFor('ab-start'), ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'ab', 'held', 'freeze', 'approvals']);
  t.same(gatesFor('ab-conclude'), ['integrity', 'ab', 'freeze', 'approvals']);
});

t.test('promote edits: --ab adds the B arm; a new split restarts; concluding removes it', async (t) => {
  const start = editEnvironment(text, { model: 'fraud-detector', version: B, mode: { kind: 'ab', traffic: 50 }, card, env: production });
  t.equal(start.kind, 'ab-start');
  t.same(parse(start.text).models['fraud-detector'].canary, { version: B, traffic: 50, ab: true });
  const running: Environment = parse(start.text);
  const step = editEnvironment(start.text, { model: 'fraud-detector', version: B, mode: { kind: 'ab', traffic: 20 }, card, env: running });
  t.equal(step.kind, 'ab-start');
  t.same(parse(step.text).models['fraud-detector'].canary, { version: B, traffic: 20, ab: true });
  t.same(step.notes, ['the A/B restarts at 20%: only requests from the merge on count']);
  const promoteB = editEnvironment(start.text, { model: 'fraud-detector', version: B, mode: { kind: 'stable' }, card, env: running });
  t.equal(promoteB.kind, 'ab-conclude');
  t.same(promoteB.to, { version: B });
  const keepA = editEnvironment(start.text, { model: 'fraud-detector', version: A, mode: { kind: 'stable' }, card, env: running });
  t.equal(keepA.kind, 'ab-conclude');
  t.same(keepA.to, { version: A });
  t.throws(() => editEnvironment(start.text, { model: 'fraud-detector', version: B, mode: { kind: 'ab', traffic: 50 }, card, env: running }),
    { message: `the A/B of fraud-detector@${B} already takes 50% in production; nothing to change` });
  t.throws(() => editEnvironment(start.text, { model: 'fraud-detector', version: '2026.11.13-1', mode: { kind: 'ab', traffic: 50 }, card, env: running }),
    { message: `an A/B test of fraud-detector ${B} is running in production; conclude or abort it before starting an A/B` });
  t.throws(() => editEnvironment(start.text, { model: 'fraud-detector', version: '2026.11.13-1', mode: { kind: 'stable' }, card, env: running }),
    { message: `a canary of fraud-detector ${B} is running in production; finish it (promote fraud-detector@${B}) or abort it (promote fraud-detector@${A}) first` });
});

type Edit = (dir: string) => void;
const edit = (file: string, from: string | RegExp, to: string): Edit => (dir) => {
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const next = before.replace(from, to);
  if (next === before) throw new Error(`test setup: ${String(from)} not found in ${file}`);
  writeFileSync(path, next);
};
const cases: Array<[string, Edit, RegExp]> = [
  ['a rate that is not a rate', edit('policies/production.yaml', 'baseline: { mean: 0.9 }', 'baseline: { mean: 1.5 }'),
    /^policies\/production\.yaml:\d+:\d+  ab\.baseline\.mean  a proportion's baseline is a rate; expected a number between 0 and 1 \(exclusive\), found 1\.5$/],
  ['a baseline plus MDE beyond 1', edit('policies/production.yaml', 'mde: { absolute: 0.01 }', 'mde: { absolute: 0.2 }'),
    /^policies\/production\.yaml:\d+:\d+  ab\.mde  the baseline plus the MDE \(1\.1\) is not a rate; expected a rate between 0 and 1 \(exclusive\), found 1\.1$/],
  ['a mean without its standard deviation', edit('policies/production.yaml', 'kind: proportion', 'kind: mean'),
    /^policies\/production\.yaml:\d+:\d+  ab\.baseline  a mean metric's sample size needs its standard deviation; expected key "sd", found nothing$/],
  ['two MDEs', edit('policies/production.yaml', 'mde: { absolute: 0.01 }', 'mde: { absolute: 0.01, relative: 0.01 }'),
    /^policies\/production\.yaml:\d+:\d+  ab\.mde  expected at most 1 keys, found a mapping with keys absolute, relative$/],
  ['an outcomes table that is not a table name', edit('policies/production.yaml', 'outcomes: ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES', 'outcomes: "x; DROP TABLE y"'),
    /^policies\/production\.yaml:\d+:\d+  ab\.metric\.outcomes  .*a qualified Snowflake table DATABASE\.SCHEMA\.TABLE/],
  ['an ab flag that is not true', edit('environments/production.yaml', '    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n', `    version: 2026.11.06-1\n    canary: { version: 2026.11.13-1, traffic: 10, ab: false }\n`),
    /^environments\/production\.yaml:\d+:\d+  models\.fraud-detector\.canary\.ab  expected true, found the boolean false$/],
];
for (const [name, e, expected] of cases) {
  t.test(`policy: ${name}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-ab-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(dir, d), { recursive: true });
    e(dir);
    const r = await validateSnapshot(workingTree(dir));
    const lines = r.problems.filter((p) => p.severity === 'error').map(formatProblem);
    t.equal(r.ok, false);
    t.ok(lines.length === 1 && expected.test(lines[0]!), `${expected}\n  in:\n${lines.join('\n')}`);
  });
}

t.test('a rollback that aborts an A/B (modelship rollback, canary watch) says why in an AB-Override trailer', async (t) => {
  const { rollbackMessage } = await import('../../src/rollback/summary.js');
  const plan = {
    environment: 'production', model: 'fraud-detector', kind: 'canary-abort', from: { version: A, canary: { version: B, traffic: 50, ab: true } }, to: { version: A },
    takenAway: B, commit: { sha: 'a'.repeat(40), subject: 'Merge promote/production/fraud-detector-2026.11.20-1-ab50', at: new Date('2026-11-22T12:00:00Z'), move: 'canary-start' },
  } as unknown as import('../../src/rollback/plan.js').RollbackPlan;
  const watch = rollbackMessage({ plan, how: 'revert', evidence: ['error-rate: 0.031 > max 0.01 for 3 intervals'], by: 'modelship canary watch' });
  t.match(watch, /\nAB-Override: rolled back by modelship canary watch: error-rate: 0\.031 > max 0\.01 for 3 intervals\n$/);
  const manual = rollbackMessage({ plan, how: 'revert', reason: 'INC-42\nlatency', by: 'modelship rollback' });
  t.match(manual, /\nAB-Override: rolled back by modelship rollback: INC-42 latency\n$/);
  const canary = rollbackMessage({ plan: { ...plan, from: { version: A, canary: { version: B, traffic: 5 } } }, how: 'revert', by: 'modelship rollback' });
  t.notMatch(canary, /AB-Override/, 'a plain canary abort needs none');
});

t.test('a running A/B is not stepped as a canary, and its pin is a valid deployment record', async (t) => {
  const start = editEnvironment(text, { model: 'fraud-detector', version: B, mode: { kind: 'ab', traffic: 50 }, card, env: production });
  t.throws(() => editEnvironment(start.text, { model: 'fraud-detector', version: B, mode: { kind: 'canary', traffic: 10 }, card, env: parse(start.text) }),
    { message: `an A/B test of fraud-detector ${B} is running in production; change its split with --ab, or conclude it first` });
  const { readDeploymentRecord } = await import('../../src/config/records.js');
  const record = {
    environment: 'production', commit: 'a'.repeat(40), startedAt: '2026-11-22T12:00:00Z', finishedAt: '2026-11-22T12:01:00Z', converged: true,
    models: [{ model: 'fraud-detector', version: A, canary: { version: B, traffic: 50, ab: true }, changed: true, deployed: true, kind: 'online' }], objects: [],
  };
  const dir = mkdtempSync(join(tmpdir(), 'modelship-ab-record-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'r.json'), JSON.stringify(record));
  t.same(readDeploymentRecord(join(dir, 'r.json'))!.models[0]!.canary, { version: B, traffic: 50, ab: true });
});

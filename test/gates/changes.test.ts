// The change set: desired state at base and head diffed into release changes. Plain data in,
// plain data out; the example repository's environments are the starting point.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { diffStates, type DesiredState, type FileDiff } from '../../src/gates/changes.js';
import type { Deployment, Environment } from '../../src/config/types.js';

const load = (f: string) => parse(readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8'));
const production: Environment = load('environments/production.yaml');

function state(envs: Record<string, Environment>): DesiredState {
  return {
    environments: new Map(Object.entries(envs).map(([k, v]) => [k, { data: v }])),
    policies: new Map(), models: new Map(),
  };
}
function withModel(env: Environment, model: string, d: Deployment | undefined): Environment {
  const models = { ...env.models };
  if (d) models[model] = d; else delete models[model];
  return { ...env, models };
}
const fd = production.models['fraud-detector']!;
const diff = (head: Deployment | undefined, opts: { liveBefore?: string[]; files?: FileDiff[]; base?: Deployment } = {}) => diffStates({
  base: state({ production: withModel(production, 'fraud-detector', opts.base ?? fd) }),
  head: state({ production: withModel(production, 'fraud-detector', head) }),
  files: opts.files ?? [],
  liveBefore: () => new Set(opts.liveBefore ?? []),
});

t.test('nothing changed: no changes', async (t) => {
  t.same(diff(fd), []);
});

t.test('a new version is a promotion; a version live here before is a rollback', async (t) => {
  const [p] = diff({ ...fd, version: '2026.11.13-1' });
  t.match(p, { kind: 'promote', environment: 'production', model: 'fraud-detector', candidate: '2026.11.13-1', champion: '2026.11.06-1', description: 'fraud-detector 2026.11.06-1 → 2026.11.13-1' });
  const [r] = diff({ ...fd, version: '2026.10.30-1' }, { liveBefore: ['2026.10.30-1'] });
  t.equal(r!.kind, 'rollback');
});

t.test('canary start, step, promote, abort, replace', async (t) => {
  const canary = (traffic: number, version = '2026.11.13-1') => ({ ...fd, canary: { version, traffic } });
  t.match(diff(canary(5)), [{ kind: 'canary-start', candidate: '2026.11.13-1', champion: '2026.11.06-1' }]);
  t.match(diff(canary(25), { base: canary(5) }), [{ kind: 'canary-step', description: 'fraud-detector canary 2026.11.13-1 5% → 25%' }]);
  t.match(diff({ ...fd, version: '2026.11.13-1' }, { base: canary(25) }), [{ kind: 'canary-promote', candidate: '2026.11.13-1', champion: '2026.11.06-1' }]);
  t.match(diff(fd, { base: canary(25) }), [{ kind: 'canary-abort', candidate: '2026.11.13-1' }]);
  t.match(diff(canary(5, '2026.10.30-1'), { base: canary(5) }), [{ kind: 'canary-start', candidate: '2026.10.30-1' }]);
});

t.test('shadow start, stop and promotion', async (t) => {
  const shadow = { ...fd, shadow: { version: '2026.11.13-1' } };
  t.match(diff(shadow), [{ kind: 'shadow-start', candidate: '2026.11.13-1' }]);
  t.match(diff(fd, { base: shadow }), [{ kind: 'shadow-stop' }]);
  t.match(diff({ ...fd, version: '2026.11.13-1' }, { base: shadow }), [{ kind: 'shadow-promote' }]);
});

t.test('serving settings, a new model, a removal, environment settings', async (t) => {
  t.match(diff({ ...fd, online: { replicas: { min: 6, max: 20 } } }), [{ kind: 'config', description: 'fraud-detector in production: online changed' }]);
  t.match(diff({ ...fd, reason: 'why not' }), [], 'a reason alone changes nothing that runs');
  t.match(diffStates({ base: state({ production: withModel(production, 'fraud-detector', undefined) }), head: state({ production }), files: [] }),
    [{ kind: 'new-model', candidate: '2026.11.06-1' }]);
  t.match(diff(undefined), [{ kind: 'removal', champion: '2026.11.06-1' }]);
  const moved = { ...production, kubernetes: { ...production.kubernetes!, namespace: 'ml-serving-2' } };
  t.match(diffStates({ base: state({ production }), head: state({ production: moved }), files: [] }), [{ kind: 'environment-config', description: 'production: kubernetes changed' }]);
});

t.test('policy edits, edited or deleted registered versions, model cards', async (t) => {
  const files: FileDiff[] = [
    { path: 'policies/production.yaml', status: 'modified' },
    { path: 'models/fraud-detector/versions/2026.11.06-1.yaml', status: 'modified' },
    { path: 'models/fraud-detector/versions/2026.11.20-1.yaml', status: 'added' },
    { path: 'models/fraud-detector/versions/2026.09.01-1.yaml', status: 'deleted' },
  ];
  const changes = diff(fd, { files });
  t.match(changes, [
    { kind: 'policy', environment: 'production', file: 'policies/production.yaml' },
    { kind: 'version-modified', environment: 'production', candidate: '2026.11.06-1', description: 'registered version fraud-detector@2026.11.06-1 modified' },
    { kind: 'version-modified', environment: 'production', candidate: '2026.09.01-1', description: 'registered version fraud-detector@2026.09.01-1 deleted' },
  ], 'an added version is not a change by itself; an unpinned deleted one is still judged');
  t.equal(changes.length, 3);
});

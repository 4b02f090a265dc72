// A serverless canary is applied only when the stable version it should split with is running.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { serverlessCanaryAborts, serverlessCanaryRefusals } from '../../src/sync/preconditions.js';
import type { Environment } from '../../src/config/types.js';
import type { KubernetesObject, LiveKubernetesObject, PlanAction } from '../../src/sync/types.js';

const staging: Environment = parse(readFileSync(new URL('../../environments/staging.yaml', import.meta.url), 'utf8'));
const withCanary: Environment = { ...staging, models: { ...staging.models, 'fraud-detector': { ...staging.models['fraud-detector']!, canary: { version: '2026.11.20-1', traffic: 10 } } } };
const running = (version: string): LiveKubernetesObject => ({
  apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
  metadata: { name: 'fraud-detector', namespace: 'ml-staging', annotations: { 'modelship.io/version': version } },
});
const key = 'InferenceService/ml-staging/fraud-detector';

t.test('the stable version runs (or the canary already does): no refusal', async (t) => {
  t.same([...serverlessCanaryRefusals(withCanary, [running('2026.11.13-1')])], []);
  t.same([...serverlessCanaryRefusals(withCanary, [running('2026.11.20-1')])], []);
  t.same([...serverlessCanaryRefusals(staging, [])], [], 'no canary, nothing to check');
});

t.test('another version runs, or nothing does: refused, with what to do', async (t) => {
  t.match(serverlessCanaryRefusals(withCanary, [running('2026.11.06-1')]).get(key),
    /splits traffic with the version that runs now \(2026\.11\.06-1\), not with the pinned stable 2026\.11\.13-1; sync the stable version first/);
  t.match(serverlessCanaryRefusals(withCanary, []).get(key), /needs the stable version 2026\.11\.13-1 running first/);
});

t.test('raw mode routes by weight between two services: no such precondition', async (t) => {
  const raw: Environment = { ...withCanary, kubernetes: { ...withCanary.kubernetes!, mode: 'raw', gateway: { name: 'g', namespace: 'gw' } } };
  t.same([...serverlessCanaryRefusals(raw, [])], []);
});

// --- taking a serverless canary away ---

const stableUri = 's3://registry/fraud-detector/stable/model.json';
const canaryUri = 's3://registry/fraud-detector/canary/model.json';
const service = (storageUri: string, canaryTrafficPercent?: number, version = '2026.11.20-1'): KubernetesObject => ({
  apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
  metadata: { name: 'fraud-detector', namespace: 'ml-staging', labels: { 'app.kubernetes.io/managed-by': 'modelship' }, annotations: { 'modelship.io/version': version } },
  spec: { predictor: { minReplicas: 1, ...(canaryTrafficPercent !== undefined ? { canaryTrafficPercent } : {}), model: { storageUri } } },
});
const update = (live: KubernetesObject, desired: KubernetesObject): PlanAction =>
  ({ op: 'update', target: 'kubernetes', key, model: 'fraud-detector', live: { ...live, status: {} }, desired, reason: 'spec hash a → b' });

t.test('a canary reverted to the stable version: its share goes to 0 first, on its own spec', async (t) => {
  const live = service(canaryUri, 10);
  const actions = [update(live, service(stableUri, undefined, '2026.11.13-1'))];
  serverlessCanaryAborts(staging, actions);
  const first = actions[0]!.first!;
  t.same(first.object.spec, { predictor: { minReplicas: 1, canaryTrafficPercent: 0, model: { storageUri: canaryUri } } }, 'no new revision: the same model, no traffic');
  t.same(first.object.metadata, live.metadata);
  t.equal(first.why, 'canary 2026.11.20-1 at 10% → 0% first: all traffic back to the rolled-out revision at once');
  t.equal((live.spec.predictor as { canaryTrafficPercent: number }).canaryTrafficPercent, 10, 'the live object is not changed');

  const replaced = [update(live, service('s3://registry/fraud-detector/other/model.json', 5, '2026.11.27-1'))];
  serverlessCanaryAborts(staging, replaced);
  t.ok(replaced[0]!.first, 'a different canary version also takes the old one to 0 first');
});

t.test('no intermediate step when the canary stays, is stepped, or is promoted; nor in raw mode', async (t) => {
  const live = service(canaryUri, 10);
  const cases: Array<[string, PlanAction]> = [
    ['stepped 10 → 25', update(live, service(canaryUri, 25))],
    ['promoted (same model, all traffic)', update(live, service(canaryUri, undefined))],
    ['no canary live', update(service(stableUri), service(canaryUri, 10))],
    ['already at 0', update(service(canaryUri, 0), service(stableUri))],
  ];
  for (const [what, a] of cases) {
    serverlessCanaryAborts(staging, [a]);
    t.equal(a.first, undefined, what);
  }
  const raw: Environment = { ...staging, kubernetes: { ...staging.kubernetes!, mode: 'raw', gateway: { name: 'g', namespace: 'gw' } } };
  const a = update(live, service(stableUri));
  serverlessCanaryAborts(raw, [a]);
  t.equal(a.first, undefined, 'raw');
});

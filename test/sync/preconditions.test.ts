// A serverless canary is applied only when the stable version it should split with is running.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { serverlessCanaryRefusals } from '../../src/sync/preconditions.js';
import type { Environment } from '../../src/config/types.js';
import type { LiveKubernetesObject } from '../../src/sync/types.js';

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

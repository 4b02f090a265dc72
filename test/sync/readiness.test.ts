// When an applied object counts as converged: KServe's status rules (ml-anchors §2), as data.
import t from 'tap';
import { readiness } from '../../src/sync/readiness.js';
import type { KubernetesObject, LiveKubernetesObject } from '../../src/sync/types.js';

const desired = (spec: Record<string, unknown> = { predictor: {} }, kind = 'InferenceService'): KubernetesObject => ({
  apiVersion: 'serving.kserve.io/v1beta1', kind, metadata: { name: 'fraud-detector', namespace: 'ml-serving', labels: {}, annotations: {} }, spec,
});
function live(status: Record<string, unknown>, generation = 3, kind = 'InferenceService'): LiveKubernetesObject {
  return { apiVersion: 'serving.kserve.io/v1beta1', kind, metadata: { name: 'fraud-detector', namespace: 'ml-serving', generation }, status };
}
const ready = { type: 'Ready', status: 'True' };
const ok = { observedGeneration: 3, conditions: [ready], modelStatus: { transitionStatus: 'UpToDate' } };

t.test('ready when the controller saw this generation, Ready=True and the model is up to date', async (t) => {
  t.match(readiness(desired(), live(ok)), { ready: true, reason: 'ready' });
});

t.test('not ready: an older observed generation, Ready False with its message, a transition in progress', async (t) => {
  t.match(readiness(desired(), live({ ...ok, observedGeneration: 2 })), { ready: false, reason: 'controller has not seen generation 3 yet (observed 2)' });
  t.match(readiness(desired(), live({ ...ok, conditions: [{ type: 'Ready', status: 'False' }, { type: 'PredictorReady', status: 'False', message: 'Revision "fd-00002" failed with message: 0/3 nodes are available' }] })),
    { ready: false, reason: /Ready is False: Revision "fd-00002" failed with message: 0\/3 nodes/ });
  t.match(readiness(desired(), live({ ...ok, modelStatus: { transitionStatus: 'InProgress' } })), { ready: false, reason: 'model transition is InProgress' });
  t.match(readiness(desired(), undefined), { ready: false, reason: 'not found' });
});

t.test('a failed model load is final: stop waiting and say why', async (t) => {
  t.match(readiness(desired(), live({ ...ok, conditions: [{ type: 'Ready', status: 'False' }], modelStatus: { transitionStatus: 'BlockedByFailedLoad', lastFailureInfo: { reason: 'ModelLoadFailed', message: 'xgboost: cannot parse model.json' } } })),
    { ready: false, failed: true, reason: 'model BlockedByFailedLoad: xgboost: cannot parse model.json' });
});

t.test('serverless canary: the latest revision must carry the desired share', async (t) => {
  const canary = desired({ predictor: { canaryTrafficPercent: 5 } });
  const traffic = (latest: number) => ({ ...ok, components: { predictor: { latestCreatedRevision: 'r2', latestReadyRevision: 'r2', traffic: [{ latestRevision: true, percent: latest }, { latestRevision: false, percent: 100 - latest }] } } });
  t.match(readiness(canary, live(traffic(5))), { ready: true, reason: 'ready, canary at 5%' });
  t.match(readiness(canary, live(traffic(0))), { ready: false, reason: 'traffic to the latest revision is 0%, want 5%' });
  t.match(readiness(canary, live({ ...ok, components: { predictor: { latestCreatedRevision: 'r3', latestReadyRevision: 'r2' } } })), { ready: false, reason: 'revision r3 is not ready yet (r2 is)' });
});

t.test('an HTTPRoute is ready when every parent gateway accepted it', async (t) => {
  const route = desired({}, 'HTTPRoute');
  t.match(readiness(route, live({ parents: [{ conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 3 }] }] }, 3, 'HTTPRoute')), { ready: true },
    'Gateway API status has no top-level observedGeneration');
  t.match(readiness(route, live({ parents: [{ conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 2 }] }] }, 3, 'HTTPRoute')),
    { ready: false, reason: 'the gateway has not seen generation 3 yet (observed 2)' });
  t.match(readiness(route, live({ observedGeneration: 3, parents: [] }, 3, 'HTTPRoute')), { ready: false, reason: 'no gateway has accepted the route yet' });
  t.match(readiness(route, live({ observedGeneration: 3, parents: [{ conditions: [{ type: 'Accepted', status: 'False', message: 'backend not found' }] }] }, 3, 'HTTPRoute')), { ready: false, failed: true, reason: 'route not accepted: backend not found' });
});

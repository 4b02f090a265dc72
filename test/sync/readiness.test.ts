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

t.test('observedGeneration is the child\'s (KServe copies the Deployment\'s or Knative Service\'s): it does not gate readiness', async (t) => {
  // kserve/kserve pkg/apis/serving/v1beta1/inference_service_status.go: PropagateRawStatus sets
  // ss.ObservedGeneration = deploymentList[0].Status.ObservedGeneration. After a replicas-only
  // change (generation 3, Deployment still at 2) or an HPA scale event (Deployment at 7) the two
  // differ for good; the old rule waited on them forever.
  t.match(readiness(desired(), live({ ...ok, observedGeneration: 2 })), { ready: true, reason: 'ready' });
  t.match(readiness(desired(), live({ ...ok, observedGeneration: 7 })), { ready: true, reason: 'ready' });
  t.match(readiness(desired({ predictor: {} }, 'Lease'), live({ observedGeneration: 2 }, 3, 'Lease')), { ready: false, reason: 'controller has not seen generation 3 yet (observed 2)' }, 'other kinds keep the generation rule');
});

t.test('not ready: Ready False with its message, PredictorReady not True, a transition in progress', async (t) => {
  t.match(readiness(desired(), live({ ...ok, conditions: [ready, { type: 'PredictorReady', status: 'Unknown', message: 'Revision "fd-00003" is progressing' }] })),
    { ready: false, reason: 'PredictorReady is Unknown: Revision "fd-00003" is progressing' });
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
    { ready: false, reason: 'gateway (unnamed) has not seen generation 3 yet (observed 2)' });
  t.match(readiness(route, live({ observedGeneration: 3, parents: [] }, 3, 'HTTPRoute')), { ready: false, reason: 'no gateway has accepted the route yet' });
  t.match(readiness(route, live({ observedGeneration: 3, parents: [{ parentRef: { namespace: 'gateways', name: 'public' }, conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener allows routes from ml-serving' }] }] }, 3, 'HTTPRoute')),
    { ready: false, failed: true, reason: 'route not accepted by gateway gateways/public (NotAllowedByListeners): no listener allows routes from ml-serving' });
});

t.test('an accepted HTTPRoute with a missing backend is not ready: ResolvedRefs=False (Gateway API RouteConditionResolvedRefs)', async (t) => {
  const route = desired({}, 'HTTPRoute');
  const parent = (resolved: Record<string, unknown>) => ({ parents: [{ parentRef: { namespace: 'gateways', name: 'public' }, controllerName: 'gateway.envoyproxy.io/gatewayclass-controller', conditions: [
    { type: 'Accepted', status: 'True', observedGeneration: 3 }, { type: 'ResolvedRefs', observedGeneration: 3, ...resolved },
  ] }] });
  t.match(readiness(route, live(parent({ status: 'False', reason: 'BackendNotFound', message: 'Service ml-serving/fd-canary-predictor not found' }), 3, 'HTTPRoute')),
    { ready: false, reason: 'gateway gateways/public (gateway.envoyproxy.io/gatewayclass-controller) cannot resolve the route\'s backends (BackendNotFound): Service ml-serving/fd-canary-predictor not found' });
  t.notOk(readiness(route, live(parent({ status: 'False', reason: 'BackendNotFound' }), 3, 'HTTPRoute')).failed, 'a backend may still come: keep waiting');
  t.match(readiness(route, live(parent({ status: 'False', reason: 'RefNotPermitted', message: 'no ReferenceGrant' }), 3, 'HTTPRoute')), { ready: false, failed: true });
  t.match(readiness(route, live(parent({ status: 'True', reason: 'ResolvedRefs' }), 3, 'HTTPRoute')), { ready: true, reason: 'accepted by the gateway, backends resolved' });
});

t.test('a gateway that refuses RequestMirror (Extended support) fails at once, naming the gateway and the filter', async (t) => {
  const route = desired({ rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'fd-shadow-predictor', port: 80 } } }], backendRefs: [{ name: 'fd-predictor', port: 80 }] }] }, 'HTTPRoute');
  const status = { parents: [{ parentRef: { namespace: 'gateways', name: 'public' }, controllerName: 'example.com/gateway', conditions: [
    { type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: 'unsupported filter type RequestMirror', observedGeneration: 3 },
  ] }] };
  t.match(readiness(route, live(status, 3, 'HTTPRoute')), {
    ready: false, failed: true,
    reason: /^gateway gateways\/public \(example.com\/gateway\) refused the route's filter RequestMirror: UnsupportedValue: unsupported filter type RequestMirror \(RequestMirror, used for the shadow, is Extended support in Gateway API/,
  });
});

t.test('serverless: a status from before the change is not taken for the new revision (Knative makes a revision per template change)', async (t) => {
  const serverless = (storageUri: string, canary?: number): KubernetesObject => ({
    ...desired({ predictor: { model: { storageUri }, ...(canary !== undefined ? { canaryTrafficPercent: canary } : {}) } }),
    metadata: { name: 'fraud-detector', namespace: 'ml-serving', labels: {}, annotations: { 'serving.kserve.io/deploymentMode': 'Serverless' } },
  });
  const at = (o: KubernetesObject, revision: string): LiveKubernetesObject => ({
    ...live({ ...ok, observedGeneration: 1, components: { predictor: { latestCreatedRevision: revision, latestReadyRevision: revision, traffic: [{ latestRevision: true, percent: 100 }] } } }), spec: o.spec,
  });
  const before = at(serverless('s3://m/1'), 'fd-00001');
  t.match(readiness(serverless('s3://m/2'), at(serverless('s3://m/2'), 'fd-00001'), before), { ready: false, reason: 'KServe has not created the new revision yet (latest is still fd-00001)' });
  t.match(readiness(serverless('s3://m/2'), at(serverless('s3://m/2'), 'fd-00002'), before), { ready: true });
  t.match(readiness(serverless('s3://m/1', 0), at(serverless('s3://m/1', 0), 'fd-00001'), before).reason, /traffic to the latest revision is 100%, want 0%/, 'a traffic-only change makes no revision');
  const raw = { ...serverless('s3://m/2'), metadata: { ...serverless('s3://m/2').metadata, annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } } };
  t.match(readiness(raw, at(raw, 'fd-00001'), before), { ready: true }, 'raw mode has no revisions');
});

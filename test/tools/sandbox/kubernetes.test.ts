// The Kubernetes API stand-in speaks the protocol the real clients speak: @kubernetes/client-node
// (never a fake client) and, when installed, kubectl, an independent client.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject as ClientObject } from '@kubernetes/client-node';
import { startKubernetesStandIn, type KubernetesStandIn } from '../../../tools/sandbox/kubernetes/server.js';
import { selfSignedCertificate } from '../../../tools/sandbox/kubernetes/tls.js';
import { matches, parseLabelSelector } from '../../../tools/sandbox/kubernetes/selectors.js';
import { readiness } from '../../../src/sync/readiness.js';
import type { KubernetesObject } from '../../../src/sync/types.js';

const run = promisify(execFile);

function client(s: KubernetesStandIn, token = s.token): KubernetesObjectApi {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'sandbox', server: s.url, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'c', cluster: 'sandbox', user: 'u' }],
    currentContext: 'c',
  });
  return KubernetesObjectApi.makeApiClient(kc);
}

function isvc(name: string, predictor: Record<string, unknown>, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubernetesObject {
  return {
    apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
    metadata: { name, namespace: 'ml-serving', labels: { 'app.kubernetes.io/managed-by': 'modelship', ...extra.labels }, annotations: { ...extra.annotations } },
    spec: { predictor },
  };
}
const model = (uri: string) => ({ modelFormat: { name: 'xgboost' }, storageUri: uri });

async function apply(api: KubernetesObjectApi, obj: object, manager = 'modelship', force = false): Promise<any> {
  return api.patch(obj as ClientObject, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);
}

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) return { code: e.code, body: typeof e.body === 'string' ? JSON.parse(e.body) : e.body };
    throw e;
  }
  throw new Error('expected an API error');
}

async function standIn(t: Test, options: Parameters<typeof startKubernetesStandIn>[0] = {}): Promise<KubernetesStandIn> {
  const s = await startKubernetesStandIn({ namespaces: ['ml-serving'], ...options });
  t.teardown(() => s.stop());
  return s;
}

t.test('discovery: /api, /apis and APIResourceLists with name, kind, namespaced and verbs', async (t) => {
  const s = await standIn(t);
  const get = async (path: string) => (await fetch(s.url + path, { headers: { authorization: `Bearer ${s.token}` } })).json() as Promise<any>;
  t.match(await get('/api'), { kind: 'APIVersions', versions: ['v1'] });
  const groups = await get('/apis');
  t.same(groups.groups.map((g: any) => g.name).sort(), ['coordination.k8s.io', 'gateway.networking.k8s.io', 'serving.kserve.io']);
  const kserve = await get('/apis/serving.kserve.io/v1beta1');
  t.match(kserve, { kind: 'APIResourceList', groupVersion: 'serving.kserve.io/v1beta1' });
  t.match(kserve.resources[0], { name: 'inferenceservices', kind: 'InferenceService', namespaced: true, shortNames: ['isvc'] });
  t.ok(kserve.resources[0].verbs.includes('patch'));
  t.match((await get('/apis/gateway.networking.k8s.io/v1')).resources[0], { name: 'httproutes', kind: 'HTTPRoute', namespaced: true });
  t.match((await get('/apis/coordination.k8s.io/v1')).resources[0], { name: 'leases', kind: 'Lease', namespaced: true });
  t.match((await get('/api/v1')).resources.find((r: any) => r.name === 'namespaces'), { kind: 'Namespace', namespaced: false });
  t.match(await get('/apis/nope.example.com/v1'), { kind: 'Status', code: 404, reason: 'NotFound' });
});

t.test('auth: no token or a wrong token is 401 with a Status body', async (t) => {
  const s = await standIn(t);
  const anon = await fetch(`${s.url}/apis`);
  t.equal(anon.status, 401);
  t.match(await anon.json(), { kind: 'Status', code: 401, reason: 'Unauthorized' });
  const e = await apiError(client(s, 'wrong').read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }));
  t.equal(e.code, 401);
});

t.test('server-side apply: create, a no-op re-apply writes nothing, a spec change bumps generation, labels do not', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  const created = await apply(api, isvc('fraud', { model: model('s3://m/1') }));
  t.match(created.metadata, { name: 'fraud', namespace: 'ml-serving', generation: 1 });
  t.ok(created.metadata.uid, 'uid set');
  t.ok(created.metadata.creationTimestamp, 'creationTimestamp set');
  const patch = s.requests.find((r) => r.method === 'PATCH')!;
  t.equal(patch.contentType, 'application/apply-patch+yaml');
  t.match(patch.query, { fieldManager: 'modelship', force: 'false' });
  t.match(created.metadata.managedFields, [{ manager: 'modelship', operation: 'Apply' }]);
  t.ok(created.metadata.managedFields[0].fieldsV1['f:spec']['f:predictor']['f:model']['f:storageUri'], 'fieldsV1 names the leaf');

  await s.controller.idle(); // the controller's status write is a write too
  const rv = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!.metadata.resourceVersion;
  const writesBefore = s.writes().length;
  const again = await apply(api, isvc('fraud', { model: model('s3://m/1') }));
  t.equal(again.metadata.generation, 1, 'generation unchanged');
  t.equal(again.metadata.resourceVersion, rv, 'no write: resourceVersion unchanged');
  t.equal(s.writes().length, writesBefore + 1, 'one PATCH request, answered without storing');

  const relabelled = await apply(api, isvc('fraud', { model: model('s3://m/1') }, { labels: { team: 'risk' } }));
  t.equal(relabelled.metadata.generation, 1, 'labels are metadata: generation unchanged');
  t.not(relabelled.metadata.resourceVersion, rv, 'but it is a write');

  const changed = await apply(api, isvc('fraud', { model: model('s3://m/2') }, { labels: { team: 'risk' } }));
  t.equal(changed.metadata.generation, 2);
  t.equal(changed.spec.predictor.model.storageUri, 's3://m/2');
  t.ok(Number(changed.metadata.resourceVersion) > Number(relabelled.metadata.resourceVersion));
});

t.test('server-side apply: fields the manager stops setting are removed; other managers\' fields stay', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  await apply(api, isvc('fraud', { minReplicas: 2, model: model('s3://m/1') }));
  await apply(api, { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'fraud', namespace: 'ml-serving' }, spec: { predictor: { maxReplicas: 5 } } }, 'hpa-tuner');
  const after = await apply(api, isvc('fraud', { model: model('s3://m/1') }));
  t.equal(after.spec.predictor.minReplicas, undefined, 'minReplicas removed');
  t.equal(after.spec.predictor.maxReplicas, 5, 'the other manager\'s field stays');
  t.same(after.metadata.managedFields.map((m: any) => m.manager).sort(), ['hpa-tuner', 'modelship']);
});

t.test('conflicts: another manager owning a field with a different value is a 409 naming it; force takes the field', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  await apply(api, isvc('fraud', { minReplicas: 1, model: model('s3://m/1') }));
  // someone edits the object by hand (kubectl edit sends a merge patch as field manager kubectl-edit)
  const edit = await fetch(`${s.url}/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/fraud?fieldManager=kubectl-edit`, {
    method: 'PATCH', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ spec: { predictor: { minReplicas: 3 } } }),
  });
  t.equal(edit.status, 200);
  await s.controller.idle();
  const rvBefore = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!.metadata.resourceVersion;

  const e = await apiError(apply(api, isvc('fraud', { minReplicas: 1, model: model('s3://m/2') })));
  t.equal(e.code, 409);
  t.match(e.body, { kind: 'Status', reason: 'Conflict', message: 'Apply failed with 1 conflict: conflict with "kubectl-edit" using serving.kserve.io/v1beta1: .spec.predictor.minReplicas' });
  t.match(e.body.details.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "kubectl-edit" using serving.kserve.io/v1beta1', field: '.spec.predictor.minReplicas' }]);
  const live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.equal(live.metadata.resourceVersion, rvBefore, 'a conflict writes nothing');
  t.equal(live.spec.predictor.model.storageUri, 's3://m/1');

  // agreeing with the other manager's value is no conflict: the field becomes shared
  const shared = await apply(api, isvc('fraud', { minReplicas: 3, model: model('s3://m/2') }));
  t.equal(shared.spec.predictor.model.storageUri, 's3://m/2');

  await fetch(`${s.url}/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/fraud?fieldManager=kubectl-edit`, {
    method: 'PATCH', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ spec: { predictor: { minReplicas: 4 } } }),
  });
  const forced = await apply(api, isvc('fraud', { minReplicas: 1, model: model('s3://m/2') }), 'modelship', true);
  t.equal(forced.spec.predictor.minReplicas, 1, 'force: the applier takes the field');
  const editEntry = forced.metadata.managedFields.find((m: any) => m.manager === 'kubectl-edit');
  t.notOk(editEntry?.fieldsV1?.['f:spec']?.['f:predictor']?.['f:minReplicas'], 'and the other manager no longer owns it');
  t.equal(s.requests.at(-1)!.query.force, 'true');

  // a conflict between two appliers names an Apply manager without "using"
  const e2 = await apiError(apply(api, isvc('fraud', { minReplicas: 7, model: model('s3://m/2') }), 'argocd'));
  t.match(e2.body.message, /conflicts? with "modelship"/);
});

t.test('an apply body is YAML: JSON (what client-node sends) and block-style YAML decode alike; a body that is neither is a 400', async (t) => {
  const s = await standIn(t);
  const url = (name: string) => `${s.url}/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/${name}?fieldManager=modelship`;
  const send = (name: string, body: string) => fetch(url(name), { method: 'PATCH', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/apply-patch+yaml' }, body });
  const json = await send('as-json', JSON.stringify({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'as-json', namespace: 'ml-serving' }, spec: { predictor: { minReplicas: 2 } } }));
  t.equal(json.status, 201);
  const yaml = await send('as-yaml', 'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: as-yaml\n  namespace: ml-serving\nspec:\n  predictor:\n    minReplicas: 2\n');
  t.equal(yaml.status, 201);
  const flow = await send('as-flow', '{apiVersion: serving.kserve.io/v1beta1, kind: InferenceService, metadata: {name: as-flow, namespace: ml-serving}, spec: {predictor: {minReplicas: 2}}}');
  t.equal(flow.status, 201, 'flow-style YAML that is not JSON goes to the YAML parser');
  for (const name of ['as-json', 'as-yaml', 'as-flow']) t.equal(s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', name)?.spec.predictor.minReplicas, 2, name);
  const bad = await send('bad', '{"apiVersion": [');
  t.equal(bad.status, 400);
  t.match(await bad.json(), { kind: 'Status', reason: 'BadRequest', message: /^the body of the request could not be decoded: / });
});

t.test('apply needs a fieldManager; bodies must match the URL; names and labels are validated', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  t.equal((await apiError(api.patch(isvc('fraud', {}) as ClientObject, undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply))).code, 400);
  const bad = await apiError(apply(api, isvc('fraud', {}, { labels: { 'modelship.io/version': 'x'.repeat(64) } })));
  t.equal(bad.code, 422);
  t.match(bad.body.message, /InferenceService.serving.kserve.io "fraud" is invalid: metadata.labels/);
  t.equal((await apiError(apply(api, { ...isvc('fraud_1', {}) }))).code, 422);
  const missingNs = await apiError(apply(api, { ...isvc('fraud', {}), metadata: { name: 'fraud', namespace: 'nowhere' } }));
  t.equal(missingNs.code, 404);
  t.match(missingNs.body.message, 'namespaces "nowhere" not found');
});

t.test('list by label selector, get, delete', async (t) => {
  const s = await standIn(t, { namespaces: ['ml-serving', 'other'] });
  const api = client(s);
  await apply(api, isvc('a', {}, { labels: { 'modelship.io/environment': 'staging' } }));
  await apply(api, isvc('b', {}, { labels: { 'modelship.io/environment': 'production' } }));
  s.put({ ...isvc('c', {}), metadata: { name: 'c', namespace: 'ml-serving', labels: { app: 'hand-made' } } }, 'kubectl-create');
  s.put({ ...isvc('d', {}, { labels: { 'modelship.io/environment': 'staging' } }), metadata: { ...isvc('d', {}, { labels: { 'modelship.io/environment': 'staging' } }).metadata, namespace: 'other' } });
  const names = async (selector?: string, ns = 'ml-serving') =>
    (await api.list('serving.kserve.io/v1beta1', 'InferenceService', ns, undefined, undefined, undefined, undefined, selector)).items.map((o) => o.metadata!.name);
  t.same(await names('app.kubernetes.io/managed-by=modelship,modelship.io/environment=staging'), ['a']);
  t.same(await names('app.kubernetes.io/managed-by=modelship'), ['a', 'b']);
  t.same(await names('modelship.io/environment!=staging'), ['b', 'c']);
  t.same(await names('modelship.io/environment in (staging,production)'), ['a', 'b']);
  t.same(await names('!modelship.io/environment'), ['c']);
  t.same(await names(), ['a', 'b', 'c']);
  const all = await (await fetch(`${s.url}/apis/serving.kserve.io/v1beta1/inferenceservices?labelSelector=modelship.io/environment%3Dstaging`, { headers: { authorization: `Bearer ${s.token}` } })).json() as any;
  t.same(all.items.map((o: any) => `${o.metadata.namespace}/${o.metadata.name}`), ['ml-serving/a', 'other/d'], 'across namespaces');
  t.equal(all.kind, 'InferenceServiceList');

  const ref = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'a', namespace: 'ml-serving' } };
  t.equal((await api.read(ref)).metadata!.name, 'a');
  await api.delete(ref);
  const gone = await apiError(api.read(ref));
  t.equal(gone.code, 404);
  t.match(gone.body.message, 'inferenceservices.serving.kserve.io "a" not found');
  t.equal((await apiError(api.delete(ref))).code, 404);
});

t.test('label selectors, as data', async (t) => {
  const l = { a: '1', b: '2' };
  t.ok(matches(parseLabelSelector('a=1,b==2'), l));
  t.notOk(matches(parseLabelSelector('a=1,b=3'), l));
  t.ok(matches(parseLabelSelector('a notin (2,3), b'), l));
  t.notOk(matches(parseLabelSelector('!b'), l));
  t.throws(() => parseLabelSelector('a=(1'));
});

t.test('the toy KServe controller: status after a delay, canary traffic split, promote, rollback', async (t) => {
  const s = await standIn(t, { controller: { delayMs: 30 } });
  const api = client(s);
  const v1 = isvc('fraud', { model: model('s3://m/1') });
  await apply(api, v1);
  const fresh = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.equal(fresh.status, undefined, 'no status before the controller ran');
  t.match(readiness(v1, fresh as any), { ready: false });
  await s.controller.idle();
  let live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(live.status, {
    observedGeneration: 1,
    conditions: [{ type: 'IngressReady', status: 'True' }, { type: 'PredictorReady', status: 'True' }, { type: 'Ready', status: 'True' }],
    modelStatus: { transitionStatus: 'UpToDate' },
    components: { predictor: { latestReadyRevision: 'fraud-predictor-00001', traffic: [{ revisionName: 'fraud-predictor-00001', percent: 100, latestRevision: true }] } },
  });
  t.match(readiness(v1, live as any), { ready: true });

  const canary = isvc('fraud', { model: model('s3://m/2'), canaryTrafficPercent: 10 });
  await apply(api, canary);
  live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(readiness(canary, live as any), { ready: false, reason: 'traffic to the latest revision is 100%, want 10%' }, 'the status from before the canary does not pass');
  await s.controller.idle();
  live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.same(live.status.components.predictor.traffic, [
    { tag: 'latest', revisionName: 'fraud-predictor-00002', percent: 10, latestRevision: true },
    { tag: 'prev', revisionName: 'fraud-predictor-00001', percent: 90, latestRevision: false },
  ]);
  t.match(readiness(canary, live as any), { ready: true, reason: 'ready, canary at 10%' });

  await apply(api, isvc('fraud', { model: model('s3://m/2'), canaryTrafficPercent: 0 }));
  await s.controller.idle();
  live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(live.status.components.predictor.traffic, [{ percent: 0, latestRevision: true }, { percent: 100, revisionName: 'fraud-predictor-00001' }], 'canary 0: rollback');

  await apply(api, isvc('fraud', { model: model('s3://m/2') }));
  await s.controller.idle();
  live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(live.status.components.predictor, {
    latestRolledoutRevision: 'fraud-predictor-00002', previousRolledoutRevision: 'fraud-predictor-00001',
    traffic: [{ revisionName: 'fraud-predictor-00002', percent: 100 }],
  }, 'promoted');
  t.equal(live.status.observedGeneration, live.metadata.generation);
});

t.test('stuck objects: a failed model load, a rollout that never finishes, failure by content; raw mode has no traffic', async (t) => {
  const s = await standIn(t, { controller: { failWhen: (o) => (o.spec?.predictor?.model?.storageUri === 's3://m/corrupt' ? 'xgboost: cannot parse model.json' : undefined) } });
  const api = client(s);
  await apply(api, isvc('fraud', { model: model('s3://m/1') }));
  await s.controller.idle(); // revision 1 rolls out before anything fails
  s.controller.stick('ml-serving', 'fraud', 'RevisionFailed: model download failed');
  await apply(api, isvc('fraud', { model: model('s3://m/2') }));
  await s.controller.idle();
  let live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(live.status, {
    observedGeneration: 2,
    conditions: [{ type: 'IngressReady' }, { type: 'PredictorReady', status: 'False' }, { type: 'Ready', status: 'False', message: 'RevisionFailed: model download failed' }],
    modelStatus: { transitionStatus: 'BlockedByFailedLoad', lastFailureInfo: { reason: 'ModelLoadFailed', message: 'RevisionFailed: model download failed' } },
    components: { predictor: { traffic: [{ revisionName: 'fraud-predictor-00001', percent: 100 }] } },
  });
  t.match(readiness(isvc('fraud', { model: model('s3://m/2') }), live as any), { ready: false, failed: true });

  s.controller.stick('ml-serving', 'fraud', 'waiting for a node', 'pending');
  await s.controller.idle();
  live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(live.status, { conditions: [{}, {}, { type: 'Ready', status: 'Unknown' }], modelStatus: { transitionStatus: 'InProgress' } });
  s.controller.unstick('ml-serving', 'fraud');
  await s.controller.idle();
  t.match(s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!.status, { modelStatus: { transitionStatus: 'UpToDate' } });

  await apply(api, isvc('fraud', { model: model('s3://m/corrupt') }));
  await s.controller.idle();
  t.match(s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!.status.modelStatus, { transitionStatus: 'BlockedByFailedLoad', lastFailureInfo: { message: 'xgboost: cannot parse model.json' } });

  await apply(api, isvc('raw', { model: model('s3://m/1') }, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } }));
  await s.controller.idle();
  const raw = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'raw')!;
  t.match(raw.status, { observedGeneration: 1, modelStatus: { transitionStatus: 'UpToDate' } });
  t.equal(raw.status.components.predictor.traffic, undefined, 'no Knative traffic in raw mode');

  const disabled = await standIn(t, { controller: { enabled: false } });
  await apply(client(disabled), isvc('fraud', {}));
  await disabled.controller.idle();
  t.equal(disabled.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!.status, undefined, 'controller off: never ready');
});

t.test('HTTPRoute status: every parentRef accepted, per-condition observedGeneration (Gateway API shape); a missing backend is ResolvedRefs=False', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'fraud', namespace: 'ml-serving' },
    spec: { parentRefs: [{ name: 'ml-gateway' }], rules: [{ backendRefs: [{ name: 'fraud-stable-predictor', port: 80, weight: 90 }, { name: 'fraud-canary-predictor', port: 80, weight: 10 }] }] },
  };
  await apply(api, route);
  await s.controller.idle();
  let live = s.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud')!;
  // Gateway API: an attached route whose backend Service does not exist stays Accepted and says
  // ResolvedRefs=False, BackendNotFound (apis/v1/shared_types.go).
  t.match(live.status.parents, [{ parentRef: { name: 'ml-gateway' }, conditions: [
    { type: 'Accepted', status: 'True', observedGeneration: 1 },
    { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: 'backend Service ml-serving/fraud-stable-predictor, Service ml-serving/fraud-canary-predictor not found' },
  ] }]);
  t.match(readiness(route as any, live as any), { ready: false, reason: /cannot resolve the route's backends \(BackendNotFound\)/ });
  t.equal(live.status.observedGeneration, undefined, 'RouteStatus has no top-level observedGeneration');

  // KServe raw mode makes <isvc>-predictor; the gateway sees the Services come and resolves.
  for (const name of ['fraud-stable', 'fraud-canary']) await apply(api, isvc(name, { model: model('s3://m/1') }, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } }));
  await s.controller.idle();
  live = s.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud')!;
  t.match(live.status.parents, [{ conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] }]);
  t.match(readiness(route as any, live as any), { ready: true });
});

t.test('a gateway without the Extended RequestMirror filter refuses the route: Accepted=False, UnsupportedValue', async (t) => {
  const s = await standIn(t, { controller: { unsupportedFilters: ['RequestMirror'] } });
  const api = client(s);
  for (const name of ['fraud-stable', 'fraud-shadow']) await apply(api, isvc(name, { model: model('s3://m/1') }, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } }));
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'fraud', namespace: 'ml-serving' },
    spec: {
      parentRefs: [{ name: 'ml-gateway', namespace: 'gateways' }],
      rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'fraud-shadow-predictor', port: 80 } } }], backendRefs: [{ name: 'fraud-stable-predictor', port: 80 }] }],
    },
  };
  await apply(api, route);
  await s.controller.idle();
  const live = s.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud')!;
  t.match(live.status.parents, [{ conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue' }, { type: 'ResolvedRefs', status: 'True' }] }]);
  t.match(readiness(route as any, live as any), {
    ready: false, failed: true,
    reason: /^gateway gateways\/ml-gateway \(sandbox.modelship.io\/gateway-controller\) refused the route's filter RequestMirror: UnsupportedValue: filter type RequestMirror is not supported \(RequestMirror, used for the shadow, is Extended support/,
  });
});

t.test('KServe copies observedGeneration from the child: raw replicas-only changes and HPA scale events leave it apart, readiness does not wait on it', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  const raw = (min: number) => isvc('fraud', { minReplicas: min, maxReplicas: 4, model: model('s3://m/1') }, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } });
  await apply(api, raw(1));
  await s.controller.idle();
  const get = () => s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
  t.match(get(), { metadata: { generation: 1 }, status: { observedGeneration: 1, deploymentMode: 'Standard' } });
  await apply(api, raw(2)); // minReplicas goes to the HPA, not the Deployment
  await s.controller.idle();
  t.match(get(), { metadata: { generation: 2 }, status: { observedGeneration: 1 } }, 'the Deployment did not change');
  t.match(readiness(raw(2), get() as any), { ready: true });
  s.controller.scale('ml-serving', 'fraud');
  await s.controller.idle();
  t.match(get(), { metadata: { generation: 2 }, status: { observedGeneration: 2 } }, 'the HPA wrote the Deployment');
  s.controller.scale('ml-serving', 'fraud');
  await s.controller.idle();
  t.match(get(), { metadata: { generation: 2 }, status: { observedGeneration: 3 } });
  t.match(readiness(raw(2), get() as any), { ready: true, reason: 'ready' });
});

t.test('deployment modes: KServe 0.16 maps the legacy names, KServe 0.15 sends Standard / Knative to the default (Serverless)', async (t) => {
  const cases: Array<['0.15' | '0.16', string, string]> = [
    ['0.16', 'Standard', 'Standard'], ['0.16', 'RawDeployment', 'Standard'], ['0.16', 'Serverless', 'Knative'], ['0.16', 'Knative', 'Knative'],
    ['0.15', 'RawDeployment', 'RawDeployment'], ['0.15', 'Standard', 'Serverless'], ['0.15', 'Serverless', 'Serverless'], ['0.15', 'Knative', 'Serverless'],
  ];
  for (const [kserveVersion, annotation, mode] of cases) {
    const s = await standIn(t, { controller: { kserveVersion } });
    await apply(client(s), isvc('fraud', { model: model('s3://m/1') }, { annotations: { 'serving.kserve.io/deploymentMode': annotation } }));
    await s.controller.idle();
    const live = s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud')!;
    t.equal(live.status.deploymentMode, mode, `KServe ${kserveVersion}, ${annotation}`);
    t.equal(live.status.components.predictor.traffic === undefined, mode === 'Standard' || mode === 'RawDeployment', 'Knative traffic only when serverless');
  }
});

t.test('create, replace with a stale resourceVersion (409), AlreadyExists (409), MicroTime format', async (t) => {
  const s = await standIn(t);
  const h = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  const base = `${s.url}/apis/coordination.k8s.io/v1/namespaces/ml-serving/leases`;
  const lease = (rv?: string, holder = 'a') => ({
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: 'modelship-staging', namespace: 'ml-serving', ...(rv ? { resourceVersion: rv } : {}) },
    spec: { holderIdentity: holder, leaseDurationSeconds: 60, renewTime: '2026-01-01T00:00:00.000000Z' },
  });
  const created = await fetch(base, { method: 'POST', headers: h, body: JSON.stringify(lease()) });
  t.equal(created.status, 201);
  const rv = ((await created.json()) as any).metadata.resourceVersion;
  const again = await fetch(base, { method: 'POST', headers: h, body: JSON.stringify(lease()) });
  t.equal(again.status, 409);
  t.match(await again.json(), { reason: 'AlreadyExists', message: 'leases.coordination.k8s.io "modelship-staging" already exists' });
  const ok = await fetch(`${base}/modelship-staging`, { method: 'PUT', headers: h, body: JSON.stringify(lease(rv, 'b')) });
  t.equal(ok.status, 200);
  const stale = await fetch(`${base}/modelship-staging`, { method: 'PUT', headers: h, body: JSON.stringify(lease(rv, 'c')) });
  t.equal(stale.status, 409);
  t.match(await stale.json(), { reason: 'Conflict', message: /the object has been modified/ });
  const millis = { ...lease(), metadata: { name: 'x', namespace: 'ml-serving' }, spec: { renewTime: '2026-01-01T00:00:00.000Z' } };
  t.equal((await fetch(base, { method: 'POST', headers: h, body: JSON.stringify(millis) })).status, 400, 'MicroTime needs six fractional digits, as in kube-apiserver');
  t.equal((await fetch(`${base}/nope`, { method: 'PUT', headers: h, body: JSON.stringify({ ...lease(), metadata: { name: 'nope', namespace: 'ml-serving' } }) })).status, 404);
});

t.test('fault injection, latency and the request log', async (t) => {
  const s = await standIn(t);
  const api = client(s);
  s.fail = (r) => (r.method === 'PATCH' ? { status: 429, retryAfterSeconds: 2 } : undefined);
  const e = await apiError(apply(api, isvc('fraud', {})));
  t.equal(e.code, 429);
  t.match(e.body, { reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
  s.fail = (r) => (r.path.endsWith('/fraud') ? 500 : undefined);
  t.equal((await apiError(apply(api, isvc('fraud', {})))).code, 500);
  s.fail = undefined;
  s.latencyMs = () => 50;
  const started = Date.now();
  await apply(api, isvc('fraud', {}));
  t.ok(Date.now() - started >= 50, 'latency added');
  const writes = s.writes();
  t.equal(writes.length, 3);
  t.same(writes.map((w) => w.status), [429, 500, 201]);
  t.match(writes[2], { method: 'PATCH', path: '/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/fraud', contentType: 'application/apply-patch+yaml', body: { kind: 'InferenceService' } });
});

const kubectl = await run('which', ['kubectl']).then((r) => r.stdout.trim(), () => '');
const tls = await selfSignedCertificate();

t.test('kubectl, an independent client, reads from and applies to the stand-in', { skip: kubectl ? false : 'kubectl is not installed: no independent-client check' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'modelship-kubectl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { ...process.env, KUBECONFIG: join(dir, 'none'), HOME: dir };
  const seed = async (s: KubernetesStandIn) => {
    await apply(client(s), isvc('fraud-detector', { model: model('s3://m/1'), canaryTrafficPercent: 10 }, { labels: { 'modelship.io/environment': 'production' } }));
    await s.controller.idle();
  };

  // plain HTTP: client-go sends credentials only over TLS, so this stand-in runs without auth
  const plain = await standIn(t, { token: null });
  await seed(plain);
  const base = ['--server', plain.url, '--cache-dir', join(dir, 'cache')];
  const table = await run(kubectl, [...base, 'get', 'inferenceservices', '-n', 'ml-serving'], { env });
  t.match(table.stdout, /NAME\s+URL\s+READY/);
  t.match(table.stdout, /fraud-detector\s+http:\/\/fraud-detector\.ml-serving\.example\.com\s+True/);
  const json = JSON.parse((await run(kubectl, [...base, 'get', 'isvc', '-n', 'ml-serving', '-l', 'modelship.io/environment=production', '-o', 'json'], { env })).stdout);
  t.equal(json.items.length, 1);
  t.equal(json.items[0].status.modelStatus.transitionStatus, 'UpToDate');

  // kubectl's own server-side apply, as another field manager, meets modelship's ownership
  const file = join(dir, 'edit.json');
  await writeFile(file, JSON.stringify({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'fraud-detector', namespace: 'ml-serving' }, spec: { predictor: { canaryTrafficPercent: 50 } } }));
  const conflict = await run(kubectl, [...base, 'apply', '--server-side', '--validate=false', '-f', file], { env }).then(() => undefined, (e: { stderr: string }) => e.stderr);
  t.match(conflict, /conflict with "modelship"/);
  t.match(conflict, /\.spec\.predictor\.canaryTrafficPercent/);

  // HTTPS with a token: kubectl authenticates, and is refused without it
  if (!tls) {
    t.comment('openssl is not installed: no token check over TLS');
    return;
  }
  const secure = await standIn(t, { tls });
  await seed(secure);
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.cert);
  const tlsBase = ['--server', secure.url, '--certificate-authority', caFile, '--cache-dir', join(dir, 'cache-tls')];
  const authed = await run(kubectl, [...tlsBase, '--token', secure.token!, 'get', 'inferenceservices', '-n', 'ml-serving'], { env });
  t.match(authed.stdout, /fraud-detector\s+\S+\s+True/);
  t.ok(secure.requests.every((r) => r.status !== 401), 'every kubectl request carried the token');
  const refused = await run(kubectl, [...tlsBase, '--token', 'wrong', 'get', 'isvc', '-n', 'ml-serving'], { env }).then(() => '', (e: { stderr: string }) => e.stderr);
  t.match(refused, /Unauthorized|must be logged in|provide credentials/);
});

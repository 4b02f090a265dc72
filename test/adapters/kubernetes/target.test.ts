// The Kubernetes target: the real @kubernetes/client-node against the loopback API stand-in.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ExternalError } from '../../../src/errors.js';
import { startKubernetesStandIn, type KubernetesStandIn } from '../../../tools/sandbox/kubernetes/server.js';
import { selfSignedCertificate } from '../../../tools/sandbox/kubernetes/tls.js';
import { conflictOwners, KubernetesTarget, loadKubeConfig } from '../../../src/adapters/kubernetes/target.js';
import { annotations, labels, type KubernetesObject, type LiveKubernetesObject } from '../../../src/sync/types.js';

async function setup(t: Test, options: Parameters<typeof startKubernetesStandIn>[0] = {}, timeoutMs?: number): Promise<{ s: KubernetesStandIn; target: KubernetesTarget }> {
  const s = await startKubernetesStandIn({ namespaces: ['ml-serving', 'ml-staging'], ...options });
  t.teardown(() => s.stop());
  const target = KubernetesTarget.connect({ kind: 'server', server: s.url, token: s.token ?? '' }, timeoutMs ? { timeoutMs } : {});
  return { s, target };
}

function isvc(name: string, environment: string, storageUri: string, namespace = 'ml-serving', extra: Record<string, unknown> = {}): KubernetesObject {
  return {
    apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
    metadata: {
      name, namespace,
      labels: { [labels.managedBy]: 'modelship', [labels.environment]: environment, [labels.model]: name },
      annotations: { [annotations.specHash]: storageUri.slice(-6), [annotations.commit]: 'abc123' },
    },
    spec: { predictor: { model: { modelFormat: { name: 'xgboost' }, storageUri }, ...extra } },
  };
}

function route(name: string, environment: string): KubernetesObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
    metadata: { name, namespace: 'ml-serving', labels: { [labels.managedBy]: 'modelship', [labels.environment]: environment }, annotations: {} },
    spec: { parentRefs: [{ name: 'ml-gateway' }], rules: [{ backendRefs: [{ name: `${name}-predictor`, port: 80, weight: 100 }] }] },
  };
}

async function externalError(p: Promise<unknown>): Promise<ExternalError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ExternalError) return e;
    throw e;
  }
  throw new Error('expected an ExternalError');
}

t.test('apply creates with server-side apply as modelship, without force; a re-apply is a no-op', async (t) => {
  const { s, target } = await setup(t);
  const created = await target.apply(isvc('fraud-detector', 'production', 's3://models/fraud/1'));
  t.match(created, { kind: 'InferenceService', metadata: { name: 'fraud-detector', namespace: 'ml-serving', generation: 1 } });
  t.match(created.metadata.managedFields, [{ manager: 'modelship', operation: 'Apply' }]);
  const patch = s.writes()[0]!;
  t.match(patch, { method: 'PATCH', contentType: 'application/apply-patch+yaml', query: { fieldManager: 'modelship', force: 'false' } });
  t.equal(patch.userAgent, 'modelship');
  await s.controller.idle();

  const rv = (await target.get(isvc('fraud-detector', 'production', '')))!.metadata.resourceVersion;
  const again = await target.apply(isvc('fraud-detector', 'production', 's3://models/fraud/1'));
  t.equal(again.metadata.generation, 1, 'generation unchanged');
  t.equal(again.metadata.resourceVersion, rv, 'nothing written');

  const changed = await target.apply(isvc('fraud-detector', 'production', 's3://models/fraud/2', 'ml-serving', { canaryTrafficPercent: 10 }));
  t.equal(changed.metadata.generation, 2, 'a spec change bumps generation');
  t.equal((changed.spec as any).predictor.canaryTrafficPercent, 10);
  await s.controller.idle();
  const live = await target.get(changed as KubernetesObject);
  t.match(live!.status, { observedGeneration: 2, components: { predictor: { traffic: [{ percent: 10, latestRevision: true }, { percent: 90 }] } } });
  t.equal(typeof live!.metadata.managedFields![0]!.fieldsV1, 'object', 'plain JSON back');
});

t.test('listManaged returns every object of both kinds in that namespace, whoever manages it (the planner tells them apart)', async (t) => {
  const { s, target } = await setup(t);
  await target.apply(isvc('fraud-detector', 'production', 's3://m/1'));
  await target.apply(isvc('churn', 'production', 's3://m/2'));
  await target.apply(route('fraud-detector', 'production'));
  await target.apply(isvc('fraud-detector-staging', 'staging', 's3://m/3'));
  await target.apply(isvc('fraud-detector', 'production', 's3://m/1', 'ml-staging'));
  s.put({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'hand-made', namespace: 'ml-serving', labels: { [labels.environment]: 'production' } }, spec: { predictor: {} } }, 'kubectl-create');
  const live = await target.listManaged('ml-serving', 'production');
  t.same(live.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort(), [
    'HTTPRoute/ml-serving/fraud-detector', 'InferenceService/ml-serving/churn', 'InferenceService/ml-serving/fraud-detector',
    'InferenceService/ml-serving/fraud-detector-staging', 'InferenceService/ml-serving/hand-made',
  ], 'another environment\'s and an unmanaged object are listed too; another namespace\'s are not');
  t.ok(live.every((o) => o.apiVersion));
  t.equal(live.find((o) => o.metadata.name === 'fraud-detector-staging')!.metadata.labels?.[labels.environment], 'staging', 'with their labels');
  t.same(s.requests.filter((r) => r.method === 'GET' && r.query.labelSelector), [], 'no label selector: objects that are not ours must be seen to be refused');
});

t.test('listManaged skips a kind the cluster does not serve (no Gateway API installed)', async (t) => {
  const { s, target } = await setup(t);
  await target.apply(isvc('fraud-detector', 'production', 's3://m/1'));
  s.fail = (r) => (r.path.startsWith('/apis/gateway.networking.k8s.io') ? { status: 404, message: 'the server could not find the requested resource' } : undefined);
  t.same((await target.listManaged('ml-serving', 'production')).map((o) => o.kind), ['InferenceService']);
  const e = await externalError(target.apply(route('fraud-detector', 'production')));
  t.equal(e.details.status, 404);
  t.match(e.details.hint, /CRD installed/);
});

t.test('list: every object of one kind in one namespace, as get reads each; a failure is an ExternalError naming the list', async (t) => {
  const { s, target } = await setup(t);
  await target.apply(isvc('a', 'production', 's3://m/1'));
  await target.apply(isvc('b', 'production', 's3://m/2'));
  await target.apply(isvc('c', 'staging', 's3://m/3', 'ml-staging'));
  await target.apply(route('a', 'production'));
  const ref = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', namespace: 'ml-serving' };
  const listed = await target.list(ref);
  t.same(listed.map((o) => o.metadata.name).sort(), ['a', 'b'], 'that kind, that namespace');
  // what readiness reads (client-node's get deserializes metadata through its models; a list's items stay as sent)
  const seen = (o: LiveKubernetesObject | undefined) => o && { apiVersion: o.apiVersion, kind: o.kind, spec: o.spec, status: o.status, metadata: { ...o.metadata, creationTimestamp: undefined, managedFields: undefined } };
  t.same(seen(listed.find((o) => o.metadata.name === 'a')), seen(await target.get(isvc('a', 'production', ''))), 'the same object as get reads');
  s.fail = (r) => (r.method === 'GET' && /\/inferenceservices$/.test(r.path) ? 503 : undefined);
  const e = await externalError(target.list(ref));
  t.equal(e.message, 'kubernetes: list InferenceService in ml-serving: injected fault: 503 ServiceUnavailable');
  t.match(e.details, { status: 503, retryable: true });
});

t.test('get and remove', async (t) => {
  const { s, target } = await setup(t);
  const obj = isvc('fraud-detector', 'production', 's3://m/1');
  t.equal(await target.get(obj), undefined, 'absent: undefined');
  await target.apply(obj);
  t.equal((await target.get(obj))!.metadata.name, 'fraud-detector');
  await target.remove(obj);
  t.equal(await target.get(obj), undefined);
  const deletes = () => s.writes().filter((w) => w.method === 'DELETE').map((w) => w.status);
  await target.remove(obj);
  t.same(deletes(), [200, 404], 'removing what is already gone succeeds (idempotent)');
});

t.test('a field owned by another manager: 409 naming the manager and the field, not retryable; force only when asked', async (t) => {
  const { s, target } = await setup(t);
  await target.apply(isvc('fraud-detector', 'production', 's3://m/1', 'ml-serving', { minReplicas: 2 }));
  await s.controller.idle();
  // an on-call engineer scales it by hand: kubectl edit records itself as field manager kubectl-edit
  const res = await fetch(`${s.url}/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/fraud-detector?fieldManager=kubectl-edit`, {
    method: 'PATCH', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ spec: { predictor: { minReplicas: 6 } } }),
  });
  t.equal(res.status, 200);
  const writes = s.writes().length;
  const e = await externalError(target.apply(isvc('fraud-detector', 'production', 's3://m/2', 'ml-serving', { minReplicas: 2 })));
  t.equal(e.system, 'kubernetes');
  t.equal(e.operation, 'apply InferenceService ml-serving/fraud-detector');
  t.equal(e.details.status, 409);
  t.equal(e.details.retryable, false);
  t.match(e.message, 'kubernetes: apply InferenceService ml-serving/fraud-detector: conflict with another field manager: "kubectl-edit" owns .spec.predictor.minReplicas');
  t.match(e.details.hint, /"kubectl-edit"/);
  t.equal(s.writes().length, writes + 1, 'one attempt, not forced');
  t.equal(s.writes().at(-1)!.query.force, 'false');
  t.equal(s.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', 'fraud-detector')!.spec.predictor.minReplicas, 6, 'their value stays');

  const forced = await target.apply(isvc('fraud-detector', 'production', 's3://m/2', 'ml-serving', { minReplicas: 2 }), { force: true });
  t.equal(s.writes().at(-1)!.query.force, 'true');
  t.equal((forced.spec as any).predictor.minReplicas, 2);
});

t.test('conflictOwners reads causes, or the message when there are none', async (t) => {
  t.same([...conflictOwners({ details: { causes: [{ type: 'FieldManagerConflict', message: 'conflict with "helm" using apps/v1', field: '.spec.a' }, { type: 'FieldManagerConflict', message: 'conflict with "helm" using apps/v1', field: '.spec.b' }] } })],
    [['helm', ['.spec.a', '.spec.b']]]);
  t.same([...conflictOwners({ message: 'Apply failed with 2 conflicts: conflicts with "argocd":\n- .spec.a\n- .spec.b' })], [['argocd', ['.spec.a', '.spec.b']]]);
  t.same([...conflictOwners({ message: 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .spec.c' })], [['kubectl-edit', ['.spec.c']]]);
});

t.test('errors: 401 and 403 are final with hints; 429 and 5xx are retryable; timeouts and refused connections too', async (t) => {
  const { s, target } = await setup(t, {}, 300);
  const obj = isvc('fraud-detector', 'production', 's3://m/1');

  const wrong = KubernetesTarget.connect({ kind: 'server', server: s.url, token: 'wrong' });
  const unauthorized = await externalError(wrong.listManaged('ml-serving', 'production'));
  t.match(unauthorized.details, { status: 401, retryable: false, hint: /credentials/ });

  s.fail = (r) => (r.method === 'PATCH' ? 403 : undefined);
  t.match((await externalError(target.apply(obj))).details, { status: 403, retryable: false, hint: /RBAC/ });
  s.fail = (r) => (r.method === 'PATCH' ? { status: 429, retryAfterSeconds: 3 } : undefined);
  t.match((await externalError(target.apply(obj))).details, { status: 429, retryable: true, hint: /retry after 3 s/ });
  for (const code of [500, 503, 504]) {
    s.fail = (r) => (r.method === 'PATCH' ? code : undefined);
    t.match((await externalError(target.apply(obj))).details, { status: code, retryable: true }, `${code} retryable`);
  }
  s.fail = (r) => (r.method === 'GET' && /\/inferenceservices$/.test(r.path) ? 500 : undefined);
  t.match((await externalError(target.listManaged('ml-serving', 'production'))).details, { status: 500, retryable: true });
  s.fail = undefined;

  const invalid = await externalError(target.apply({ ...obj, metadata: { ...obj.metadata, labels: { [labels.model]: 'x'.repeat(70) } } }));
  t.match(invalid.details, { status: 422, retryable: false });
  t.match(invalid.message, /is invalid: metadata.labels/);

  s.latencyMs = (r) => (r.method === 'PATCH' ? 2_000 : undefined);
  const slow = await externalError(target.apply(obj));
  t.match(slow, { message: /no answer within 300 ms/, details: { retryable: true } });
  s.latencyMs = undefined;

  const port = s.port;
  await s.stop();
  const refused = await externalError(KubernetesTarget.connect({ kind: 'server', server: `http://127.0.0.1:${port}`, token: 't' }).get(obj));
  t.match(refused.details, { retryable: true });
  t.match(refused.message, /ECONNREFUSED/);
});

t.test('dry run validates and merges without storing', async (t) => {
  const { s, target } = await setup(t);
  const result = await target.apply(isvc('fraud-detector', 'production', 's3://m/1'), { dryRun: true });
  t.equal(result.metadata.name, 'fraud-detector');
  t.equal(s.writes()[0]!.query.dryRun, 'All');
  t.equal(await target.get(isvc('fraud-detector', 'production', '')), undefined);
});

const tls = await selfSignedCertificate();

t.test('connections: a kubeconfig file with a context, HTTPS verified against the cluster CA', { skip: tls ? false : 'openssl is not installed: no certificate for HTTPS' }, async (t) => {
  if (!tls) return;
  const s = await startKubernetesStandIn({ namespaces: ['ml-serving'], tls });
  t.teardown(() => s.stop());
  const caData = Buffer.from(tls.cert).toString('base64');
  const viaServer = KubernetesTarget.connect({ kind: 'server', server: s.url, token: s.token!, caData });
  await viaServer.apply(isvc('fraud-detector', 'production', 's3://m/1'));

  const dir = await mkdtemp(join(tmpdir(), 'modelship-kubeconfig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config');
  await writeFile(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: other',
    'clusters:', `- name: sandbox`, `  cluster: {server: "${s.url}", certificate-authority-data: "${caData}"}`,
    'users:', `- name: agent`, `  user: {token: "${s.token}"}`,
    'contexts:', '- name: sandbox', '  context: {cluster: sandbox, user: agent}', '- name: other', '  context: {cluster: sandbox, user: nobody}',
  ].join('\n'));
  const viaFile = KubernetesTarget.connect({ kind: 'kubeconfig', path: file, context: 'sandbox' });
  t.equal((await viaFile.listManaged('ml-serving', 'production')).length, 1);
  const untrusted = KubernetesTarget.connect({ kind: 'server', server: s.url, token: s.token! });
  const refused = await externalError(untrusted.get(isvc('fraud-detector', 'production', '')));
  t.match(refused.message, /SELF_SIGNED|certificate/);
  t.match(refused.details, { retryable: false, hint: /not trusted/ }, 'an unknown CA is refused, with a hint');
});

t.test('in-cluster configuration outside a pod is a clear error', async (t) => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  delete process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_PORT;
  t.teardown(() => {
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
  });
  t.throws(() => loadKubeConfig({ kind: 'in-cluster' }), { name: 'ExternalError', message: /KUBERNETES_SERVICE_HOST/ });
});

// Rendering the example repository's environments into Kubernetes objects: staging (serverless,
// KServe's own canary) and production (raw: per-version InferenceServices behind an HTTPRoute).
// Every InferenceService is checked against KServe's CRD schema, with unknown fields refused the
// way server-side apply's strict field validation refuses them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import t, { type Test } from 'tap';
import { parse, stringify } from 'yaml';
import type { Deployment, Environment, ModelCard, VersionManifest } from '../../src/config/types.js';
import { ValidationError } from '../../src/errors.js';
import { canonicalJson, liveSpecHash, renderedMetadataKeys, specHash } from '../../src/sync/render/hash.js';
import { inferenceServiceName, maxInferenceServiceName, predictorServiceName, renderKubernetes, type OnlineModel } from '../../src/sync/render/kubernetes.js';
import type { KubernetesObject, LiveKubernetesObject } from '../../src/sync/types.js';
import { projectRoot } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';

const read = <T>(path: string): T => parse(readFileSync(join(projectRoot, path), 'utf8')) as T;
const card = (model: string) => read<ModelCard>(`models/${model}/model.yaml`);
const manifest = (model: string, version: string) => read<VersionManifest>(`models/${model}/versions/${version}.yaml`);
const commitA = '0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4';
const commitB = '9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3';

/** The example environment, with its fraud-detector deployment changed as a scenario needs. */
function environment(name: 'staging' | 'production', change: Partial<Deployment> = {}): Environment {
  const env = read<Environment>(`environments/${name}.yaml`);
  env.models['fraud-detector'] = { ...env.models['fraud-detector']!, ...change };
  return env;
}

/** The same without prediction logging (environments/<env>.yaml `inferenceLog`). */
function unlogged(env: Environment): Environment {
  delete env.inferenceLog;
  return env;
}

function models(env: Environment): OnlineModel[] {
  return Object.entries(env.models).map(([model, deployment]) => {
    const versions: Record<string, VersionManifest> = {};
    for (const v of [deployment.version, deployment.canary?.version, deployment.shadow?.version]) if (v) versions[v] = manifest(model, v);
    return { card: card(model), deployment, versions };
  });
}

function render(name: 'staging' | 'production', env: Environment, commit = commitA): KubernetesObject[] {
  return renderKubernetes({ environment: name, env, commit, models: models(env) });
}

const toYaml = (objects: KubernetesObject[]) => objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
const kinds = (objects: KubernetesObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);
const isvcs = (objects: KubernetesObject[]) => objects.filter((o) => o.kind === 'InferenceService');
const route = (objects: KubernetesObject[]) => objects.find((o) => o.kind === 'HTTPRoute')!;
const predictor = (o: KubernetesObject) => o.spec.predictor as Record<string, any>;

// Production as in the example repository scales on concurrency, which raw mode cannot (see the
// test below); the raw scenarios use a CPU target instead.
const productionCpu: Pick<Deployment, 'online'> = { online: { replicas: { min: 4, max: 20 }, scaleMetric: 'cpu', scaleTarget: 70 } };

// KServe's CRD schema. Kubernetes prunes unknown fields of a structural schema, and server-side
// apply with strict field validation (kubectl's default) refuses them: every object schema
// without additionalProperties or x-kubernetes-preserve-unknown-fields gets additionalProperties
// false, so a misplaced field fails here as it would on the cluster.
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const s = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, ps]) => [p, strict(ps)])) : strict(v)]));
  if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) s.additionalProperties = false;
  return s;
}
const ajv = new Ajv({ strict: false, allErrors: true });
(((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv) => void)(ajv);
const validateIsvc: ValidateFunction = ajv.compile(strict(JSON.parse(readFileSync(join(projectRoot, 'test/fixtures/kserve/inferenceservice-v1beta1.schema.json'), 'utf8'))) as object);
function crdErrors(o: unknown): string[] {
  return validateIsvc(o) ? [] : (validateIsvc.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** The ValidationError a render is refused with. */
function refusal(render: () => unknown): ValidationError {
  try {
    render();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('the render was not refused');
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** What the API server and KServe's webhook would check beyond the schema: names, labels, annotations. */
function checkObject(t: Test, o: KubernetesObject): void {
  t.ok(dns1123Label.test(o.metadata.name) && o.metadata.name.length <= 63, `${o.kind} name ${o.metadata.name} is a DNS-1123 label`);
  if (o.kind === 'InferenceService') {
    t.ok(o.metadata.name.length <= maxInferenceServiceName, `${o.metadata.name} fits KServe's derived names`);
    t.ok(/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name), 'KServe accepts the InferenceService name');
    t.same(crdErrors(o), [], `${o.metadata.name} is valid against KServe's CRD schema`);
  }
  for (const [k, v] of Object.entries(o.metadata.labels)) t.ok(labelValue.test(v) && v.length <= 63, `label ${k}=${v} is a valid label value`);
  for (const k of Object.keys(o.metadata.labels)) t.ok(k.startsWith('modelship.io/') || renderedMetadataKeys.labels.has(k), `label ${k} is one the live hash knows`);
  for (const k of Object.keys(o.metadata.annotations)) t.ok(k.startsWith('modelship.io/') || renderedMetadataKeys.annotations.has(k), `annotation ${k} is one the live hash knows`);
  t.equal(o.metadata.annotations['modelship.io/spec-hash'], specHash(o), 'the spec-hash annotation is the hash of the object');
}

t.test('staging (serverless): one InferenceService named after the model, the verified artifact, replicas from the environment', async (t) => {
  const objects = render('staging', environment('staging'));
  t.same(kinds(objects), ['InferenceService/fraud-detector'], 'chargeback-risk is batch-only: nothing online');
  const [isvc] = objects as [KubernetesObject];
  const v = manifest('fraud-detector', '2026.11.13-1');
  t.match(isvc, {
    apiVersion: 'serving.kserve.io/v1beta1',
    metadata: {
      namespace: 'ml-staging',
      labels: { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/environment': 'staging', 'modelship.io/model': 'fraud-detector' },
      annotations: { 'serving.kserve.io/deploymentMode': 'Serverless', 'modelship.io/version': '2026.11.13-1', 'modelship.io/commit': commitA, 'modelship.io/spec-hash': /^[0-9a-f]{64}$/ },
    },
  });
  t.same(predictor(isvc), {
    minReplicas: 1, maxReplicas: 3, timeout: 2,
    model: {
      modelFormat: { name: 'xgboost', version: '2' }, runtime: 'kserve-xgbserver', protocolVersion: 'v2',
      storageUri: v.artifact.uri, image: v.image, args: ['--model_name=fraud-detector'],
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '4Gi' } },
    },
  });
  for (const o of objects) checkObject(t, o);
  golden(t, 'sync/staging-serverless.yaml', toYaml(objects));
});

t.test('staging canary (serverless): storageUri is the canary, canaryTrafficPercent its share; KServe keeps the rolled-out stable revision', async (t) => {
  const objects = render('staging', environment('staging', { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } }));
  t.same(kinds(objects), ['InferenceService/fraud-detector'], 'still one InferenceService: the stable is its previous revision');
  const [isvc] = objects as [KubernetesObject];
  t.equal(predictor(isvc).canaryTrafficPercent, 10);
  t.equal(predictor(isvc).model.storageUri, manifest('fraud-detector', '2026.11.13-1').artifact.uri, 'the newest revision runs the canary');
  t.equal(isvc.metadata.annotations['modelship.io/version'], '2026.11.13-1', 'the version annotation names what the spec runs');
  for (const o of objects) checkObject(t, o);
  golden(t, 'sync/staging-serverless-canary.yaml', toYaml(objects));

  // Promotion: the canary becomes the version; storageUri stays, the percentage goes.
  const [promoted] = render('staging', environment('staging', { version: '2026.11.13-1' })) as [KubernetesObject];
  t.equal(predictor(promoted).model.storageUri, predictor(isvc).model.storageUri, 'promotion does not change what runs');
  t.notOk('canaryTrafficPercent' in predictor(promoted), 'all traffic to the latest revision');
  // Rollback at once: traffic 0 sends everything back to the previous revision without new pods.
  const [rolledBack] = render('staging', environment('staging', { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 0 } })) as [KubernetesObject];
  t.equal(predictor(rolledBack).canaryTrafficPercent, 0);
  t.same(crdErrors(rolledBack), []);
});

t.test('an autoscaling metric the mode cannot use is refused (validate reports it first; the renderer does not trust that)', async (t) => {
  t.match(refusal(() => render('production', environment('production', { online: { replicas: { min: 4, max: 20 }, scaleMetric: 'concurrency', scaleTarget: 40 } }))), {
    message: /environments\/production\.yaml: models\.fraud-detector\.online\.scaleMetric: raw mode scales fraud-detector with a HorizontalPodAutoscaler, which knows cpu and memory only; concurrency needs kubernetes\.mode serverless/,
    problems: [{ file: 'environments/production.yaml', path: 'models.fraud-detector.online.scaleMetric', expected: 'cpu or memory', found: 'concurrency' }],
  });
  t.throws(() => render('staging', environment('staging', { online: { replicas: { min: 1, max: 3 }, scaleMetric: 'cpu' } })),
    { message: /serverless mode scales fraud-detector with Knative's autoscaler, which knows concurrency and rps only/ });
  t.match(refusal(() => render('production', environment('production', { online: { replicas: { min: 1, max: 3 }, scaleMetric: 'cpu', scaleTarget: 150 } }))),
    { problems: [{ path: 'models.fraud-detector.online.scaleTarget', expected: 'an integer from 1 to 100', found: '150' }] });
});

t.test('production (raw), stable only: a version-named InferenceService behind an HTTPRoute on the gateway', async (t) => {
  const objects = render('production', environment('production', productionCpu));
  const stable = inferenceServiceName('raw', 'fraud-detector', '2026.11.06-1');
  t.match(stable, /^fraud-detector-2026-11-06-1-[0-9a-f]{6}$/);
  t.same(kinds(objects), [`InferenceService/${stable}`, 'HTTPRoute/fraud-detector']);
  const [isvc] = objects as [KubernetesObject];
  t.match(isvc.metadata, { labels: { 'networking.kserve.io/visibility': 'cluster-local' }, annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } });
  t.match(predictor(isvc), { minReplicas: 4, maxReplicas: 20, scaleMetric: 'cpu', scaleTarget: 70, model: { storageUri: manifest('fraud-detector', '2026.11.06-1').artifact.uri, args: ['--model_name=fraud-detector'] } });
  t.same(route(objects).spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateway-system', name: 'ml-gateway' }],
    hostnames: ['models.acmerisk.internal'],
    rules: [{
      matches: [{ path: { type: 'PathPrefix', value: '/v2/models/fraud-detector' } }],
      backendRefs: [{ group: '', kind: 'Service', name: predictorServiceName(stable), port: 80, weight: 100 }],
    }],
  });
  t.equal(route(objects).metadata.annotations['modelship.io/version'], '2026.11.06-1');
  for (const o of objects) checkObject(t, o);
  golden(t, 'sync/production-raw.yaml', toYaml(objects));
});

t.test('production canary at 5% (raw, no prediction log): a second InferenceService and 95/5 weights; the stable one is untouched', async (t) => {
  const before = render('production', unlogged(environment('production', productionCpu)));
  const objects = render('production', unlogged(environment('production', { ...productionCpu, canary: { version: '2026.11.13-1', traffic: 5 } })));
  const stable = inferenceServiceName('raw', 'fraud-detector', '2026.11.06-1');
  const canary = inferenceServiceName('raw', 'fraud-detector', '2026.11.13-1');
  t.same(kinds(objects), [`InferenceService/${stable}`, `InferenceService/${canary}`, 'HTTPRoute/fraud-detector']);
  t.same(objects[0], before[0], 'adding a canary leaves the stable InferenceService as it was: no write, no restart');
  t.same((route(objects).spec.rules as any[])[0].backendRefs.map((b: any) => [b.name, b.weight]), [[`${stable}-predictor`, 95], [`${canary}-predictor`, 5]]);
  t.notOk('canaryTrafficPercent' in predictor(objects[1]!), 'raw mode splits traffic in the route, not in KServe');
  t.equal(predictor(objects[1]!).model.storageUri, manifest('fraud-detector', '2026.11.13-1').artifact.uri);
  t.equal(predictor(objects[1]!).minReplicas, 4, 'the canary is sized to take all traffic when promoted');
  for (const o of objects) checkObject(t, o);
  golden(t, 'sync/production-raw-canary.yaml', toYaml(objects));

  // Promotion: the canary's InferenceService is kept as it is, the route moves, the old stable goes.
  const promoted = render('production', unlogged(environment('production', { ...productionCpu, version: '2026.11.13-1' })));
  t.same(kinds(promoted), [`InferenceService/${canary}`, 'HTTPRoute/fraud-detector']);
  t.same(promoted[0], objects[1], 'promoting the canary does not touch its InferenceService');
  t.same((route(promoted).spec.rules as any[])[0].backendRefs, [{ group: '', kind: 'Service', name: `${canary}-predictor`, port: 80, weight: 100 }]);
});

t.test('production shadow (raw): the shadow gets a mirrored copy of every request and no weight', async (t) => {
  const objects = render('production', unlogged(environment('production', { ...productionCpu, shadow: { version: '2026.11.13-1' } })));
  const stable = inferenceServiceName('raw', 'fraud-detector', '2026.11.06-1');
  const shadow = inferenceServiceName('raw', 'fraud-detector', '2026.11.13-1');
  t.same(kinds(objects), [`InferenceService/${stable}`, `InferenceService/${shadow}`, 'HTTPRoute/fraud-detector']);
  const [rule] = route(objects).spec.rules as [any];
  t.same(rule.filters, [{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: `${shadow}-predictor`, port: 80 } } }]);
  t.same(rule.backendRefs.map((b: any) => b.name), [`${stable}-predictor`], 'the shadow answers nobody');
  for (const o of objects) checkObject(t, o);
  golden(t, 'sync/production-raw-shadow.yaml', toYaml(objects));

  const both = render('production', environment('production', { ...productionCpu, canary: { version: '2026.11.13-1', traffic: 5 }, shadow: { version: '2026.10.30-1' } }));
  t.equal(isvcs(both).length, 3, 'stable, canary and shadow side by side');
  for (const o of both) checkObject(t, o);
});

t.test('prediction log (raw): while a canary or shadow runs, the champion and the candidate both log every request and answer to the sink', async (t) => {
  const env = environment('production', { ...productionCpu, canary: { version: '2026.11.13-1', traffic: 5 } });
  t.equal(env.inferenceLog?.sink, 'http://inference-log-sink.ml-logging.svc.cluster.local/', 'the example production environment names a sink');
  const logger = { mode: 'all', url: 'http://inference-log-sink.ml-logging.svc.cluster.local/', metadataAnnotations: ['modelship.io/version'] };
  const canary = render('production', env);
  t.equal(isvcs(canary).length, 2);
  for (const o of isvcs(canary)) t.same(predictor(o).logger, logger, `${o.metadata.annotations['modelship.io/version']} logs to the sink`);
  for (const o of canary) checkObject(t, o);

  const shadow = render('production', environment('production', { ...productionCpu, shadow: { version: '2026.11.13-1' } }));
  t.same(isvcs(shadow).map((o) => [o.metadata.annotations['modelship.io/version'], predictor(o).logger]),
    [['2026.11.06-1', logger], ['2026.11.13-1', logger]], 'the champion and the shadow');
  for (const o of shadow) checkObject(t, o);
  golden(t, 'sync/production-raw-shadow-logged.yaml', toYaml(shadow));

  // No experiment, no log: the stable alone does not log (the logger comes and goes with the
  // experiment, and each change rolls the predictors' pods; README, "Prediction logs").
  const alone = render('production', environment('production', productionCpu));
  t.notOk('logger' in predictor(isvcs(alone)[0]!), 'nothing runs beside the stable: no logger');
  const without = render('production', unlogged(environment('production', { ...productionCpu, shadow: { version: '2026.11.13-1' } })));
  for (const o of isvcs(without)) t.notOk('logger' in predictor(o), 'no inferenceLog in the environment: no logger');

  // The CRD check bites on the logger too: a mode KServe does not know is refused.
  const bad = structuredClone(isvcs(shadow)[0]!);
  (predictor(bad).logger as Record<string, unknown>).mode = 'everything';
  t.match(crdErrors(bad).join('\n'), /\/spec\/predictor\/logger\/mode must be equal to one of the allowed values/);
  const misplaced = structuredClone(isvcs(shadow)[0]!);
  (predictor(misplaced).logger as Record<string, unknown>).sink = 'http://x/';
  t.match(crdErrors(misplaced).join('\n'), /\/spec\/predictor\/logger must NOT have additional properties/);
});

t.test('prediction log (serverless): always on, since KServe serves the stable share of a canary with the revision rolled out before it', async (t) => {
  const env = environment('staging', { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } });
  env.inferenceLog = { sink: 'https://log-sink.example.internal:8443/kserve', table: 'ANALYTICS.INFERENCE.STAGING_LOG' };
  const [isvc] = render('staging', env) as [KubernetesObject];
  t.same(predictor(isvc).logger, { mode: 'all', url: 'https://log-sink.example.internal:8443/kserve', metadataAnnotations: ['modelship.io/version'] });
  checkObject(t, isvc);
  const plain = environment('staging');
  plain.inferenceLog = env.inferenceLog;
  const [stable] = render('staging', plain) as [KubernetesObject];
  t.same(predictor(stable).logger, predictor(isvc).logger, 'the stable revision logs before any canary starts');
});

t.test('the schema check bites: wrong types, misplaced fields and bad quantities are refused', async (t) => {
  const [good] = render('staging', environment('staging')) as [KubernetesObject];
  t.same(crdErrors(good), []);
  const broken = (edit: (p: Record<string, any>) => void) => {
    const o = structuredClone(good);
    edit(predictor(o));
    return crdErrors(o);
  };
  t.match(broken((p) => { p.minReplicas = 'two'; }), ['/spec/predictor/minReplicas must be integer']);
  t.match(broken((p) => { p.model.storageURI = p.model.storageUri; }), ['/spec/predictor/model must NOT have additional properties']);
  t.match(broken((p) => { p.model.resources.requests.cpu = 'lots'; }), [/\/spec\/predictor\/model\/resources\/requests\/cpu must match pattern/]);
  t.match(broken((p) => { p.scaleMetric = 'latency'; }), ['/spec/predictor/scaleMetric must be equal to one of the allowed values']);
  t.match(broken((p) => { delete p.model.modelFormat.name; }), ["/spec/predictor/model/modelFormat must have required property 'name'"]);
  const noPredictor = structuredClone(good);
  delete noPredictor.spec.predictor;
  t.match(crdErrors(noPredictor), ["/spec must have required property 'predictor'"]);
});

t.test('spec hash: the same for a new commit that changes nothing, different when the version changes', async (t) => {
  const a = render('production', environment('production', productionCpu), commitA);
  const b = render('production', environment('production', productionCpu), commitB);
  for (const [x, y] of a.map((o, i) => [o, b[i]!] as const)) {
    t.equal(x.metadata.annotations['modelship.io/commit'], commitA);
    t.equal(y.metadata.annotations['modelship.io/commit'], commitB);
    t.equal(x.metadata.annotations['modelship.io/spec-hash'], y.metadata.annotations['modelship.io/spec-hash'], `${x.kind} hash ignores the commit`);
  }
  const next = render('production', environment('production', { ...productionCpu, version: '2026.11.13-1' }));
  t.not(route(next).metadata.annotations['modelship.io/spec-hash'], route(a).metadata.annotations['modelship.io/spec-hash'], 'the route changes with the version');
  const [s1] = render('staging', environment('staging'), commitA) as [KubernetesObject];
  const [s2] = render('staging', environment('staging', { version: '2026.11.06-1' }), commitB) as [KubernetesObject];
  t.not(s1.metadata.annotations['modelship.io/spec-hash'], s2.metadata.annotations['modelship.io/spec-hash'], 'serverless: a new version is a new hash');
  t.equal(render('staging', environment('staging'), commitB)[0]!.metadata.annotations['modelship.io/spec-hash'], s1.metadata.annotations['modelship.io/spec-hash']);
});

t.test('live hash: what modelship applied reads back the same despite server defaults and other managers; a hand edit shows', async (t) => {
  const [desired, desiredRoute] = render('production', environment('production', productionCpu)) as [KubernetesObject, KubernetesObject];
  const want = desired.metadata.annotations['modelship.io/spec-hash'];
  // managedFields as the API server writes them for modelship's apply: every leaf it sent.
  const fieldsOf = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [`f:${k}`, fieldsOf(x)])) : {});
  const live: LiveKubernetesObject = structuredClone({
    ...desired,
    metadata: {
      ...desired.metadata,
      labels: { ...desired.metadata.labels, 'team.acme/cost-center': 'fraud' },
      annotations: { ...desired.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' },
      managedFields: [
        { manager: 'modelship', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, ...fieldsOf(desired.metadata.labels) }, 'f:annotations': fieldsOf(desired.metadata.annotations) }, 'f:spec': fieldsOf(desired.spec) } },
        { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team.acme/cost-center': {} } } } },
      ],
    },
  });
  // The KServe webhook fills in defaults modelship did not send.
  (live.spec as any).predictor.model.resources.requests['ephemeral-storage'] = '1Gi';
  (live.spec as any).predictor.containerConcurrency = 0;
  t.equal(liveSpecHash(live), want, 'defaults and foreign fields are not drift');
  const edited = structuredClone(live);
  (edited.spec as any).predictor.model.storageUri = 's3://acme-model-registry/fraud-detector/tampered/model.json';
  t.not(liveSpecHash(edited), want, 'an owned field changed by hand is drift');
  const relabelled = structuredClone(live);
  relabelled.metadata.labels!['modelship.io/model'] = 'other';
  t.not(liveSpecHash(relabelled), want);

  // Associative lists (k:) and sets (v:) in managedFields: only modelship's items count.
  const fd = card('fraud-detector');
  const mlserver = { ...fd, serving: { ...fd.serving, online: { ...fd.serving.online!, runtime: 'kserve-mlserver' } } };
  const env = environment('production', productionCpu);
  const [ml] = renderKubernetes({ environment: 'production', env, commit: commitA, models: [{ card: mlserver, deployment: env.models['fraud-detector']!, versions: { '2026.11.06-1': manifest('fraud-detector', '2026.11.06-1') } }] }) as [KubernetesObject];
  const mlLive = structuredClone(ml) as LiveKubernetesObject;
  (mlLive.spec as any).predictor.model.env.push({ name: 'INJECTED_BY_WEBHOOK', value: '1' });
  (mlLive.spec as any).predictor.model.args = ['--verbose'];
  const mlFields = fieldsOf(ml.spec) as any;
  mlFields['f:predictor']['f:model']['f:env'] = { 'k:{"name":"MLSERVER_MODEL_NAME"}': { '.': {}, 'f:name': {}, 'f:value': {} } };
  mlFields['f:predictor']['f:model']['f:args'] = { 'v:"--verbose"': {} };
  mlLive.metadata.managedFields = [{ manager: 'modelship', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': fieldsOf(ml.metadata.labels), 'f:annotations': fieldsOf(ml.metadata.annotations) }, 'f:spec': mlFields } }];
  const mlOwned = structuredClone(ml);
  (mlOwned.spec as any).predictor.model.args = ['--verbose'];
  t.equal(liveSpecHash(mlLive), specHash(mlOwned), 'list items another manager added are not modelship\'s');
  (mlLive.spec as any).predictor.model.env[0].value = 'renamed';
  t.not(liveSpecHash(mlLive), specHash(mlOwned), 'a changed item of its own is');

  // Without managedFields (an older server, a stand-in): spec and the labels/annotations modelship writes.
  const bare: LiveKubernetesObject = structuredClone({ ...desiredRoute, metadata: { ...desiredRoute.metadata, annotations: { ...desiredRoute.metadata.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } });
  t.equal(liveSpecHash(bare), desiredRoute.metadata.annotations['modelship.io/spec-hash']);
});

t.test('canonical JSON is RFC 8785: its sorting and serialisation examples', async (t) => {
  // RFC 8785 §3.2.3: keys sort by UTF-16 code units (the emoji's surrogate pair before U+FB33).
  const sorted = canonicalJson(JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}'));
  // (read off the text: a parsed object would put the integer-like key "1" first again)
  t.same([...sorted.matchAll(/":"([^"]+)"/g)].map((m) => m[1]), ['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh']);
  // RFC 8785 §3.2.2 (the example of its Appendix/§3.2.4 output).
  t.equal(canonicalJson(JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}')),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  t.throws(() => canonicalJson({ a: Number.NaN }), /cannot carry the number NaN/);
  t.throws(() => canonicalJson({ a: new Date(0) }), /cannot carry a value of type Date/);
  t.equal(canonicalJson({ b: 1, a: undefined }), '{"b":1}', 'an absent property is absent, as in JSON.stringify');
});

t.test('names: DNS-1123 labels within 63 for the longest model name and version; lookalike versions stay apart', async (t) => {
  const longModel = `m${'x'.repeat(39)}`;
  const longVersion = `2026.11.20-${'9'.repeat(52)}`;
  t.equal(longModel.length, 40);
  t.equal(longVersion.length, 63);
  const name = inferenceServiceName('raw', longModel, longVersion);
  t.ok(name.length <= maxInferenceServiceName && dns1123Label.test(name), name);
  t.ok(predictorServiceName(name).length <= 63, 'and so is the predictor Service KServe creates');
  t.ok(`isvc.${predictorServiceName(name)}`.length <= 63, "and KServe raw mode's app label value");
  t.ok(`${predictorServiceName(name)}-00001`.length <= 63, "and a Knative revision's name");
  t.equal(inferenceServiceName('serverless', longModel, longVersion), longModel);
  t.not(inferenceServiceName('raw', 'fraud-detector', '1.0'), inferenceServiceName('raw', 'fraud-detector', '1-0'));
  t.not(inferenceServiceName('raw', 'fraud-detector', 'V2'), inferenceServiceName('raw', 'fraud-detector', 'v2'));
  t.equal(inferenceServiceName('raw', 'fraud-detector', '2026.11.06-1'), inferenceServiceName('raw', 'fraud-detector', '2026.11.06-1'), 'deterministic');
  for (const model of ['a', 'fraud-detector', longModel]) {
    for (const version of ['1', '2026.11.06-1', longVersion, '_.-x', 'A.B_C']) {
      const n = inferenceServiceName('raw', model, version);
      t.ok(n.length <= maxInferenceServiceName && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(n), `${model}@${version} -> ${n}`);
    }
  }

  // A whole render with the longest names is valid too.
  const env = environment('production', productionCpu);
  const fd = card('fraud-detector');
  const v = manifest('fraud-detector', '2026.11.06-1');
  const objects = renderKubernetes({
    environment: 'production', env, commit: commitA,
    models: [{ card: { ...fd, name: longModel }, deployment: { version: longVersion, online: productionCpu.online }, versions: { [longVersion]: { ...v, model: longModel, version: longVersion } } }],
  });
  for (const o of objects) checkObject(t, o);
  t.equal(objects.find((o) => o.kind === 'InferenceService')!.metadata.annotations['modelship.io/version'], longVersion);
});

t.test('deterministic: the order models come in does not matter', async (t) => {
  const env = environment('production', productionCpu);
  const ms = models(env);
  ms.push({ card: { ...card('fraud-detector'), name: 'aml-screening' }, deployment: { version: '2026.11.06-1', online: { replicas: { min: 1, max: 2 } } }, versions: { '2026.11.06-1': manifest('fraud-detector', '2026.11.06-1') } });
  const forward = renderKubernetes({ environment: 'production', env, commit: commitA, models: ms });
  const backward = renderKubernetes({ environment: 'production', env, commit: commitA, models: [...ms].reverse() });
  t.same(backward, forward);
  t.same(kinds(forward).map((k) => k.replace(/-[0-9a-f]{6}$/, '')), [
    'InferenceService/aml-screening-2026-11-06-1', 'HTTPRoute/aml-screening', 'InferenceService/fraud-detector-2026-11-06-1', 'HTTPRoute/fraud-detector',
  ]);
  t.same(renderKubernetes({ environment: 'production', env: { ...env, kubernetes: undefined }, commit: commitA, models: ms }), [], 'no kubernetes settings, no objects');
});

t.test('protocol v1: exact paths, since a PathPrefix would not match /v1/models/<model>:predict; serverless lets KServe pick a runtime', async (t) => {
  const fd = card('fraud-detector');
  const v1 = { ...fd, serving: { ...fd.serving, online: { ...fd.serving.online!, protocolVersion: 'v1' as const } } };
  const env = environment('production', productionCpu);
  const objects = renderKubernetes({ environment: 'production', env, commit: commitA, models: [{ card: v1, deployment: env.models['fraud-detector']!, versions: { '2026.11.06-1': manifest('fraud-detector', '2026.11.06-1') } }] });
  t.same((route(objects).spec.rules as any[])[0].matches, [
    { path: { type: 'Exact', value: '/v1/models/fraud-detector' } },
    { path: { type: 'Exact', value: '/v1/models/fraud-detector:predict' } },
  ]);
  const staging = environment('staging');
  const auto = { ...fd, serving: { ...fd.serving, online: { ...fd.serving.online!, runtime: undefined } } };
  const [isvc] = renderKubernetes({ environment: 'staging', env: staging, commit: commitA, models: [{ card: auto, deployment: staging.models['fraud-detector']!, versions: { '2026.11.13-1': manifest('fraud-detector', '2026.11.13-1') } }] }) as [KubernetesObject];
  t.notOk('runtime' in predictor(isvc).model || 'args' in predictor(isvc).model, 'the InferenceService is named after the model, so the runtime serves it under that name');
  t.same(crdErrors(isvc), []);
});

t.test('what cannot be rendered is refused with the file and field to fix', async (t) => {
  t.match(refusal(() => render('production', environment('production', { ...productionCpu, canary: { version: '2026.11.13-1', traffic: 5 }, shadow: { version: '2026.11.13-1' } }))),
    { problems: [{ path: 'models.fraud-detector', message: 'the stable, canary and shadow versions must all differ' }] });
  t.match(refusal(() => render('staging', environment('staging', { shadow: { version: '2026.11.06-1' } }))),
    { problems: [{ path: 'models.fraud-detector.shadow', message: /serverless KServe cannot mirror requests/ }] });
  const noGateway = environment('production', productionCpu);
  delete noGateway.kubernetes!.gateway;
  t.match(refusal(() => render('production', noGateway)), { problems: [{ file: 'environments/production.yaml', path: 'kubernetes', expected: 'key "gateway"' }] });
  const env = environment('production', productionCpu);
  const fd = card('fraud-detector');
  const noRuntime = { ...fd, serving: { ...fd.serving, online: { ...fd.serving.online!, runtime: undefined } } };
  const input = (c: ModelCard) => ({ environment: 'production', env, commit: commitA, models: [{ card: c, deployment: env.models['fraud-detector']!, versions: { '2026.11.06-1': manifest('fraud-detector', '2026.11.06-1') } }] });
  t.match(refusal(() => renderKubernetes(input(noRuntime))), { problems: [{ file: 'models/fraud-detector/model.yaml', path: 'serving.online.runtime', found: 'none (KServe would choose)' }] });
  const mlserver = { ...fd, serving: { ...fd.serving, online: { ...fd.serving.online!, runtime: 'kserve-mlserver' } } };
  t.match(predictor(renderKubernetes(input(mlserver))[0]!).model.env, [{ name: 'MLSERVER_MODEL_NAME', value: 'fraud-detector' }]);
  t.throws(() => renderKubernetes({ ...input(fd), models: [{ ...input(fd).models[0]!, versions: {} }] }), /manifest of fraud-detector@2026\.11\.06-1 was not passed in/);
  t.match(refusal(() => render('production', environment('production', { ...productionCpu, canary: { version: '2026.11.13-1', traffic: 101 } }))),
    { problems: [{ path: 'models.fraud-detector.canary.traffic', expected: 'an integer from 0 to 100', found: '101' }] });
  const batchOnly = { ...fd, serving: { batch: fd.serving.batch } };
  t.match(refusal(() => renderKubernetes(input(batchOnly))), { problems: [{ path: 'models.fraud-detector.online', message: 'fraud-detector declares no online serving in its model.yaml' }] });
});

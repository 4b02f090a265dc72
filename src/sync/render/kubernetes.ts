// What one environment should run on Kubernetes: for each model served online, KServe
// InferenceServices and, in raw mode, the Gateway API HTTPRoute that splits traffic between them.
// Pure and deterministic: models in name order; per model the InferenceServices (stable, canary,
// shadow), then the route, which is the order they can be applied in.
//
// serverless (Knative): one InferenceService named <model>. A canary is KServe's own: storageUri
// is the canary version and canaryTrafficPercent its share. The stable version is not in the
// spec at all: KServe keeps the previous rolled-out revision for the rest of the traffic, so the
// rendered canary is right only if that revision runs `deployment.version`, which is true when
// the canary starts from a rolled-out stable, as promotions through git do. Promotion (canary
// becomes `version`, `canary` removed) leaves storageUri as it is and drops the percentage: the
// running revision takes all traffic. The renderer cannot see revisions; the sync agent can
// (status.components.predictor) and must not apply a canary over a service that is not rolled out
// at the stable version. A canary at traffic 0 renders too: KServe's rollback, all traffic back
// to the previous revision at once, no new pods.
//
// raw (Standard, no Knative): one InferenceService per pinned version, named after the version
// (not after its role), and an HTTPRoute <model> with weighted backends and a RequestMirror to
// the shadow. The InferenceService of a version is the same object whatever role it plays, so
// promoting a canary changes only the route's weights (and deletes the old stable); nothing is
// rolled, and the new stable already runs at full size. Hence a canary and a shadow get the
// environment's replicas too: the canary takes all traffic the moment it is promoted, and the
// shadow receives a copy of all of it.
//
// Prediction logging (environments/<env>.yaml `inferenceLog`, README "Prediction logs"): KServe's
// request/response logger (spec.predictor.logger, mode all) posts every request and its answer to
// the environment's sink, so the champion's and the candidate's answers land in the warehouse side
// by side for the shadow gate and the canary's sample ratio check. raw: on every InferenceService
// of a model while it has a shadow or a canary (adding it, and removing it after, rolls those
// predictors' pods: a Deployment rolling update). serverless: always, because KServe's canary
// keeps serving the stable share with the previous revision, which logs only if it was rolled out
// with the logger.

import { createHash } from 'node:crypto';
import type { Deployment, Environment, ModelCard, VersionManifest } from '../../config/types.js';
import { ValidationError } from '../../errors.js';
import { annotations, labels, managerName, type KubernetesObject } from '../types.js';
import { specHash } from './hash.js';

export interface OnlineModel {
  card: ModelCard;
  deployment: Deployment;
  /** every version the deployment pins: stable, canary, shadow */
  versions: Record<string, VersionManifest>;
}

export interface KubernetesRenderInput {
  environment: string;
  env: Environment;
  commit: string;
  models: OnlineModel[];
}

/**
 * The longest InferenceService name rendered. Knative names revisions `<name>-predictor-00001`
 * and KServe raw mode labels pods `app: isvc.<name>-predictor`; both must stay within 63.
 */
export const maxInferenceServiceName = 47;

/** KServe runtimes whose served model name modelship sets (see servedModelName). */
const pythonServers = new Set(['kserve-sklearnserver', 'kserve-xgbserver', 'kserve-lgbserver', 'kserve-pmmlserver', 'kserve-paddleserver', 'kserve-huggingfaceserver']);

type Spec = Record<string, unknown>;

interface Model {
  name: string;
  environment: string;
  namespace: string;
  mode: 'serverless' | 'raw';
  commit: string;
  serving: NonNullable<ModelCard['serving']['online']>;
  online: NonNullable<Deployment['online']>;
  deployment: Deployment;
  /** the logger every InferenceService of this model gets, if any (see predictionLogger) */
  logger?: Spec;
  manifest(version: string): VersionManifest;
}

/** The Kubernetes objects of an environment's online models. Models without `online` here have none. */
export function renderKubernetes(input: KubernetesRenderInput): KubernetesObject[] {
  const k8s = input.env.kubernetes;
  if (!k8s) return [];
  const out: KubernetesObject[] = [];
  for (const m of [...input.models].sort((a, b) => (a.card.name < b.card.name ? -1 : a.card.name > b.card.name ? 1 : 0))) {
    const online = m.deployment.online;
    if (!online) continue;
    const name = m.card.name;
    if (!m.card.serving.online) throw invalid(input.environment, `models.${name}.online`, `${name} declares no online serving in its model.yaml`, 'serving.online in the model card', 'nothing');
    const model: Model = {
      name, environment: input.environment, namespace: k8s.namespace, mode: k8s.mode, commit: input.commit,
      serving: m.card.serving.online, online, deployment: m.deployment,
      ...predictionLoggerFor(input.env, k8s.mode, m.deployment),
      manifest(version) {
        const v = m.versions[version];
        if (!v) throw new Error(`renderKubernetes: the manifest of ${name}@${version} was not passed in (every pinned version must be)`);
        return v;
      },
    };
    checkScaling(model);
    if (k8s.mode === 'serverless') {
      out.push(serverless(model));
    } else {
      if (!k8s.gateway) throw invalid(input.environment, 'kubernetes', 'raw mode routes traffic through a Gateway API HTTPRoute; name the Gateway under kubernetes.gateway', 'key "gateway"', 'nothing');
      out.push(...raw(model, k8s.gateway, k8s.hostname));
    }
  }
  return out;
}

/**
 * The InferenceService name of a version. serverless: the model's name. raw: the model's name,
 * the version made DNS-safe (lower case, runs of other characters as one '-', cut to fit) and six
 * hex digits of sha256(model, version), which keeps versions that read alike apart ("1.0" and
 * "1-0") and keeps the name within maxInferenceServiceName for the longest model name (40).
 */
export function inferenceServiceName(mode: 'serverless' | 'raw', model: string, version: string): string {
  if (mode === 'serverless') return model;
  const digest = createHash('sha256').update(`${model}\n${version}`).digest('hex').slice(0, 6);
  const readable = version.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const room = maxInferenceServiceName - model.length - digest.length - 2;
  const part = room > 0 ? readable.slice(0, room).replace(/-+$/, '') : '';
  return part ? `${model}-${part}-${digest}` : `${model}-${digest}`;
}

export const deploymentModeAnnotation = 'serving.kserve.io/deploymentMode';

/**
 * The deploymentMode annotation's value: the names every supported KServe accepts. KServe 0.16
 * renamed the modes Standard / Knative and still takes RawDeployment / Serverless, mapping them
 * (kserve/kserve pkg/constants/constants.go ParseDeploymentMode, LegacyRawDeployment and
 * LegacyServerless); KServe 0.15 knows only RawDeployment / Serverless and sends any other value
 * to the cluster's default mode without a word (v0.15.2
 * pkg/controller/v1beta1/inferenceservice/utils/utils.go GetDeploymentMode).
 */
export function deploymentModeValue(mode: 'serverless' | 'raw'): 'RawDeployment' | 'Serverless' {
  return mode === 'raw' ? 'RawDeployment' : 'Serverless';
}

/** Whether a status.deploymentMode KServe reports is the mode wanted (0.16 reports the new names, 0.15 the old). */
export function sameDeploymentMode(mode: 'serverless' | 'raw', reported: string): boolean {
  return mode === 'raw' ? reported === 'RawDeployment' || reported === 'Standard' : reported === 'Serverless' || reported === 'Knative';
}

/** The Service KServe raw mode creates in front of an InferenceService's predictor (port 80). */
export function predictorServiceName(inferenceService: string): string {
  return `${inferenceService}-predictor`;
}

function serverless(m: Model): KubernetesObject {
  const d = m.deployment;
  if (d.shadow) throw invalid(m.environment, `models.${m.name}.shadow`, 'shadow traffic needs kubernetes.mode raw (a Gateway API RequestMirror); serverless KServe cannot mirror requests', 'kubernetes.mode: raw', 'serverless');
  // The spec describes the newest revision: the canary while there is one (see the top of the file).
  const runs = d.canary ? d.canary.version : d.version;
  return inferenceService(m, inferenceServiceName('serverless', m.name, runs), runs, d.canary ? checkedTraffic(m) : undefined);
}

function raw(m: Model, gateway: { name: string; namespace: string }, hostname: string | undefined): KubernetesObject[] {
  const d = m.deployment;
  const stable = inferenceServiceName('raw', m.name, d.version);
  const canary = d.canary ? inferenceServiceName('raw', m.name, d.canary.version) : undefined;
  const shadow = d.shadow ? inferenceServiceName('raw', m.name, d.shadow.version) : undefined;
  const traffic = d.canary ? checkedTraffic(m) : 0;
  if (new Set([stable, canary, shadow].filter(Boolean)).size !== 1 + Number(!!canary) + Number(!!shadow)) {
    throw invalid(m.environment, `models.${m.name}`, 'the stable, canary and shadow versions must all differ', 'a different version in each role', [d.version, d.canary?.version, d.shadow?.version].filter(Boolean).join(', '));
  }
  const objects = [inferenceService(m, stable, d.version)];
  if (d.canary) objects.push(inferenceService(m, canary!, d.canary.version));
  if (d.shadow) objects.push(inferenceService(m, shadow!, d.shadow.version));

  const backend = (isvc: string) => ({ group: '', kind: 'Service', name: predictorServiceName(isvc), port: 80 });
  const rule: Spec = { matches: routeMatches(m) };
  if (shadow) rule.filters = [{ type: 'RequestMirror', requestMirror: { backendRef: backend(shadow) } }];
  rule.backendRefs = [{ ...backend(stable), weight: 100 - traffic }, ...(canary ? [{ ...backend(canary), weight: traffic }] : [])];
  objects.push(finish({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: m.name, namespace: m.namespace, labels: baseLabels(m), annotations: {} },
    spec: {
      // Defaults the API server would fill in are written out, so a live route reads back as rendered.
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gateway.namespace, name: gateway.name }],
      ...(hostname ? { hostnames: [hostname] } : {}),
      rules: [rule],
    },
  }, d.version, m.commit));
  return objects;
}

/**
 * Paths of the model on the declared protocol. Gateway API matches a PathPrefix element by
 * element, so `/v1/models/m` does not match v1's `/v1/models/m:predict`: v1 gets exact paths.
 */
function routeMatches(m: Model): Spec[] {
  if (m.serving.protocolVersion === 'v2') return [{ path: { type: 'PathPrefix', value: `/v2/models/${m.name}` } }];
  return [`/v1/models/${m.name}`, `/v1/models/${m.name}:predict`].map((value) => ({ path: { type: 'Exact', value } }));
}

function inferenceService(m: Model, name: string, version: string, canaryTrafficPercent?: number): KubernetesObject {
  const manifest = m.manifest(version);
  const s = m.serving;
  const predictor: Spec = { minReplicas: m.online.replicas.min, maxReplicas: m.online.replicas.max };
  if (m.online.scaleMetric) predictor.scaleMetric = m.online.scaleMetric;
  if (m.online.scaleTarget !== undefined) predictor.scaleTarget = m.online.scaleTarget;
  if (s.timeoutSeconds !== undefined) predictor.timeout = s.timeoutSeconds;
  if (canaryTrafficPercent !== undefined) predictor.canaryTrafficPercent = canaryTrafficPercent;
  if (m.logger) predictor.logger = structuredClone(m.logger);
  predictor.model = {
    modelFormat: { name: s.modelFormat.name, ...(s.modelFormat.version !== undefined ? { version: s.modelFormat.version } : {}) },
    ...(s.runtime ? { runtime: s.runtime } : {}),
    ...(s.protocolVersion ? { protocolVersion: s.protocolVersion } : {}),
    storageUri: manifest.artifact.uri,
    // The model-server image the version was registered with (pinned by digest) wins over the card's.
    image: manifest.image ?? s.image,
    ...servedModelName(m),
    resources: { requests: { ...s.resources.requests }, ...(s.resources.limits ? { limits: { ...s.resources.limits } } : {}) },
  };
  const meta = {
    name, namespace: m.namespace,
    // raw: the per-version services are reached through the route only, so KServe makes no ingress of its own.
    labels: { ...baseLabels(m), ...(m.mode === 'raw' ? { 'networking.kserve.io/visibility': 'cluster-local' } : {}) },
    annotations: { [deploymentModeAnnotation]: deploymentModeValue(m.mode) },
  };
  return finish({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: meta, spec: { predictor } }, version, m.commit);
}

/**
 * KServe's request/response logger for a model's predictors, or nothing (see the top of the file).
 * What KServe sends (kserve/kserve pkg/logger/handler.go and worker.go): for each request, a
 * CloudEvent of type org.kubeflow.serving.inference.request with the request body, and, only when
 * the predictor answered 200, one of type org.kubeflow.serving.inference.response with the answer;
 * both with ce-id = the request's own Ce-Id header, or a fresh UUID when it has none (so the champion's
 * and the shadow's events share an id only if the caller or the gateway sets Ce-Id: the mirrored
 * copy carries the same headers), ce-time (when the logger sent it), ce-source, and the extensions
 * ce-inferenceservicename, ce-namespace, ce-component (predictor), ce-endpoint (default or canary),
 * ce-metadata (the request headers named in metadataHeaders, JSON) and ce-annotations (the
 * InferenceService annotations named in metadataAnnotations, JSON). metadataAnnotations names
 * modelship's version annotation, so every event says which version answered; the field came
 * with kserve/kserve#4325 (merged 2025-04, in the CRD under shared/reference), so an older
 * KServe's CRD refuses it under strict field validation.
 */
export function predictionLogger(sink: string): Spec {
  return { mode: 'all', url: sink, metadataAnnotations: [annotations.version] };
}

function predictionLoggerFor(env: Environment, mode: 'serverless' | 'raw', d: Deployment): { logger?: Spec } {
  if (!env.inferenceLog) return {};
  if (mode === 'raw' && !d.canary && !d.shadow) return {};
  return { logger: predictionLogger(env.inferenceLog.sink) };
}

/**
 * KServe's Python servers serve a model under the InferenceService's name (`--model_name={{.Name}}`
 * in the runtime); raw mode names InferenceServices per version, yet clients call
 * /v2/models/<model> on every version. KServe appends the predictor's args to the runtime's, and
 * the last --model_name wins; MLServer reads MLSERVER_MODEL_NAME, which the predictor's env
 * overrides. Other runtimes name the model themselves, so raw mode needs one of these.
 */
function servedModelName(m: Model): Spec {
  const runtime = m.serving.runtime;
  if (runtime && pythonServers.has(runtime)) return { args: [`--model_name=${m.name}`] };
  if (runtime === 'kserve-mlserver') return { env: [{ name: 'MLSERVER_MODEL_NAME', value: m.name }] };
  if (m.mode === 'raw') {
    throw invalid(m.environment, 'serving.online.runtime',
      `${m.environment} is in raw mode, which serves every version of ${m.name} under /v${m.serving.protocolVersion === 'v2' ? 2 : 1}/models/${m.name}; modelship can set the served model name only for the runtimes ${[...pythonServers, 'kserve-mlserver'].join(', ')}`,
      'one of those runtimes', runtime ?? 'none (KServe would choose)', `models/${m.name}/model.yaml`);
  }
  return {};
}

/** raw mode scales with a HorizontalPodAutoscaler (cpu, memory); serverless with Knative's (concurrency, rps). */
function checkScaling(m: Model): void {
  const { scaleMetric, scaleTarget } = m.online;
  const path = `models.${m.name}.online`;
  if (m.mode === 'raw' && (scaleMetric === 'concurrency' || scaleMetric === 'rps')) {
    throw invalid(m.environment, `${path}.scaleMetric`, `raw mode scales ${m.name} with a HorizontalPodAutoscaler, which knows cpu and memory only; ${scaleMetric} needs kubernetes.mode serverless (Knative)`, 'cpu or memory', scaleMetric);
  }
  if (m.mode === 'serverless' && (scaleMetric === 'cpu' || scaleMetric === 'memory')) {
    throw invalid(m.environment, `${path}.scaleMetric`, `serverless mode scales ${m.name} with Knative's autoscaler, which knows concurrency and rps only; ${scaleMetric} needs kubernetes.mode raw`, 'concurrency or rps', scaleMetric);
  }
  if (m.mode === 'raw' && (scaleMetric ?? 'cpu') === 'cpu' && scaleTarget !== undefined && (scaleTarget < 1 || scaleTarget > 100)) {
    throw invalid(m.environment, `${path}.scaleTarget`, 'a cpu scale target is a utilisation percentage of the requested CPU', 'an integer from 1 to 100', String(scaleTarget));
  }
}

function checkedTraffic(m: Model): number {
  const traffic = m.deployment.canary!.traffic;
  if (!Number.isInteger(traffic) || traffic < 0 || traffic > 100) {
    throw invalid(m.environment, `models.${m.name}.canary.traffic`, 'canary traffic is a whole percentage', 'an integer from 0 to 100', String(traffic));
  }
  return traffic;
}

function baseLabels(m: Model): Record<string, string> {
  return { [labels.managedBy]: managerName, [labels.environment]: m.environment, [labels.model]: m.name };
}

/** Adds the version, then the hash of everything so far (the commit is not in it), then the commit. */
function finish(obj: KubernetesObject, version: string, commit: string): KubernetesObject {
  obj.metadata.annotations[annotations.version] = version;
  const hash = specHash(obj);
  obj.metadata.annotations[annotations.commit] = commit;
  obj.metadata.annotations[annotations.specHash] = hash;
  return obj;
}

/** A problem with the environment (or, given a file, the model card) the renderer cannot render around. */
function invalid(environment: string, path: string, message: string, expected?: string, found?: string, file = `environments/${environment}.yaml`): ValidationError {
  return new ValidationError([{
    file, line: 0, col: 0, path, message,
    ...(expected !== undefined ? { expected } : {}), ...(found !== undefined ? { found } : {}), severity: 'error',
  }], `${file}: ${path}: ${message}`);
}

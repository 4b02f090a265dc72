// The stand-in's toy controllers: what KServe and a Gateway API implementation would write into
// status once they have seen a spec. Pure: (object, remembered revision state, failure) → status.
// Shapes follow KServe v1beta1 (`inference_service_status.go`) and Gateway API v1 RouteStatus.
// They do not run anything: no pods, no Knative revisions, no model loading, no routing.

import { clone, deepEqual, isMap } from './fields.js';

type Obj = Record<string, any>;

/** What the KServe controller remembers about one InferenceService between reconciles. */
export interface RevisionState {
  revision: number;
  /** the predictor spec (without canaryTrafficPercent) of the latest created revision */
  predictor?: unknown;
  latestCreated?: string;
  latestReady?: string;
  latestRolledout?: string;
  previousRolledout?: string;
  /**
   * The child object KServe reconciles into (raw: the predictor Deployment; serverless: the
   * Knative Service): its spec as far as the stand-in models it, and its metadata.generation.
   */
  child?: { spec: unknown; generation: number };
  /** the deployment mode recorded at creation (KServe records it in status and keeps it) */
  deploymentMode?: string;
}

/** How a stuck object fails: a failed model load, or a rollout that never finishes. */
export interface Failure {
  mode: 'failed' | 'pending';
  message: string;
}

/**
 * The deployment mode KServe picks, as KServe 0.16+ does: the mode recorded in status wins (it
 * never changes after creation); else the annotation, where the legacy RawDeployment / Serverless
 * mean Standard / Knative; any other value falls back to the cluster default, here Knative
 * (kserve/kserve pkg/controller/v1beta1/inferenceservice/utils/utils.go GetDeploymentMode,
 * pkg/constants/constants.go ParseDeploymentMode). KServe up to 0.15 knows only RawDeployment and
 * Serverless (v0.15.2 utils.go GetDeploymentMode): `kserveVersion: '0.15'` makes the stand-in
 * send Standard / Knative to the default, as such a cluster does.
 */
export function deploymentModeOf(obj: Obj, recorded?: string, kserveVersion: KServeVersion = '0.16'): 'Standard' | 'Knative' | 'RawDeployment' | 'Serverless' {
  if (recorded) return recorded as 'Standard';
  const mode = obj.metadata?.annotations?.['serving.kserve.io/deploymentMode'];
  if (kserveVersion === '0.15') return mode === 'RawDeployment' ? 'RawDeployment' : 'Serverless';
  if (mode === 'RawDeployment' || mode === 'Standard') return 'Standard';
  return 'Knative';
}

/** Which KServe the toy controller plays: 0.15 (legacy mode names only) or 0.16 and later. */
export type KServeVersion = '0.15' | '0.16';

export function isRawDeployment(obj: Obj, recorded?: string, kserveVersion?: KServeVersion): boolean {
  const mode = deploymentModeOf(obj, recorded, kserveVersion);
  return mode === 'RawDeployment' || mode === 'Standard';
}

/**
 * The part of the predictor spec that lands in the child object's spec, whose metadata.generation
 * KServe copies into status.observedGeneration (kserve/kserve
 * pkg/apis/serving/v1beta1/inference_service_status.go: PropagateRawStatus takes
 * `deploymentList[0].Status.ObservedGeneration`, PropagateStatus the Knative Service's
 * `serviceStatus.ObservedGeneration`). Raw: the Deployment; with an HPA its replicas are ignored
 * (pkg/controller/v1beta1/inferenceservice/reconcilers/deployment/deployment_reconciler.go,
 * "for HPA scaling, we should ignore Replicas of Deployment"), so minReplicas / maxReplicas /
 * scale settings go to the HPA and canaryTrafficPercent nowhere: the InferenceService's generation
 * moves, the Deployment's does not. Serverless: everything, traffic included, is in the Knative
 * Service's spec.
 */
function childSpec(predictor: Obj, raw: boolean): unknown {
  if (!raw) return clone(predictor);
  const { canaryTrafficPercent, minReplicas, maxReplicas, scaleMetric, scaleTarget, ...deployment } = predictor;
  return clone(deployment);
}

function condition(type: string, ok: boolean | 'Unknown', time: string, reason?: string, message?: string): Obj {
  return {
    type, status: ok === 'Unknown' ? 'Unknown' : ok ? 'True' : 'False', lastTransitionTime: time,
    ...(reason ? { reason } : {}), ...(message ? { message } : {}),
  };
}

/** Reconciles one InferenceService: the new status and the controller's new memory. */
export function inferenceServiceStatus(obj: Obj, state: RevisionState, failure: Failure | undefined, now: string, kserveVersion: KServeVersion = '0.16'): { status: Obj; state: RevisionState } {
  const name: string = obj.metadata.name;
  const ns: string = obj.metadata.namespace;
  const predictorSpec = isMap(obj.spec?.predictor) ? obj.spec.predictor : {};
  const { canaryTrafficPercent, ...revisionSpec } = predictorSpec as Obj;
  const canary = typeof canaryTrafficPercent === 'number' ? canaryTrafficPercent : undefined;
  const s: RevisionState = { ...state };
  if (!s.latestCreated || !deepEqual(s.predictor, revisionSpec)) {
    s.revision += 1;
    s.predictor = clone(revisionSpec);
    s.latestCreated = `${name}-predictor-${String(s.revision).padStart(5, '0')}`;
  }
  s.deploymentMode = deploymentModeOf(obj, s.deploymentMode, kserveVersion);
  const raw = isRawDeployment(obj, s.deploymentMode);
  const child = childSpec(predictorSpec as Obj, raw);
  if (!s.child) s.child = { spec: child, generation: 1 };
  else if (!deepEqual(s.child.spec, child)) s.child = { spec: child, generation: s.child.generation + 1 };
  const url = raw ? `http://${name}-${ns}.example.com` : `http://${name}.${ns}.example.com`;
  const status: Obj = {
    // The child's generation, not the InferenceService's (see childSpec).
    observedGeneration: s.child.generation,
    deploymentMode: s.deploymentMode,
    url,
    address: { url: `http://${name}-predictor.${ns}.svc.cluster.local` },
  };
  const predictor: Obj = { url: `http://${name}-predictor.${ns}.example.com` };

  if (failure) {
    const failed = failure.mode === 'failed';
    status.conditions = [
      condition('IngressReady', s.latestRolledout !== undefined, now),
      condition('PredictorReady', failed ? false : 'Unknown', now, failed ? 'ModelLoadFailed' : 'RevisionProgressing', failure.message),
      condition('Ready', failed ? false : 'Unknown', now, failed ? 'ModelLoadFailed' : 'RevisionProgressing', failure.message),
    ];
    status.modelStatus = {
      transitionStatus: failed ? 'BlockedByFailedLoad' : 'InProgress',
      states: { activeModelState: s.latestRolledout ? 'Loaded' : '', targetModelState: failed ? 'FailedToLoad' : 'Loading' },
      copies: { failedCopies: failed ? 1 : 0, totalCopies: 1 },
      ...(failed ? { lastFailureInfo: { reason: 'ModelLoadFailed', message: failure.message, time: now } } : {}),
    };
    if (!raw) {
      predictor.latestCreatedRevision = s.latestCreated;
      if (s.latestReady) predictor.latestReadyRevision = s.latestReady;
      if (s.latestRolledout) {
        predictor.latestRolledoutRevision = s.latestRolledout;
        predictor.traffic = [{ tag: 'prev', revisionName: s.latestRolledout, percent: 100, latestRevision: false }];
      }
      if (s.previousRolledout) predictor.previousRolledoutRevision = s.previousRolledout;
    }
    status.components = { predictor };
    return { status, state: s };
  }

  s.latestReady = s.latestCreated;
  let traffic: Obj[];
  if (canary !== undefined && s.latestRolledout && s.latestRolledout !== s.latestCreated) {
    traffic = [
      { tag: 'latest', revisionName: s.latestCreated, percent: canary, latestRevision: true },
      { tag: 'prev', revisionName: s.latestRolledout, percent: 100 - canary, latestRevision: false },
    ];
  } else {
    if (s.latestRolledout !== s.latestCreated) {
      if (s.latestRolledout) s.previousRolledout = s.latestRolledout;
      s.latestRolledout = s.latestCreated;
    }
    traffic = [{ tag: 'latest', revisionName: s.latestCreated, percent: 100, latestRevision: true }];
  }
  status.conditions = [
    condition('IngressReady', true, now),
    condition('PredictorReady', true, now),
    condition('Ready', true, now),
  ];
  status.modelStatus = {
    transitionStatus: 'UpToDate',
    states: { activeModelState: 'Loaded', targetModelState: 'Loaded' },
    copies: { failedCopies: 0, totalCopies: 1 },
  };
  if (!raw) {
    Object.assign(predictor, {
      latestCreatedRevision: s.latestCreated,
      latestReadyRevision: s.latestReady,
      latestRolledoutRevision: s.latestRolledout,
      ...(s.previousRolledout ? { previousRolledoutRevision: s.previousRolledout } : {}),
      traffic,
    });
  }
  status.components = { predictor };
  return { status, state: s };
}

export const gatewayControllerName = 'sandbox.modelship.io/gateway-controller';

/** What the toy Gateway controller does not support, and which backends exist. */
export interface GatewayBehaviour {
  /**
   * HTTPRoute filter types the gateway refuses. Gateway API: RequestMirror is "Support: Extended"
   * and an unsupported filter type must set Accepted=False with reason UnsupportedValue
   * (kubernetes-sigs/gateway-api apis/v1/httproute_types.go, HTTPRouteFilter.Type;
   * RouteReasonUnsupportedValue / RouteReasonIncompatibleFilters in apis/v1/shared_types.go).
   */
  unsupportedFilters?: string[];
  /**
   * Whether a backendRef's Service exists. A missing one leaves the route Accepted but sets
   * ResolvedRefs=False, reason BackendNotFound (apis/v1/shared_types.go RouteReasonBackendNotFound;
   * RouteConditionResolvedRefs: "Accepted" stays about the route being attached).
   */
  serviceExists?: (namespace: string, name: string) => boolean;
}

/**
 * Every parentRef accepted unless a failure is injected or a filter type is refused; ResolvedRefs
 * False when a backend Service is missing (when the caller says which exist).
 */
export function httpRouteStatus(obj: Obj, failure: Failure | undefined, now: string, gateway: GatewayBehaviour = {}): Obj {
  const generation = obj.metadata.generation;
  const ns: string = obj.metadata.namespace;
  const parentRefs: Obj[] = Array.isArray(obj.spec?.parentRefs) ? obj.spec.parentRefs : [];
  const rules: Obj[] = Array.isArray(obj.spec?.rules) ? obj.spec.rules : [];
  const filterTypes = rules.flatMap((r) => (Array.isArray(r.filters) ? r.filters.map((f: Obj) => String(f.type)) : []));
  const refused = [...new Set(filterTypes.filter((f) => gateway.unsupportedFilters?.includes(f)))];
  const backends = rules.flatMap((r) => [
    ...(Array.isArray(r.backendRefs) ? r.backendRefs : []),
    ...(Array.isArray(r.filters) ? r.filters.flatMap((f: Obj) => (f.requestMirror?.backendRef ? [f.requestMirror.backendRef] : [])) : []),
  ]);
  const missing = gateway.serviceExists
    ? backends.filter((b: Obj) => (b.kind ?? 'Service') === 'Service' && !gateway.serviceExists!(b.namespace ?? ns, b.name)).map((b: Obj) => b.name as string)
    : [];
  let accepted: Obj;
  if (failure) accepted = condition('Accepted', false, now, 'NotAllowedByListeners', failure.message);
  else if (refused.length) accepted = condition('Accepted', false, now, 'UnsupportedValue', `filter type ${refused.join(', ')} is not supported`);
  else accepted = condition('Accepted', true, now, 'Accepted');
  const resolved = missing.length
    ? condition('ResolvedRefs', false, now, 'BackendNotFound', `backend ${[...new Set(missing)].map((m) => `Service ${ns}/${m}`).join(', ')} not found`)
    : condition('ResolvedRefs', true, now, 'ResolvedRefs');
  return {
    parents: parentRefs.map((parentRef) => ({
      parentRef,
      controllerName: gatewayControllerName,
      conditions: [{ ...accepted, observedGeneration: generation }, { ...resolved, observedGeneration: generation }],
    })),
  };
}

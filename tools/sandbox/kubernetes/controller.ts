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
}

/** How a stuck object fails: a failed model load, or a rollout that never finishes. */
export interface Failure {
  mode: 'failed' | 'pending';
  message: string;
}

export function isRawDeployment(obj: Obj): boolean {
  const mode = obj.metadata?.annotations?.['serving.kserve.io/deploymentMode'];
  return mode === 'RawDeployment' || mode === 'Standard';
}

function condition(type: string, ok: boolean | 'Unknown', time: string, reason?: string, message?: string): Obj {
  return {
    type, status: ok === 'Unknown' ? 'Unknown' : ok ? 'True' : 'False', lastTransitionTime: time,
    ...(reason ? { reason } : {}), ...(message ? { message } : {}),
  };
}

/** Reconciles one InferenceService: the new status and the controller's new memory. */
export function inferenceServiceStatus(obj: Obj, state: RevisionState, failure: Failure | undefined, now: string): { status: Obj; state: RevisionState } {
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
  const raw = isRawDeployment(obj);
  const url = raw ? `http://${name}-${ns}.example.com` : `http://${name}.${ns}.example.com`;
  const status: Obj = {
    observedGeneration: obj.metadata.generation,
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

/** Every parentRef accepted, every backendRef resolved (the stand-in checks neither). */
export function httpRouteStatus(obj: Obj, failure: Failure | undefined, now: string): Obj {
  const generation = obj.metadata.generation;
  const parentRefs: Obj[] = Array.isArray(obj.spec?.parentRefs) ? obj.spec.parentRefs : [];
  return {
    parents: parentRefs.map((parentRef) => ({
      parentRef,
      controllerName: gatewayControllerName,
      conditions: [
        { ...condition('Accepted', failure ? false : true, now, failure ? 'NotAllowedByListeners' : 'Accepted', failure?.message), observedGeneration: generation },
        { ...condition('ResolvedRefs', true, now, 'ResolvedRefs'), observedGeneration: generation },
      ],
    })),
  };
}

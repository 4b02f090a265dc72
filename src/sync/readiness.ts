// When an applied object has converged: pure rules over its live status. An InferenceService is
// ready when Ready and PredictorReady are True, the model transition is UpToDate, (serverless) the
// latest created revision is the ready one, and traffic matches the desired split.
//
// Not by status.observedGeneration: KServe copies it from the child object, the predictor
// Deployment in raw mode and the Knative Service in serverless (kserve/kserve
// pkg/apis/serving/v1beta1/inference_service_status.go, PropagateRawStatus and PropagateStatus),
// so an HPA scale event or a replicas-only change leaves it different from the
// InferenceService's metadata.generation for good.
//
// An HTTPRoute is ready when every parent gateway has seen this generation, Accepted it and
// ResolvedRefs is True (a missing backend Service is an accepted route with ResolvedRefs=False,
// reason BackendNotFound: kubernetes-sigs/gateway-api apis/v1/shared_types.go). A gateway that
// refuses a filter (RequestMirror is Extended support) says Accepted=False, UnsupportedValue or
// IncompatibleFilters (apis/v1/httproute_types.go): that is final, and the reason names the
// gateway and the filter.

import type { KubernetesObject, LiveKubernetesObject } from './types.js';

export interface Readiness {
  ready: boolean;
  /** why not (the condition's message when there is one), or what was confirmed */
  reason: string;
  /** the object cannot become ready without a change (a failed model load): stop waiting */
  failed?: boolean;
}

type Condition = { type?: string; status?: string; reason?: string; message?: string };

/**
 * `before`: the object as read when the plan was made, if it existed. Serverless only: a changed
 * predictor (anything but canaryTrafficPercent) changes the Knative Service's template, and every
 * template change makes a new Revision (https://knative.dev/docs/serving/revisions/), so until
 * status names a latest created revision other than the one before, the status is from before
 * the change (observedGeneration, being the Knative Service's, cannot tell).
 */
export function readiness(desired: KubernetesObject, live: LiveKubernetesObject | undefined, before?: LiveKubernetesObject): Readiness {
  if (!live) return { ready: false, reason: 'not found' };
  const status = (live.status ?? {}) as Record<string, any>;
  const generation = live.metadata.generation;
  // Gateway API routes report the generation per parent condition, not at the top.
  if (desired.kind === 'HTTPRoute') return routeReadiness(desired, status, generation);
  if (desired.kind !== 'InferenceService') {
    if (generation !== undefined && status.observedGeneration !== generation) {
      return { ready: false, reason: `controller has not seen generation ${generation} yet (observed ${status.observedGeneration ?? 'none'})` };
    }
    return { ready: true, reason: 'applied' };
  }

  const conditions: Condition[] = status.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const transition = status.modelStatus?.transitionStatus as string | undefined;
  if (transition === 'BlockedByFailedLoad' || transition === 'InvalidSpec') {
    const failure = status.modelStatus?.lastFailureInfo;
    return { ready: false, failed: true, reason: `model ${transition}${failure?.message ? `: ${failure.message}` : ''}` };
  }
  if (ready?.status !== 'True') {
    const why = conditions.find((c) => c.status === 'False' && c.message) ?? ready;
    return { ready: false, reason: `Ready is ${ready?.status ?? 'unknown'}${why?.message ? `: ${why.message}` : ''}` };
  }
  const predictorReady = conditions.find((c) => c.type === 'PredictorReady');
  if (predictorReady && predictorReady.status !== 'True') {
    return { ready: false, reason: `PredictorReady is ${predictorReady.status ?? 'unknown'}${predictorReady.message ? `: ${predictorReady.message}` : ''}` };
  }
  if (transition !== undefined && transition !== 'UpToDate') return { ready: false, reason: `model transition is ${transition}` };
  const predictor = status.components?.predictor as Record<string, any> | undefined;
  const stale = staleRevision(desired, live, predictor, before);
  if (stale) return { ready: false, reason: `KServe has not created the new revision yet (latest is still ${stale})` };
  if (predictor?.latestCreatedRevision && predictor.latestReadyRevision && predictor.latestCreatedRevision !== predictor.latestReadyRevision) {
    return { ready: false, reason: `revision ${predictor.latestCreatedRevision} is not ready yet (${predictor.latestReadyRevision} is)` };
  }
  const wantCanary = (desired.spec.predictor as Record<string, unknown> | undefined)?.canaryTrafficPercent as number | undefined;
  const traffic = predictor?.traffic as Array<{ percent?: number; latestRevision?: boolean; tag?: string }> | undefined;
  if (wantCanary !== undefined && traffic) {
    const latest = traffic.find((t) => t.latestRevision)?.percent ?? 0;
    if (latest !== wantCanary) return { ready: false, reason: `traffic to the latest revision is ${latest}%, want ${wantCanary}%` };
  }
  return { ready: true, reason: wantCanary !== undefined ? `ready, canary at ${wantCanary}%` : 'ready' };
}

/** Both sides as the API server holds them (defaults included), so only a real change counts. */
function staleRevision(desired: KubernetesObject, live: LiveKubernetesObject, predictor: Record<string, any> | undefined, before: LiveKubernetesObject | undefined): string | undefined {
  const mode = desired.metadata.annotations?.['serving.kserve.io/deploymentMode'];
  if (mode !== 'Serverless' && mode !== 'Knative') return undefined;
  const previous = ((before?.status ?? {}) as Record<string, any>).components?.predictor?.latestCreatedRevision as string | undefined;
  if (!before || !previous || predictor?.latestCreatedRevision !== previous) return undefined;
  const template = (o: { spec?: Record<string, unknown> }) => {
    const { canaryTrafficPercent: _c, ...rest } = ((o.spec ?? {}).predictor ?? {}) as Record<string, unknown>;
    return JSON.stringify(sortKeys(rest));
  };
  return template(before) === template(live) ? undefined : previous;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

type RouteParent = {
  parentRef?: { namespace?: string; name?: string; kind?: string };
  controllerName?: string;
  conditions?: Array<Condition & { observedGeneration?: number }>;
};

function routeReadiness(desired: KubernetesObject, status: Record<string, any>, generation: number | undefined): Readiness {
  const parents = (status.parents ?? []) as RouteParent[];
  if (!parents.length) return { ready: false, reason: 'no gateway has accepted the route yet' };
  const rules = ((desired.spec as Record<string, any>).rules ?? []) as Array<{ filters?: Array<{ type?: string }> }>;
  const filters = [...new Set(rules.flatMap((r) => (r.filters ?? []).map((f) => f.type)).filter((f): f is string => !!f))];
  for (const p of parents) {
    const gateway = gatewayName(desired, p);
    const accepted = p.conditions?.find((c) => c.type === 'Accepted');
    if (generation !== undefined && accepted?.observedGeneration !== undefined && accepted.observedGeneration !== generation) {
      return { ready: false, reason: `${gateway} has not seen generation ${generation} yet (observed ${accepted.observedGeneration})` };
    }
    if (accepted?.status !== 'True') {
      const refusedFilter = accepted?.status === 'False' && (accepted.reason === 'UnsupportedValue' || accepted.reason === 'IncompatibleFilters') && filters.length;
      if (refusedFilter) {
        const mirror = filters.includes('RequestMirror') ? ' (RequestMirror, used for the shadow, is Extended support in Gateway API: this gateway does not implement it; remove the shadow or use a gateway that mirrors)' : '';
        return { ready: false, failed: true, reason: `${gateway} refused the route's filter ${filters.join(', ')}: ${accepted!.reason}${accepted!.message ? `: ${accepted!.message}` : ''}${mirror}` };
      }
      return { ready: false, failed: accepted?.status === 'False', reason: `route not accepted by ${gateway}${accepted?.reason ? ` (${accepted.reason})` : ''}${accepted?.message ? `: ${accepted.message}` : ''}` };
    }
    const resolved = p.conditions?.find((c) => c.type === 'ResolvedRefs');
    if (resolved && resolved.status !== 'True') {
      // A backend that does not exist yet may still come (KServe creates the predictor Service);
      // a reference that is not permitted or of a kind the gateway cannot route to will not.
      const final = resolved.status === 'False' && resolved.reason !== 'BackendNotFound';
      return { ready: false, ...(final ? { failed: true } : {}), reason: `${gateway} cannot resolve the route's backends${resolved.reason ? ` (${resolved.reason})` : ''}${resolved.message ? `: ${resolved.message}` : ''}` };
    }
  }
  return { ready: true, reason: 'accepted by the gateway, backends resolved' };
}

/** "gateway ns/name (controller)" of one parent status, for messages. */
function gatewayName(desired: KubernetesObject, p: RouteParent): string {
  const ref = p.parentRef;
  const ns = ref?.namespace ?? desired.metadata.namespace;
  return `gateway ${ref?.name ? `${ns}/${ref.name}` : '(unnamed)'}${p.controllerName ? ` (${p.controllerName})` : ''}`;
}

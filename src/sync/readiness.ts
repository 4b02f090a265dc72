// When an applied object has converged: pure rules over its live status. An InferenceService is
// ready when the controller saw this generation, Ready is True, the model transition is UpToDate,
// (serverless) the latest created revision is the ready one, and traffic matches the desired split.

import type { KubernetesObject, LiveKubernetesObject } from './types.js';

export interface Readiness {
  ready: boolean;
  /** why not (the condition's message when there is one), or what was confirmed */
  reason: string;
  /** the object cannot become ready without a change (a failed model load): stop waiting */
  failed?: boolean;
}

type Condition = { type?: string; status?: string; reason?: string; message?: string };

export function readiness(desired: KubernetesObject, live: LiveKubernetesObject | undefined): Readiness {
  if (!live) return { ready: false, reason: 'not found' };
  const status = (live.status ?? {}) as Record<string, any>;
  const generation = live.metadata.generation;
  // Gateway API routes report the generation per parent condition, not at the top.
  if (desired.kind === 'HTTPRoute') return routeReadiness(status, generation);
  if (generation !== undefined && status.observedGeneration !== generation) {
    return { ready: false, reason: `controller has not seen generation ${generation} yet (observed ${status.observedGeneration ?? 'none'})` };
  }
  if (desired.kind !== 'InferenceService') return { ready: true, reason: 'applied' };

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
  if (transition !== undefined && transition !== 'UpToDate') return { ready: false, reason: `model transition is ${transition}` };
  const predictor = status.components?.predictor as Record<string, any> | undefined;
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

function routeReadiness(status: Record<string, any>, generation: number | undefined): Readiness {
  const parents = (status.parents ?? []) as Array<{ conditions?: Array<Condition & { observedGeneration?: number }> }>;
  if (!parents.length) return { ready: false, reason: 'no gateway has accepted the route yet' };
  for (const p of parents) {
    const accepted = p.conditions?.find((c) => c.type === 'Accepted');
    if (generation !== undefined && accepted?.observedGeneration !== undefined && accepted.observedGeneration !== generation) {
      return { ready: false, reason: `the gateway has not seen generation ${generation} yet (observed ${accepted.observedGeneration})` };
    }
    if (accepted?.status !== 'True') return { ready: false, failed: accepted?.status === 'False', reason: `route not accepted${accepted?.message ? `: ${accepted.message}` : ''}` };
  }
  return { ready: true, reason: 'accepted by the gateway' };
}

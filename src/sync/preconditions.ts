// What must already run before a change may be applied. Pure.
//
// Serverless KServe splits a canary between the *previously rolled-out* revision and the new one:
// the stable version is whatever the InferenceService ran before, not what the spec says. So a
// serverless canary is applied only when the live InferenceService runs the pinned stable version
// (or already runs the canary): otherwise 100 − N % of traffic would go to the wrong model, or, on a
// fresh cluster, all of it to the canary.

import type { Environment } from '../config/types.js';
import { inferenceServiceName } from './render/kubernetes.js';
import { annotations, type KubernetesObject, type LiveKubernetesObject, type PlanAction } from './types.js';

/** Refusals by plan key (`InferenceService/<ns>/<name>`), with the reason. */
export function serverlessCanaryRefusals(env: Environment, live: LiveKubernetesObject[]): Map<string, string> {
  const refusals = new Map<string, string>();
  if (env.kubernetes?.mode !== 'serverless') return refusals;
  const namespace = env.kubernetes.namespace;
  for (const [model, d] of Object.entries(env.models)) {
    if (!d.canary || !d.online) continue;
    const name = inferenceServiceName('serverless', model, d.version);
    const running = live.find((o) => o.kind === 'InferenceService' && o.metadata.namespace === namespace && o.metadata.name === name);
    const runs = running?.metadata.annotations?.[annotations.version];
    if (runs === d.version || runs === d.canary.version) continue;
    refusals.set(`InferenceService/${namespace}/${name}`, running
      ? `a serverless canary splits traffic with the version that runs now (${runs ?? 'unknown'}), not with the pinned stable ${d.version}; sync the stable version first, then start the canary`
      : `a serverless canary needs the stable version ${d.version} running first (KServe splits traffic with the previously rolled-out revision; there is none)`);
  }
  return refusals;
}

type Predictor = { canaryTrafficPercent?: number; model?: { storageUri?: string } };
const predictorOf = (o: { spec?: Record<string, unknown> } | undefined) => (o?.spec?.predictor ?? {}) as Predictor;

/**
 * Serverless: a change that takes a live canary away (its revert, or a different canary version)
 * would roll a new revision while the canary still takes its share until that revision is ready.
 * Such an update first sets canaryTrafficPercent to 0 on the live spec — KServe's rollback: all
 * traffic to the previously rolled-out revision at once, no new pods — and then applies the
 * desired spec. A canary whose share changes, or that is promoted (same model, no percentage),
 * needs no such step. Sets `first` on the actions concerned.
 */
export function serverlessCanaryAborts(env: Environment, actions: PlanAction[]): void {
  if (env.kubernetes?.mode !== 'serverless') return;
  for (const a of actions) {
    if (a.op !== 'update' || a.target !== 'kubernetes' || a.refused) continue;
    const live = a.live as LiveKubernetesObject | undefined;
    const desired = a.desired as KubernetesObject | undefined;
    if (live?.kind !== 'InferenceService' || !desired) continue;
    const share = predictorOf(live).canaryTrafficPercent;
    if (!share || share <= 0) continue;
    if (predictorOf(live).model?.storageUri === predictorOf(desired).model?.storageUri) continue;
    const spec = structuredClone(live.spec ?? {}) as { predictor: Predictor };
    spec.predictor.canaryTrafficPercent = 0;
    const { name, namespace, labels, annotations: notes } = live.metadata;
    a.first = {
      object: { apiVersion: live.apiVersion, kind: live.kind, metadata: { name, namespace, labels: labels ?? {}, annotations: notes ?? {} }, spec: spec as Record<string, unknown> },
      why: `canary${notes?.[annotations.version] ? ` ${notes[annotations.version]}` : ''} at ${share}% → 0% first: all traffic back to the rolled-out revision at once`,
    };
  }
}

// What must already run before a change may be applied. Pure.
//
// Serverless KServe splits a canary between the *previously rolled-out* revision and the new one:
// the stable version is whatever the InferenceService ran before, not what the spec says. So a
// serverless canary is applied only when the live InferenceService runs the pinned stable version
// (or already runs the canary): otherwise 100 − N % of traffic would go to the wrong model, or, on a
// fresh cluster, all of it to the canary.

import type { Environment } from '../config/types.js';
import { inferenceServiceName } from './render/kubernetes.js';
import { annotations, type LiveKubernetesObject } from './types.js';

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

// The report's "Running shadows": each shadow that keeps running in an environment the pull
// request changes, with the live figures and the shadow gate's view that `modelship status`
// shows (status/experiments.ts shadowStatus, on the evidence check/evidence.ts read through
// readShadow). Informational: the verdict is computed before and never looks at it.

import type { LoadedRepository } from '../config/load.js';
import { runningShadows, type CheckState, type Evidence, type RunningShadow } from '../gates/run.js';
import { shadowStartedAt } from '../gates/shadow.js';
import { shadowStatus } from '../status/experiments.js';

export function runningShadowReport(state: CheckState & { base: LoadedRepository }, ev: Evidence): RunningShadow[] {
  return runningShadows(state).map((r) => {
    const env = state.base.environments.get(r.environment)!.data;
    const table = env.inferenceLog?.table;
    const policy = state.base.policies.get(r.environment)?.data.gates.shadow;
    const startedAt = shadowStartedAt(ev.timelines.get(r.environment) ?? [], r.model, r.candidate);
    const status = shadowStatus({
      policy, environment: r.environment, model: r.model, champion: r.champion, candidate: r.candidate, table,
      evidence: ev.runningShadows?.get(`${r.environment}/${r.model}`), ...(startedAt ? { startedAt } : {}),
    });
    return { environment: r.environment, model: r.model, ...status };
  });
}

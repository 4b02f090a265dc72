// What a sync tells GitHub (`sync --github`): a Deployment of the commit to the environment, with
// a payload naming what changed, and statuses in_progress → success | failure | error. Pure: the
// command makes the calls (src/github/client.ts).

import type { Environment } from '../config/types.js';
import type { ApplyResult } from './apply.js';
import type { DeploymentRecord } from '../model/deployments.js';
import type { Plan } from './types.js';

export interface GitHubDeploymentRequest {
  description: string;
  payload: Record<string, unknown>;
  production: boolean;
  environmentUrl?: string;
}

/** The deployment for a plan with writes: the models it changes and what each will run. */
export function deploymentRequest(plan: Plan, env: Environment): GitHubDeploymentRequest {
  const models = [...new Set(plan.actions.filter((a) => a.op !== 'noop' && a.model).map((a) => a.model!))].sort();
  const pins = Object.fromEntries(models.map((m) => {
    const d = env.models[m];
    return [m, d ? { version: d.version, ...(d.canary ? { canary: d.canary } : {}), ...(d.shadow ? { shadow: d.shadow } : {}) } : { removed: true }];
  }));
  const described = models.map((m) => {
    const d = env.models[m];
    if (!d) return `${m} removed`;
    return `${m} ${d.version}${d.canary ? ` (canary ${d.canary.version} at ${d.canary.traffic}%)` : ''}${d.shadow ? ` (shadow ${d.shadow.version})` : ''}`;
  });
  return {
    description: described.length ? `modelship sync: ${described.join(', ')}` : `modelship sync of ${plan.environment}`,
    payload: { tool: 'modelship', commit: plan.commit, environment: plan.environment, models: pins },
    // An environment is production unless its name says it is not (staging, dev, test, qa, sandbox …).
    production: !/^(dev|development|test|testing|qa|staging|stage|sandbox|preview)([-_].*)?$/i.test(plan.environment),
    ...(env.kubernetes?.hostname ? { environmentUrl: `https://${env.kubernetes.hostname}` } : {}),
  };
}

/** The final status of a sync that ran to the end. */
export function finalStatus(result: ApplyResult, record: DeploymentRecord): { state: 'success' | 'failure'; description: string } {
  if (result.converged) {
    const changed = record.models.filter((m) => m.changed).map((m) => `${m.model} ${m.version}`);
    return { state: 'success', description: `converged${changed.length ? `: ${changed.join(', ')}` : ''}` };
  }
  const failed = result.results.filter((r) => r.outcome === 'failed' || r.outcome === 'not-ready' || r.outcome === 'skipped');
  const first = failed[0];
  return { state: 'failure', description: `not converged: ${failed.length} object${failed.length === 1 ? '' : 's'} failed${first ? `; ${first.key}: ${first.message ?? first.outcome}` : ''}` };
}

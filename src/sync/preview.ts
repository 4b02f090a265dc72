// "What merge will do", for the pull request: the plan from the base's rendered objects to the
// head's, per environment the change touches. Pure, and needs no cluster: it assumes each
// environment runs what the base says (the sync agent's job), as Atlantis shows a plan.

import type { LoadedRepository } from '../config/load.js';
import { ModelshipError } from '../errors.js';
import { desiredFor } from './agent.js';
import { plan } from './plan.js';
import { liveSpecHash } from './render/hash.js';
import { taskConfig, taskDefinition } from './render/snowflake.js';
import type { LiveTask, Plan } from './types.js';

export interface Preview {
  plans: Plan[];
  /** environments whose objects could not be rendered, and why */
  problems: Array<{ environment: string; message: string }>;
}

export function previewMerge(base: LoadedRepository, head: LoadedRepository, environments: string[], commits: { base: string; head: string }): Preview {
  const plans: Plan[] = [];
  const problems: Preview['problems'] = [];
  for (const name of [...new Set(environments)].sort()) {
    if (!head.environments.has(name)) continue;
    try {
      const desired = desiredFor(head, name, commits.head);
      const running = base.environments.has(name) ? desiredFor(base, name, commits.base) : { kubernetes: [], snowflake: [] };
      const tasks: LiveTask[] = running.snowflake.map((t) => ({
        database: t.database, schema: t.schema, name: t.name, state: 'started', warehouse: t.warehouse, schedule: t.schedule,
        definition: taskDefinition(t), config: taskConfig(t), comment: t.comment,
      }));
      plans.push(plan({ desired, live: { kubernetes: running.kubernetes, snowflake: tasks }, hashLive: liveSpecHash }));
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      problems.push({ environment: name, message: e.message });
    }
  }
  return { plans, problems };
}

// "What merge will do", for the pull request: the plan from the base's rendered objects to the
// head's, per environment the change touches. Pure, and needs no cluster: it assumes each
// environment runs what the base says (the sync agent's job), as Atlantis shows a plan.
//
// A model's objects are rendered from its entry in the environment file, its model card, the
// manifests of the versions it pins and the environment's other settings (sync/agent.ts
// desiredFor), and from nothing of any other model. So when the environment's settings are the
// same on both sides, a model whose entry, card and pinned manifests are the same renders the
// same objects on both sides: it is left out of the plan and counted (Plan.untouchedModels),
// rather than rendered and hashed twice to find it unchanged; a one-model change in an
// environment of hundreds of models plans that one model.

import { isDeepStrictEqual } from 'node:util';
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
      const untouched = untouchedModels(base, head, name);
      const desired = desiredFor(head, name, commits.head, untouched);
      const running = base.environments.has(name) ? desiredFor(base, name, commits.base, untouched) : { kubernetes: [], snowflake: [] };
      const tasks: LiveTask[] = running.snowflake.map((t) => ({
        database: t.database, schema: t.schema, name: t.name, state: 'started', warehouse: t.warehouse, schedule: t.schedule,
        definition: taskDefinition(t), config: taskConfig(t), comment: t.comment,
      }));
      const p = plan({ desired, live: { kubernetes: running.kubernetes, snowflake: tasks }, hashLive: liveSpecHash });
      if (untouched.size) p.untouchedModels = untouched.size;
      plans.push(p);
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      problems.push({ environment: name, message: e.message });
    }
  }
  return { plans, problems };
}

/**
 * The models of `environment` whose objects are the same at base and head because everything
 * they are rendered from is: none when the environment's own settings differ (or either side
 * lacks it); else those pinned on both sides with the same entry, the same model card and the
 * same manifests of the versions the entry names.
 */
export function untouchedModels(base: LoadedRepository, head: LoadedRepository, environment: string): Set<string> {
  const out = new Set<string>();
  const was = base.environments.get(environment)?.data;
  const now = head.environments.get(environment)?.data;
  if (!was || !now) return out;
  const { models: wasModels, ...wasSettings } = was;
  const { models: nowModels, ...nowSettings } = now;
  if (!isDeepStrictEqual(wasSettings, nowSettings)) return out;
  for (const [model, entry] of Object.entries(nowModels)) {
    if (!Object.hasOwn(wasModels, model) || !isDeepStrictEqual(wasModels[model], entry)) continue;
    const card = head.models.get(model)?.data;
    if (!card || !isDeepStrictEqual(base.models.get(model)?.data, card)) continue;
    const versions = [entry.version, entry.canary?.version, entry.shadow?.version].filter((v): v is string => typeof v === 'string');
    const same = versions.every((v) => {
      const manifest = head.versions.get(model)?.get(v)?.data;
      return manifest !== undefined && isDeepStrictEqual(base.versions.get(model)?.get(v)?.data, manifest);
    });
    if (same) out.add(model);
  }
  return out;
}

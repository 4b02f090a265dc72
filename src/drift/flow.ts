// The drift flow: how far each model's serving data has moved from its training data, measured
// inside the warehouse (one aggregation per model) over the policy's window, and, when asked, a
// retraining issue on GitHub for each model past its bounds.

import { loadDesiredState } from '../config/state.js';
import { UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { octokit, openOrUpdateIssue, type GitHubClient, type GitHubConnection, type IssueRef, type RepoRef } from '../adapters/github/client.js';
import { githubRepository } from '../adapters/github/repository.js';
import { resolveRevision } from '../adapters/git/tree.js';
import { retrainIssue, type ModelDrift } from '../metrics/drift-monitor.js';
import { observeDrift, type DriftTarget } from '../metrics/drift-observe.js';
import { warehouseFor } from '../adapters/snowflake/warehouse-env.js';
import { environmentsToSync } from '../sync/environments.js';

export interface DriftRequest {
  root: string;
  rev?: string;
  env?: string[];
  model?: string[];
  /** the scoring log of the one model asked (DATABASE.SCHEMA.TABLE), instead of the environment's */
  table?: string;
  /** the end of the window */
  end: Date;
  /** the window's length; else the policy's drift window, else a day */
  windowMs?: number;
  timeoutMs: number;
  /** open or update a retraining issue for each model past its bounds */
  github?: GitHubConnection;
  /** the same, as an authenticated client (the agent's GitHub App installation) in this repository */
  issues?: { client: GitHubClient; repository: RepoRef };
  /** where the Snowflake connection is configured (SNOWFLAKE_*); default this process's environment */
  connections?: NodeJS.ProcessEnv;
}

export type RetrainIssue = IssueRef & { environment: string; model: string; title: string };

export interface DriftOutcome {
  commit: string;
  results: ModelDrift[];
  issues: RetrainIssue[];
}

export async function measureDrift(req: DriftRequest, progress: (line: string) => void): Promise<DriftOutcome> {
  const { root, end } = req;
  const commit = await resolveRevision(root, req.rev ?? 'HEAD');
  const repo = await loadDesiredState(root, commit);
  const environments = environmentsToSync(repo.environments.keys(), req.env);
  checkModels(repo.models.keys(), environments.map((e) => ({ name: e, models: Object.keys(repo.environments.get(e)!.data.models) })), req.model);

  const results: ModelDrift[] = [];
  for (const name of environments) {
    const env = repo.environments.get(name)!.data;
    const models = Object.keys(env.models).filter((m) => !req.model?.length || req.model.includes(m)).sort();
    if (!models.length) continue;
    const span = req.windowMs ?? parseDuration(repo.policies.get(name)?.data.gates.drift?.window ?? '') ?? 86_400_000;
    const window = { start: new Date(end.getTime() - span), end };
    const conn = warehouseFor(env, req.connections ?? process.env, { timeoutMs: req.timeoutMs });
    if (!conn) {
      throw new UsageError(`drift is measured in the warehouse, but no Snowflake connection is configured for ${name}`
        + ' (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README)');
    }
    try {
      progress(`${name}: measuring drift of ${models.join(', ')} in the warehouse…`);
      const targets: DriftTarget[] = models.map((model) => ({ environment: name, model, ...(req.table ? { table: req.table } : {}) }));
      results.push(...await observeDrift(repo, conn, targets, window));
    } finally {
      await conn?.close();
    }
  }
  progress('');

  const issues: RetrainIssue[] = [];
  if (req.github || req.issues) {
    const ref = req.issues?.repository ?? await githubRepo(root);
    const gh = req.issues?.client ?? octokit(req.github!);
    for (const d of results.filter((r) => r.status === 'fail')) {
      const issue = retrainIssue(d, { commit });
      const r = await openOrUpdateIssue(gh, ref, issue);
      issues.push({ ...r, environment: d.environment, model: d.model, title: issue.title });
    }
  }
  return { commit, results, issues };
}

/** Every --model must be a model of the repository, deployed in at least one of the environments asked. */
function checkModels(known: Iterable<string>, environments: Array<{ name: string; models: string[] }>, asked: string[] | undefined): void {
  const all = [...known].sort();
  for (const m of asked ?? []) {
    if (!all.includes(m)) throw new UsageError(`no such model: ${m}; models: ${all.join(', ')}`);
    if (!environments.some((e) => e.models.includes(m))) throw new UsageError(`${m} is not deployed in ${environments.map((e) => e.name).join(', ')}`);
  }
}

/** owner/name from GITHUB_REPOSITORY, else from the origin remote's URL. */
async function githubRepo(root: string): Promise<RepoRef> {
  const ref = await githubRepository(root);
  if (!ref) throw new UsageError('cannot tell which GitHub repository to open the issue in: the origin remote is not on GitHub; set GITHUB_REPOSITORY=owner/name');
  return ref;
}

// `modelship drift [--env E] [--model M] [--window 24h] [--json] [--open-issue]`: how far each
// model's serving data has moved from its training data, measured inside the warehouse (one
// aggregation per model), judged by the environment policy's drift bounds. Exit 1 past the
// bounds, 3 when drift could not be measured ("unknown", never "ok"). With --open-issue, a model
// past its bounds opens or updates its retraining issue on GitHub.

import { loadDesiredState } from '../config/state.js';
import { ExitCode, UsageError } from '../errors.js';
import { parseDuration } from '../gates/types.js';
import { connectionFromEnv, octokit, openOrUpdateIssue, type IssueRef, type RepoRef } from '../adapters/github/client.js';
import { githubRepository } from '../adapters/github/repository.js';
import { resolveRevision } from '../adapters/git/tree.js';
import { driftExitCode, driftText, retrainIssue, type ModelDrift } from '../metrics/drift-monitor.js';
import { observeDrift, type DriftTarget } from '../metrics/drift-observe.js';
import { patterns } from '../sync/render/snowflake.js';
import { warehouseFor } from '../adapters/snowflake/warehouse-env.js';
import { commandOptions, repoRoot } from './context.js';
import { environmentsToSync } from '../sync/environments.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; model?: string[]; window?: string; table?: string; at?: string; timeout: string; rev?: string; json?: boolean; openIssue?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const timeoutMs = duration(opts.timeout, '--timeout');
    const windowMs = opts.window !== undefined ? duration(opts.window, '--window') : undefined;
    const end = opts.at ? new Date(opts.at) : new Date();
    if (Number.isNaN(end.getTime())) throw new UsageError(`--at ${JSON.stringify(opts.at)} is not a time (expected ISO 8601, e.g. 2026-11-20T12:00:00Z)`);
    if (opts.table !== undefined && !patterns.qualifiedName.test(opts.table)) {
      throw new UsageError(`--table ${JSON.stringify(opts.table)} is not DATABASE.SCHEMA.TABLE of plain identifiers`);
    }
    if (opts.table !== undefined && opts.model?.length !== 1) throw new UsageError('--table names one model\'s scoring log: give exactly one --model with it');
    const github = opts.openIssue ? connectionFromEnv() : undefined;
    if (opts.openIssue && !github) throw new UsageError('--open-issue needs a GitHub token (GITHUB_TOKEN or GH_TOKEN)');

    const root = repoRoot(opts.repo);
    const commit = await resolveRevision(root, opts.rev ?? 'HEAD');
    const repo = await loadDesiredState(root, commit);
    const environments = environmentsToSync(repo.environments.keys(), opts.env);
    checkModels(repo.models.keys(), environments.map((e) => ({ name: e, models: Object.keys(repo.environments.get(e)!.data.models) })), opts.model);

    const results: ModelDrift[] = [];
    for (const name of environments) {
      const env = repo.environments.get(name)!.data;
      const models = Object.keys(env.models).filter((m) => !opts.model?.length || opts.model.includes(m)).sort();
      if (!models.length) continue;
      const span = windowMs ?? parseDuration(repo.policies.get(name)?.data.gates.drift?.window ?? '') ?? 86_400_000;
      const window = { start: new Date(end.getTime() - span), end };
      const conn = warehouseFor(env, process.env, { timeoutMs });
      if (!conn) {
        throw new UsageError(`drift is measured in the warehouse, but no Snowflake connection is configured for ${name}`
          + ' (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README)');
      }
      try {
        output.progress(`${name}: measuring drift of ${models.join(', ')} in the warehouse…`);
        const targets: DriftTarget[] = models.map((model) => ({ environment: name, model, ...(opts.table ? { table: opts.table } : {}) }));
        results.push(...await observeDrift(repo, conn, targets, window));
      } finally {
        await conn?.close();
      }
    }
    output.progress('');

    const issues: Array<IssueRef & { environment: string; model: string; title: string }> = [];
    if (opts.openIssue && github) {
      const ref = await githubRepo(root);
      const gh = octokit(github);
      for (const d of results.filter((r) => r.status === 'fail')) {
        const issue = retrainIssue(d, { commit });
        const r = await openOrUpdateIssue(gh, ref, issue);
        issues.push({ ...r, environment: d.environment, model: d.model, title: issue.title });
      }
    }

    const code = driftExitCode(results);
    if (opts.json) {
      output.out(JSON.stringify({ ok: code === ExitCode.ok, commit, models: results, ...(opts.openIssue ? { issues } : {}) }, null, 2));
    } else {
      output.out(driftText(results));
      for (const i of issues) output.out(`\nissue #${i.number} ${i.created ? 'opened' : 'updated'}: ${i.title} — ${i.url}`);
      if (opts.openIssue && !issues.length) output.out('\nno model is past its bounds: no retraining issue opened');
    }
    return code;
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (!ms) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration (e.g. 30s, 15m, 24h, 7d)`);
  return ms;
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

// `modelship sync [--env E] [--rev REV] [--once | --watch]`: make each environment run what the
// repository says at REV (default HEAD), wait until it serves, and record what was deployed.

import { ExitCode } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { sharedSnowflakeThread, type SnowflakeThread } from '../adapters/snowflake/warehouse-thread.js';
import { githubDeployments, type GitHubDeployments } from '../sync/github-deployment.js';
import { syncRevision, type SyncReporter } from '../sync/run.js';
import { planText, resultText } from '../sync/show.js';
import { watchLoop, type WatchState } from '../sync/watch.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { env?: string[]; rev?: string; json?: boolean; watch?: boolean; interval: string; readyTimeout: string; recordDir?: string; forceConflicts?: boolean; listen?: string; github?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  try {
    const root = repoRoot(opts.repo);
    const github = opts.github ? await githubDeployments(root) : undefined;
    // Started first: the worker loads the Snowflake driver on the other core while this thread
    // reads the repository and loads the Kubernetes client. (No Snowflake account, no worker.)
    const snowflake = process.env.SNOWFLAKE_ACCOUNT?.trim() ? sharedSnowflakeThread() : undefined;
    try {
      const once = (state?: WatchState) => syncOnce(root, opts, output, snowflake, github, state);
      if (!opts.watch) return await once();
      return await watchLoop({
        everyMs: parseDuration(opts.interval) ?? 30_000,
        ...(opts.listen ? { listen: opts.listen } : {}),
        iterate: once,
        failed: (e) => printError(e, output, false),
      });
    } finally {
      await snowflake?.close();
    }
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

async function syncOnce(root: string, opts: Options, output: Output, snowflake: SnowflakeThread | undefined, github: GitHubDeployments | undefined, state?: WatchState): Promise<number> {
  const reporter: SyncReporter = {
    synced: (r) => {
      if (opts.json) return;
      output.out(planText(r.plan));
      if (r.result.writes) output.out(resultText(r.result));
    },
    log: (line) => output.err(line),
    progress: (line) => output.progress(line),
  };
  const { code, commit, results } = await syncRevision({
    root, readyTimeoutMs: parseDuration(opts.readyTimeout) ?? 300_000, forceConflicts: !!opts.forceConflicts,
    ...(opts.rev !== undefined ? { rev: opts.rev } : {}), ...(opts.env ? { env: opts.env } : {}), ...(opts.recordDir ? { recordDir: opts.recordDir } : {}),
    ...(snowflake ? { snowflake } : {}), ...(github ? { github } : {}), ...(state ? { state } : {}),
    // --json prints every plan whole at the end; otherwise each was printed as it was synced
    keepPlans: !!opts.json,
  }, reporter);
  if (opts.json) output.out(JSON.stringify({ ok: code === ExitCode.ok, commit, results }, null, 2));
  return code;
}

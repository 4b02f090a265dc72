// `modelship sync [--env E] [--rev REV] [--once | --watch]`: make each environment run what the
// repository says at REV (default HEAD), wait until it serves, and record what was deployed.

import { setFlagsFromString } from 'node:v8';
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

/**
 * How much V8 lets the old generation grow past what survived the last full collection before it
 * collects again, in percent. V8's default growing factor (up to 4× on a machine with much memory)
 * let the main thread's heap reach 220 MB in a first sync of 4,800 objects, of which ~85 MB was
 * live; with 10 % it stayed under ~140 MB (peak RSS 410 → ~325 MB, CPU within the noise). The flag
 * is read each time V8 computes the next limit (MemoryController::GrowingFactor,
 * v8/src/heap/heap-controller.cc), so setting it when the command starts takes effect; it cannot be
 * given in NODE_OPTIONS, and the bin's shebang does not apply to `node dist/cli.js`.
 */
export const heapGrowingPercent = 10;

export async function run(args: unknown[], output: Output): Promise<number> {
  setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
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

// What the in-cluster agent does for an environment it leads, besides reconciling it: one canary
// watch on the policy's interval, one drift measurement on the policy's drift schedule, and the
// audit mirror after each sync. Each runs the same flow as its CLI command (canary watch, drift
// --open-issue, audit mirror --github), from what the agent has: its bare mirror at the release
// branch's head, the GitHub App installation (its client, and its token for git over HTTPS) and
// the process environment for the connections (Snowflake, Prometheus; AWS by its default chain).

import { readFileSync } from 'node:fs';
import { loadDocument } from '../config/load.js';
import type { Policy } from '../config/types.js';
import { ModelshipError, RefusedError } from '../errors.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import type { DeploymentRecord } from '../model/deployments.js';
import { fileAt } from '../adapters/git/audit.js';
import { pushWithToken, workingClone, type WorkingClone } from '../adapters/git/working-clone.js';
import type { GitHubClient, RepoRef } from '../adapters/github/client.js';
import { mirrorDeployment } from '../audit/flows.js';
import { watchOnce, type WatchReport } from '../canary/watch.js';
import { measureDrift } from '../drift/flow.js';
import { rollback } from '../rollback/rollback.js';
import type { Metrics } from '../serve/metrics.js';

export interface DutyContext {
  environment: string;
  /** bare mirror; refs/heads/<releaseBranch> is `commit` */
  mirror: string;
  /** the release branch's head */
  commit: string;
  releaseBranch: string;
  repository: RepoRef;
  github: { client: GitHubClient; token(): Promise<string>; cloneUrl: string; login: string /* '<slug>[bot]' */ };
  env: NodeJS.ProcessEnv;
  now(): Date;
  /** aborted when leadership is lost or the service stops */
  signal: AbortSignal;
  log(line: string): void;
  metrics: Metrics;
}

/** canary watch's own default interval, for a policy that names none (and the retry after a failed watch). */
export const defaultCanaryIntervalMs = 60_000;
/** How often drift is measured when the policy's gates.drift names no `every`: the window, at most this. */
export const defaultDriftEveryMs = 6 * 3_600_000;
/** The shortest schedule the agent keeps, whatever the policy says: a guard against `every: 1s`. */
export const minimumDutyMs = 60_000;
/** Per warehouse query, as `modelship drift`'s default --timeout. */
const driftQueryTimeoutMs = 60_000;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** One canary watch of the environment, acting on a breach as the policy's autoRollback says; when to run again (the policy's interval). */
export async function canaryDuty(ctx: DutyContext): Promise<{ nextInMs: number }> {
  const env = ctx.environment;
  if (ctx.signal.aborted) return { nextInMs: defaultCanaryIntervalMs };
  let clone: WorkingClone | undefined;
  const prometheusUrl = ctx.env.MODELSHIP_PROMETHEUS_URL;
  try {
    const report = await watchOnce({
      root: ctx.mirror, environment: env, now: ctx.now(), act: true, base: ctx.releaseBranch, tip: ctx.commit, env: ctx.env,
      ...(prometheusUrl ? { prometheusUrl } : {}),
      // A rollback writes a commit: in a throw-away clone of the mirror, pushed with the installation token, as the App.
      rollback: async (req) => {
        if (ctx.signal.aborted) throw new RefusedError(`${env}: no longer the leader; the rollback is left to the next one`);
        clone ??= await workingClone(ctx.mirror, { branch: ctx.releaseBranch, commit: ctx.commit, identity: botIdentity(ctx.github.login) });
        const root = clone.root;
        return rollback({
          ...req, root,
          remote: {
            repository: ctx.repository, client: ctx.github.client, tip: ctx.commit,
            push: async (commit, branch, o) => pushWithToken(root, { url: ctx.github.cloneUrl, commit, branch, token: await ctx.github.token(), signal: ctx.signal, ...(o.force ? { force: true } : {}) }),
          },
        });
      },
    });
    logWatch(ctx, report);
    return { nextInMs: canaryEveryMs(ctx.env) ?? Math.max(minimumDutyMs, parseDuration(report.interval) ?? defaultCanaryIntervalMs) };
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    ctx.log(`canary watch ${env}: failed: ${e.message}; again in ${formatDuration(defaultCanaryIntervalMs)}`);
    ctx.metrics.gate('canary-watch', 'error');
    return { nextInMs: defaultCanaryIntervalMs };
  } finally {
    await clone?.remove();
  }
}

/**
 * MODELSHIP_CANARY_EVERY: how often the agent runs canary watch, instead of the policy's
 * canary.interval (and below the 60 s floor); only the schedule: each watch still judges the
 * policy's intervals. For the demo, whose story cannot wait minutes; unset in production.
 */
export function canaryEveryMs(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.MODELSHIP_CANARY_EVERY;
  if (!text) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new RefusedError(`MODELSHIP_CANARY_EVERY expects a duration such as 30s or 2m, found ${JSON.stringify(text)}`);
  return ms;
}

function logWatch(ctx: DutyContext, r: WatchReport): void {
  const env = r.environment;
  for (const n of r.notes) ctx.log(`canary watch ${env}: ${n}`);
  for (const c of r.canaries) {
    const v = c.verdict;
    ctx.metrics.gate('canary-watch', v.status);
    const what = `canary watch ${env}: ${c.model} ${c.version} at ${c.traffic}%`;
    ctx.log(`${what}: ${v.status === 'breached' ? 'BREACHED' : v.status === 'unknown' ? 'UNKNOWN (metric source down)' : 'healthy'}`);
    for (const a of v.alerts) ctx.log(`${what}: alert: ${a}; no rollback on missing data`);
    for (const why of v.reasons) ctx.log(`${what}: why: ${why}`);
    if (c.action === 'reported') ctx.log(`${what}: no action: the policy says autoRollback: off`);
    if (c.rollback?.pullRequest) ctx.log(`${what}: revert pull request #${c.rollback.pullRequest.number} ${c.rollback.pullRequest.created ? 'opened' : 'updated'}: ${c.rollback.pullRequest.url}`);
    if (c.action === 'pushed') ctx.log(`${what}: ${c.rollback!.title}: ${c.rollback!.commit.slice(0, 12)} pushed to ${c.rollback!.base}`);
    if (c.error) ctx.log(`${what}: the rollback was not completed: ${c.error}`);
  }
}

/** The App's bot as a commit identity (GitHub shows it as `<slug>[bot]`). */
function botIdentity(login: string): { name: string; email: string } {
  return { name: login, email: `${login}@users.noreply.github.com` };
}

/** How often drift is measured: the policy's gates.drift.every, else its window capped at 6 h (default window a day). */
export function driftEveryMs(drift: Policy['gates']['drift']): number {
  const every = drift?.every ? parseDuration(drift.every) : undefined;
  const window = (drift?.window ? parseDuration(drift.window) : undefined) ?? 86_400_000;
  return Math.max(minimumDutyMs, every ?? Math.min(window, defaultDriftEveryMs));
}

/** One drift measurement of the environment, opening or updating one retraining issue per model past its bounds; when next. */
export async function driftDuty(ctx: DutyContext): Promise<{ nextInMs: number }> {
  const env = ctx.environment;
  let nextInMs = driftEveryMs(undefined);
  try {
    const policy = await policyAt(ctx);
    const drift = policy?.gates.drift;
    nextInMs = driftEveryMs(drift);
    const next = `next in ${formatDuration(nextInMs)}`;
    if (drift?.mode === 'off') {
      ctx.log(`drift ${env}: not measured: policies/${env}.yaml sets gates.drift.mode: off; ${next}`);
      return { nextInMs };
    }
    if (ctx.signal.aborted) return { nextInMs };
    const outcome = await measureDrift({
      root: ctx.mirror, rev: ctx.commit, env: [env], end: ctx.now(), timeoutMs: driftQueryTimeoutMs,
      issues: { client: ctx.github.client, repository: ctx.repository }, connections: ctx.env,
    }, () => {});
    if (!outcome.results.length) ctx.log(`drift ${env}: no model is deployed; ${next}`);
    for (const d of outcome.results) {
      ctx.metrics.gate('drift', d.status);
      const label = d.status === 'unknown' ? 'UNKNOWN: not measured' : d.status === 'fail' ? 'FAIL' : d.status;
      ctx.log(`drift ${env}: ${d.model}@${d.version}: ${label}: ${d.summary.replace(/^(ok|warn|fail|unknown):\s*/, '')}`);
    }
    for (const i of outcome.issues) ctx.log(`drift ${env}: ${i.model}: retraining issue #${i.number} ${i.created ? 'opened' : 'updated'}: ${i.url}`);
    ctx.log(`drift ${env}: measured at ${ctx.commit.slice(0, 12)}; ${next}`);
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    ctx.metrics.gate('drift', 'unknown');
    ctx.log(`drift ${env}: UNKNOWN: not measured: ${e.message}; next in ${formatDuration(nextInMs)}`);
  }
  return { nextInMs };
}

/** The environment's policy at the commit (undefined when it has none); an invalid one is an error. */
async function policyAt(ctx: DutyContext): Promise<Policy | undefined> {
  const file = `policies/${ctx.environment}.yaml`;
  const bytes = await fileAt(ctx.mirror, ctx.commit, file);
  if (!bytes) return undefined;
  const loaded = loadDocument<Policy>(file, bytes, 'policy');
  const p = loaded.problems.find((x) => x.severity === 'error');
  if (!loaded.loaded || p) {
    throw new RefusedError(`${file} at ${ctx.commit.slice(0, 12)} does not validate: ${p ? `line ${p.line}, column ${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}` : 'run modelship validate'}`);
  }
  return loaded.loaded.data;
}

/**
 * After a sync of the environment: the audit mirror of that deployment (signed, written once),
 * with who asked and approved from GitHub. Skipped, with a log line, when the policy at the
 * record's commit declares no audit trail. Throws when the trail could not be written: the
 * next call (after the next sync) records what is missing, as `audit mirror` does.
 */
export async function auditDuty(ctx: DutyContext, record: DeploymentRecord): Promise<void> {
  const env = ctx.environment;
  if (record.environment !== env) throw new RefusedError(`audit ${env}: the deployment record is for ${record.environment}; nothing was written`);
  const result = await mirrorDeployment({
    root: ctx.mirror, environment: env, record,
    // AWS KMS through the pod's role (the default credential chain), else a local Ed25519 key (the demo), as `audit mirror` chooses.
    key: { kmsKey: ctx.env.MODELSHIP_AUDIT_KMS_KEY, keyFile: ctx.env.MODELSHIP_AUDIT_KEY_FILE, pem: ctx.env.MODELSHIP_AUDIT_KEY },
    nextKey: { kmsKey: ctx.env.MODELSHIP_AUDIT_NEXT_KMS_KEY, keyFile: ctx.env.MODELSHIP_AUDIT_NEXT_KEY_FILE },
    github: { client: ctx.github.client, repository: ctx.repository },
    recorderVersion: pkg.version, now: ctx.now, log: (line) => ctx.log(`audit ${line}`),
  });
  if ('skipped' in result) ctx.log(`audit ${env}: skipped: ${result.skipped}`);
  else if (result.nothing) ctx.log(`audit ${env}: nothing to record: ${result.nothing}`);
  else ctx.log(`audit ${env}: ${result.written.length} record${result.written.length === 1 ? '' : 's'} written to ${result.store} (seq ${result.written.map((w) => w.seq).join(', ')})`);
}

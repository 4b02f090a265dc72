// The agent's duties under leadership of an environment: canary watch, drift, audit mirror.
// STUB for the agent branch (interface agreed in #15, /work/notes/interfaces.md): helper "duties"
// writes the real ones; the integrator keeps that file. These do nothing.

import type { GitHubClient, RepoRef } from '../adapters/github/client.js';
import type { DeploymentRecord } from '../model/deployments.js';
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

/** one canary watch of the environment (acts as the policy's autoRollback says); when to run again */
export async function canaryDuty(_ctx: DutyContext): Promise<{ nextInMs: number }> {
  return { nextInMs: 60_000 };
}

/** one drift measurement (opens or updates the one retraining issue per model past bounds); when next */
export async function driftDuty(_ctx: DutyContext): Promise<{ nextInMs: number }> {
  return { nextInMs: 60_000 };
}

/** after a sync that wrote or failed: the audit mirror of that deployment (when the policy has audit) */
export async function auditDuty(_ctx: DutyContext, _record: DeploymentRecord): Promise<void> {}

// A change a pull request makes, in release terms (a promotion, a canary step, a rollback, a policy
// edit ...): what the diff of two desired states yields and what the gates judge.

import type { PinState } from './pins.js';

export type ChangeKind =
  | 'new-model' | 'promote' | 'rollback' | 'canary-start' | 'canary-step' | 'canary-promote' | 'canary-abort'
  | 'shadow-start' | 'shadow-promote' | 'shadow-stop' | 'config' | 'removal'
  /** an A/B test (a canary with ab: true) starts, or ends: B promoted, or A kept */
  | 'ab-start' | 'ab-conclude'
  | 'environment-config' | 'policy' | 'model-card' | 'version-modified'
  /** files outside the release files (or ones modelship does not read): judged by the repository policy's code owners */
  | 'code'
  /** an environment file added or deleted: judged by the repository policy's environment owners */
  | 'environment-added' | 'environment-removed';

/**
 * The commit trailer that ends an A/B without the test's verdict: `AB-Override: <reason>` on the
 * pull request's head commit. The ab gate then warns instead of blocking, and the audit record
 * of the merge keeps the reason (change.abOverride).
 */
export const abOverrideTrailer = 'AB-Override';

/** The pseudo-environment of changes to the repository rather than to one environment (kind 'code'). */
export const repositoryScope = 'repository';

export interface Change {
  kind: ChangeKind;
  /** the environment whose policy judges this change ("repository" for a code change) */
  environment: string;
  model?: string;
  from?: PinState;
  to?: PinState;
  /** the version this change puts in front of traffic (or returns to) */
  candidate?: string;
  /** the stable version serving before the change: what the candidate is compared with */
  champion?: string;
  /** the file the change is in */
  file: string;
  /** a code change: every file it covers (all owned by the same rule) */
  files?: string[];
  /**
   * the repository policy's rule whose owners must approve too: "environments" for adding,
   * removing or retargeting an environment, "policies" for a policy file, the matching code
   * rule ("code.rules[0]", "code.default") for a code change
   */
  owners?: string;
  /**
   * other environments this change reaches: their targets equal the new values (cluster,
   * namespace, database, warehouse or role); each one's policy judges the change as well
   */
  reaches?: string[];
  /** one line for people: "fraud-detector 2026.11.13-1 → 2026.11.20-1" */
  description: string;
}

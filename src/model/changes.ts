// A change a pull request makes, in release terms (a promotion, a canary step, a rollback, a policy
// edit ...): what the diff of two desired states yields and what the gates judge.

import type { PinState } from './pins.js';

export type ChangeKind =
  | 'new-model' | 'promote' | 'rollback' | 'canary-start' | 'canary-step' | 'canary-promote' | 'canary-abort'
  | 'shadow-start' | 'shadow-promote' | 'shadow-stop' | 'config' | 'removal'
  | 'environment-config' | 'policy' | 'model-card' | 'version-modified';

export interface Change {
  kind: ChangeKind;
  /** the environment whose policy judges this change */
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
  /** one line for people: "fraud-detector 2026.11.13-1 → 2026.11.20-1" */
  description: string;
}

// The deployment record: what one sync of one environment at one commit changed, when each
// object was accepted and seen ready, and what failed. sync writes it (sync --record-dir), the
// audit trail reads it back and signs it; src/config/schemas/deployment-record.schema.json is its contract.

import type { Pin } from './pins.js';

export interface ModelDeployment extends Pin {
  model: string;
  /** whether this sync created, changed or deleted any of the model's objects */
  changed: boolean;
  /** the version the model's objects ran before this sync, when it differs */
  previousVersion?: string;
  /** every object of the model converged (always true for a model this sync did not touch) */
  deployed: boolean;
  /** which systems run it: online, batch, online+batch or none */
  kind: string;
}

/** One object the sync wrote, with its outcome and times. */
export interface DeployedObject {
  key: string;
  model?: string;
  target: 'kubernetes' | 'snowflake';
  op: string;
  outcome: string;
  appliedAt?: string;
  readyAt?: string;
  message?: string;
}

export interface DeploymentRecord {
  environment: string;
  commit: string;
  startedAt: string;
  finishedAt: string;
  converged: boolean;
  models: ModelDeployment[];
  /** every object the sync wrote, with its outcome and times */
  objects: DeployedObject[];
}

// Files modelship writes for itself and reads back: read like the repository's files, through
// their schema, so a hand-edited or truncated record is refused with file, line and column.

import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { DeploymentRecord } from '../model/deployments.js';
import { readDocument } from './load.js';

/** The deployment record sync --record-dir wrote (<dir>/<env>/<commit>.json); undefined when there is none. */
export function readDeploymentRecord(file: string): DeploymentRecord | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return readDocument<DeploymentRecord>(file, bytes, 'deployment-record', `${file} is not a deployment record`).data;
}

// Integrity: the artifact a version names is in the registry with the size and digest the
// manifest records, the manifest itself was not edited after registration, and the model
// server image is pinned by digest. The stored object's HEAD is an input (fetched by the caller).

import type { StoredObject } from '../model/objects.js';
import type { VersionManifest } from '../config/types.js';
import { result, type GateResult } from './types.js';

export interface IntegrityInput {
  manifest: VersionManifest;
  /** the artifact's HEAD (with checksum mode), undefined when there is no such object, or why it could not be read */
  stored: StoredObject | undefined | { error: string };
  /** set when the pull request edits or deletes this registered version file; `pinned`: whether head still pins it */
  edited?: { how: 'modified' | 'deleted'; pinned: boolean };
  requireImageDigest: boolean;
  /** whether the model is served online (only then does the image matter) */
  online: boolean;
}

const digestImage = /@sha256:[0-9a-f]{64}$/;

export function integrityGate(input: IntegrityInput): GateResult {
  const { manifest: m, stored } = input;
  const id = `${m.model}@${m.version}`;
  const fails: string[] = [];
  const details: string[] = [];

  const file = `models/${m.model}/versions/${m.version}.yaml`;
  if (input.edited?.how === 'deleted' && !input.edited.pinned) {
    // `git revert` of a merged promotion also removes the manifest that promotion added. Nothing
    // pins it, git history keeps it for the audit trail and the artifact stays in the registry.
    return result('integrity', 'warn', `${file} is deleted in this pull request; it is pinned nowhere, so nothing breaks, but registered versions should stay in the repository (restore it with git checkout <base> -- ${file})`);
  }
  if (input.edited) {
    fails.push(`${file} is ${input.edited.how} in this pull request; registered versions are immutable (register a new version instead)`);
  }
  if (input.online && input.requireImageDigest && !(m.image && digestImage.test(m.image))) {
    fails.push(`model-server image ${m.image ?? '(none)'} is not pinned by digest; expected <image>@sha256:<64 hex>`);
  }
  if (stored && 'error' in stored) {
    return result('integrity', 'error', `could not read ${m.artifact.uri}: ${stored.error}`, { details: fails });
  }
  if (!stored) {
    fails.push(`${m.artifact.uri} does not exist in the registry`);
  } else {
    if (stored.size !== m.artifact.size) fails.push(`${m.artifact.uri} is ${stored.size} bytes; the manifest records ${m.artifact.size}`);
    if (stored.sha256 && stored.sha256 !== m.artifact.sha256) fails.push(`the registry recorded sha256 ${stored.sha256}; the manifest says ${m.artifact.sha256}`);
    if (m.artifact.storeChecksum && stored.checksum && stored.checksum !== m.artifact.storeChecksum) {
      fails.push(`S3's checksum is ${stored.checksum}; the manifest recorded ${m.artifact.storeChecksum} at registration`);
    }
    const fullObject = stored.checksum && !stored.checksum.includes('-') && stored.checksumType !== 'COMPOSITE';
    if (fullObject && Buffer.from(stored.checksum!, 'base64').toString('hex') !== m.artifact.sha256) {
      fails.push(`S3's SHA-256 of the object is ${Buffer.from(stored.checksum!, 'base64').toString('hex')}; the manifest says ${m.artifact.sha256}`);
    }
    details.push(`${m.artifact.uri}: ${stored.size} bytes` +
      (stored.checksum ? `, S3 checksum ${stored.checksum}` : ', no checksum reported by the store') +
      (stored.sha256 ? `, recorded sha256 ${stored.sha256.slice(0, 12)}…` : ''));
  }
  if (fails.length) return result('integrity', 'fail', fails[0]!, { details: [...fails.slice(1), ...details] });
  const how = stored?.checksum ? 'size and S3 checksum match' : 'size and recorded digest match';
  return result('integrity', 'pass', `${id}: artifact present, ${how}${input.online && input.requireImageDigest ? ', image pinned by digest' : ''}`, { details });
}

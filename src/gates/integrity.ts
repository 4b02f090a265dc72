// Integrity: the version manifest is the one `register` wrote (its bytes' SHA-256 has a
// registration record in the registry), the artifact it names is in the registry with the size
// and SHA-256 the manifest records (S3's checksum, which S3 verified on upload; an object without
// one fails), the manifest was not edited in the pull request, and the model server image is
// pinned by digest. HEADs of the record and the artifact are inputs (fetched by the caller).

import type { StoredObject } from '../model/objects.js';
import type { VersionManifest } from '../config/types.js';
import { result, type GateResult } from './types.js';

export interface IntegrityInput {
  manifest: VersionManifest;
  /** the artifact's HEAD (with checksum mode), undefined when there is no such object, or why it could not be read */
  stored: StoredObject | undefined | { error: string };
  /**
   * register's registration record for this version: the SHA-256 (hex) of the manifest's bytes
   * at head, and what the registry holds (registry/manifest.ts registrationKey): `exact`, the
   * HEAD of the record for those bytes (undefined: none); `others`, keys of records of this
   * version for other bytes. Omitted: not checked (rollback, which returns to a merged version).
   */
  registration?: {
    file: string;
    sha256: string;
    uri: string;
    exact: StoredObject | undefined;
    others: string[];
  } | { error: string };
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
  const reg = input.registration;
  if (reg && 'error' in reg) return result('integrity', 'error', `could not read the registration record of ${file}: ${reg.error}`, { details: fails });
  if (reg) {
    const recorded = reg.exact?.checksum && !reg.exact.checksum.includes('-') ? Buffer.from(reg.exact.checksum, 'base64').toString('hex') : undefined;
    if (!reg.exact && reg.others.length) {
      fails.push(`not registered: ${reg.file} differs from what register wrote`);
      details.push(`the registry holds ${reg.others.length === 1 ? 'a record' : `${reg.others.length} records`} of ${id} for other bytes (${reg.others.map((k) => k.split('/').pop()!.replace(/\.yaml$/, '').slice(0, 12) + '…').join(', ')}); this file's sha256 is ${reg.sha256}`);
    } else if (!reg.exact) {
      fails.push(`not registered: register wrote no record of ${reg.file} (expected ${reg.uri}); only manifests written by modelship register can be promoted`);
    } else if (!recorded) {
      fails.push(`the registration record ${reg.uri} has no SHA-256 checksum in the registry, so its digest is unverified`);
    } else if (recorded !== reg.sha256) {
      fails.push(`not registered: ${reg.file} differs from what register wrote`);
      details.push(`S3's SHA-256 of ${reg.uri} is ${recorded}; this file's is ${reg.sha256}`);
    } else {
      details.push(`${reg.file}: registered by register (record ${reg.uri})`);
    }
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
    if (!stored.checksum) {
      fails.push(`${m.artifact.uri} has no SHA-256 checksum in the registry, so S3 never verified its bytes; re-register it (register uploads with ChecksumAlgorithm=SHA256)`);
    }
    details.push(`${m.artifact.uri}: ${stored.size} bytes` +
      (stored.checksum ? `, S3 checksum ${stored.checksum}` : ', no checksum reported by the store') +
      (stored.sha256 ? `, recorded sha256 ${stored.sha256.slice(0, 12)}…` : ''));
  }
  if (fails.length) return result('integrity', 'fail', fails[0]!, { details: [...fails.slice(1), ...details] });
  return result('integrity', 'pass', `${id}: ${reg ? 'manifest registered by register, ' : ''}artifact present, size and S3 checksum match${input.online && input.requireImageDigest ? ', image pinned by digest' : ''}`, { details });
}

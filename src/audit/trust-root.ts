// A trust root for one environment's trail, pinned by the auditor outside the repository it
// audits: where the records are, where their checkpoints are published, and the keys trusted to
// have signed them. `audit trust-root` prints it from the policy at a revision the auditor has
// reviewed; `audit verify --trust-root FILE` then takes store, checkpoints and keys from the file,
// never from main at HEAD: whoever can change main can no longer change what "verified" means
// (replace a key under its id, move the store to a trail of their own). What the policy at HEAD
// says differently is reported beside the findings.
//
// The root is a file, an S3 object (s3://bucket/key: written once under Object Lock where the
// auditor's account keeps it; a version over it or a delete marker is refused), or a KMS key ARN
// (the key alone, with the store given beside it: --store).
//
// Format (JSON): { "format": "modelship-audit-trust-root/1", "environment": "production",
//   "store": "s3://bucket/prefix", "checkpoints"?: "s3://bucket/prefix",
//   "keys": [{ "id", "algorithm", "publicKey", "validFrom", "validUntil"? }] }

import { readFileSync } from 'node:fs';
import { UsageError, ValidationError } from '../errors.js';
import { loadDocument } from '../config/load.js';
import type { AuditPolicy } from '../config/types.js';
import { settingsFrom, type AuditSettings } from './policy.js';

export const trustRootFormat = 'modelship-audit-trust-root/1';

export interface TrustRoot {
  format: typeof trustRootFormat;
  environment: string;
  store: string;
  checkpoints?: string;
  keys: AuditPolicy['keys'];
}

/** common.schema.json's s3Uri */
const s3Uri = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[^\s]*)?$/;

/** The trust root of the policy's audit section (what `audit trust-root` prints). */
export function trustRootOf(environment: string, audit: AuditPolicy): TrustRoot {
  return {
    format: trustRootFormat, environment, store: audit.store, ...(audit.checkpoints ? { checkpoints: audit.checkpoints } : {}),
    keys: audit.keys.map((k) => ({ id: k.id, algorithm: k.algorithm, publicKey: k.publicKey, validFrom: k.validFrom, ...(k.validUntil ? { validUntil: k.validUntil } : {}) })),
  };
}

/** Reads and checks a trust root file; every problem is named with the file and field. */
export function readTrustRoot(file: string): TrustRoot {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the trust root ${file}: ${(e as Error).message}`);
  }
  return parseTrustRoot(text, file);
}

/** What a trust root that is a KMS key pins besides the key: the trail it vouches for (--env, --store, --checkpoints). */
export interface KeyRootContext {
  environment?: string;
  store?: string;
  checkpoints?: string;
}

/** The public half of a KMS signing key, as KMS itself reports it (GetPublicKey, DescribeKey). */
export interface KmsPublicKey {
  arn: string;
  publicKeyDer: Buffer;
  keySpec: string;
  keyUsage: string;
  createdAt: Date;
}

/**
 * A KMS key as the trust root: the auditor pins the key (its ARN), KMS says its public half and
 * since when it exists (the key's creation date is its validFrom: nothing it signed can be
 * older). The key pins no store, so the trail's store must be given with it.
 */
export function keyTrustRoot(key: KmsPublicKey, ctx: KeyRootContext, source: string): TrustRoot {
  if (!ctx.environment) throw new UsageError(`the trust root ${source} is a KMS key: name the environment it signs for with --env`);
  if (!ctx.store || !s3Uri.test(ctx.store)) {
    throw new UsageError(`the trust root ${source} is a KMS key, which pins no store: pin the trail's location too with --store s3://bucket/prefix${ctx.store ? ` (found ${JSON.stringify(ctx.store)})` : ''}`);
  }
  if (key.keySpec !== 'ECC_NIST_P256' || key.keyUsage !== 'SIGN_VERIFY') {
    throw new UsageError(`the trust root ${source} is a ${key.keySpec} key for ${key.keyUsage}; audit records are signed with ECC_NIST_P256 keys for SIGN_VERIFY`);
  }
  return {
    format: trustRootFormat, environment: ctx.environment, store: ctx.store, ...(ctx.checkpoints?.startsWith('s3://') ? { checkpoints: ctx.checkpoints } : {}),
    keys: [{ id: key.arn, algorithm: 'ecdsa-p256-sha256', publicKey: key.publicKeyDer.toString('base64'), validFrom: key.createdAt.toISOString() }],
  };
}

/**
 * Checks the text of a trust root (from a file or an S3 object named `file`) against
 * trust-root.schema.json: every problem with its line, column and field, what was expected and
 * what was found; then that each key parses and is of its algorithm.
 */
export function parseTrustRoot(text: string, file: string): TrustRoot {
  // Read as JSON whatever the name (an S3 key or a file may end otherwise): JSON is what `audit trust-root` prints.
  const named = file.endsWith('.json') ? file : `${file}#.json`;
  const { loaded, problems } = loadDocument<TrustRoot>(named, Buffer.from(text, 'utf8'), 'trust-root');
  const errors = problems.filter((p) => p.severity === 'error').map((p) => ({ ...p, file }));
  if (!loaded || errors.length) throw new ValidationError(errors, `the trust root ${file}: ${ValidationError.summarize(errors)}`);
  const root = loaded.data;
  settingsFrom(file, root.environment, { store: root.store, retentionDays: 365, keys: root.keys }, undefined); // each key parses and is of its algorithm
  return root;
}

/**
 * The settings verify uses under a trust root: store, checkpoints and keys from the root, the
 * rest (retention, clock skew, approvals rule) from the policy at the revision when it has an
 * audit section. `differences` says what the policy names otherwise (reported, not used).
 */
export function settingsUnderRoot(root: TrustRoot, file: string, policy: AuditSettings | undefined): { settings: AuditSettings; differences: string[] } {
  const pinned = settingsFrom(file, root.environment, { store: root.store, retentionDays: policy?.retentionDays ?? 365, keys: root.keys, ...(root.checkpoints ? { checkpoints: root.checkpoints } : {}) }, undefined);
  const differences: string[] = [];
  if (policy) {
    const where = (s: { bucket: string; prefix: string }) => `s3://${s.bucket}${s.prefix ? `/${s.prefix}` : ''}`;
    if (where(policy) !== where(pinned)) differences.push(`${policy.file} names the store ${where(policy)}; the trust root pins ${where(pinned)}, which is read`);
    if (policy.checkpoints && (!pinned.checkpoints || where(policy.checkpoints) !== where(pinned.checkpoints))) differences.push(`${policy.file} names the checkpoints ${where(policy.checkpoints)}; the trust root pins ${pinned.checkpoints ? where(pinned.checkpoints) : 'none'}`);
    const der = (k: AuditSettings['keys'][number]) => k.key.export({ format: 'der', type: 'spki' }).toString('base64');
    for (const k of policy.keys) {
      const same = pinned.keys.find((p) => p.id === k.id);
      if (!same) differences.push(`${policy.file} trusts key ${k.id}, which the trust root does not: not trusted`);
      else if (der(same) !== der(k) || same.validFrom?.getTime() !== k.validFrom?.getTime() || same.validUntil?.getTime() !== k.validUntil?.getTime()) {
        differences.push(`${policy.file} gives key ${k.id} another public key or validity than the trust root: the trust root's is used`);
      }
    }
  }
  return { settings: { ...(policy ?? {}), ...pinned, ...(policy ? { skewMs: policy.skewMs } : {}), file: policy?.file ?? pinned.file, keysFrom: `the trust root ${file}` }, differences };
}


// The audit section of policies/<env>.yaml, read from a revision of main (reviewed like any other
// change): where the environment's records are stored, how long they are locked, and the public
// keys trusted to have signed them, each with its validity, so rotated keys keep old records valid.

import { ValidationError, type Problem } from '../errors.js';
import type { AuditPolicy, Policy } from '../config/types.js';
import { parseDuration } from '../model/durations.js';
import { fileAt } from '../adapters/git/audit.js';
import { canonicalBytes } from './record.js';
import { algorithmOf, publicKeyFrom, sha256Hex, type TrustedKey } from './sign.js';

export interface AuditSettings {
  environment: string;
  file: string;
  bucket: string;
  prefix: string;
  /** where `keys` come from, for messages, when not the policy's audit.keys (a trust root) */
  keysFrom?: string;
  /** audit.checkpoints: where mirror publishes the trail's checkpoints (a second bucket) */
  checkpoints?: { bucket: string; prefix: string };
  retentionDays: number;
  skewMs: number;
  keys: TrustedKey[];
  /** sha256 of the canonical audit section: an index built under other keys or another store is not reused */
  fingerprint: string;
  /** policy rollback.breakGlass.reviewWithin, in ms, when set */
  breakGlassReviewMs?: number;
  /** the policy's rule for which approvals stand (the approvals gate's): the record names those approvers */
  approvals?: { excludeAuthor?: boolean; dismissStale?: boolean };
  /** SHA-256 of the policy file's bytes it was read from (the trace index remembers it) */
  fileSha256?: string;
}

export const defaultSkewMs = 5 * 60_000;

/** Reads and checks the audit settings of an environment at `rev`. Throws a ValidationError naming the file and field. */
export async function auditSettings(root: string, rev: string, environment: string): Promise<AuditSettings> {
  const file = `policies/${environment}.yaml`;
  const bytes = await fileAt(root, rev, file);
  if (!bytes) throw new ValidationError([problem(file, '', `there is no ${file} at ${rev.slice(0, 12)}`, 'the environment\'s policy with an audit section')]);
  // config/ (ajv's validators, the YAML reader) loads when first needed, not at startup.
  const { readDocument } = await import('../config/load.js');
  const { data: policy, parsed } = readDocument<Policy>(file, bytes, 'policy', `${file} at ${rev.slice(0, 12)}`);
  if (!policy.audit) {
    throw new ValidationError([problem(file, 'audit', 'the policy declares no audit trail', 'audit: { store: s3://bucket/prefix, retentionDays: 365 or more, keys: [...] }')],
      `${file} has no audit section: the trail's store and trusted keys are declared there (see README, "The audit trail")`);
  }
  const { excludeAuthor, dismissStale } = policy.approvals;
  return {
    ...settingsFrom(file, environment, policy.audit, policy.rollback?.breakGlass?.reviewWithin, (path) => parsed.locate(path)),
    fileSha256: sha256Hex(bytes),
    approvals: { ...(excludeAuthor !== undefined ? { excludeAuthor } : {}), ...(dismissStale !== undefined ? { dismissStale } : {}) },
  };
}

/**
 * Where the trail is stored, read through the policy schema but without the key checks: enough
 * for trace to find a current index. Anything that verifies records uses auditSettings.
 * Undefined when the policy is missing, invalid or has no audit section (auditSettings says what is wrong).
 */
export async function auditLocation(root: string, rev: string, environment: string, policyBytes?: Buffer): Promise<AuditSettings | undefined> {
  const file = `policies/${environment}.yaml`;
  const bytes = policyBytes ?? (await fileAt(root, rev, file));
  if (!bytes) return undefined;
  const { loadDocument } = await import('../config/load.js');
  const a = loadDocument<Policy>(file, bytes, 'policy').loaded?.data.audit;
  const m = a ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(a.store) : null;
  if (!a || !m) return undefined;
  return { environment, file: `policies/${environment}.yaml`, bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, ''), retentionDays: a.retentionDays, skewMs: defaultSkewMs, keys: [], fingerprint: fingerprint(a), fileSha256: sha256Hex(bytes) };
}

/** Checks what the schema cannot: each public key parses and is of its declared algorithm. */
export function settingsFrom(file: string, environment: string, audit: AuditPolicy, reviewWithin: string | undefined, locate?: (path: Array<string | number>) => { line: number; col: number }): AuditSettings {
  const problems: Problem[] = [];
  const keys: TrustedKey[] = [];
  const ids = new Set<string>();
  audit.keys.forEach((k, i) => {
    const at = locate?.(['audit', 'keys', i, 'publicKey']) ?? { line: 0, col: 0 };
    if (ids.has(k.id)) problems.push({ ...problem(file, `audit.keys.${i}.id`, `key id ${JSON.stringify(k.id)} is listed twice`), line: at.line, col: at.col });
    ids.add(k.id);
    try {
      const key = publicKeyFrom(k.publicKey);
      const algorithm = algorithmOf(key);
      if (algorithm !== k.algorithm) {
        problems.push({ ...problem(file, `audit.keys.${i}.publicKey`, `the key is ${algorithm ?? key.asymmetricKeyType ?? 'of an unknown type'}, but algorithm says ${k.algorithm}`), line: at.line, col: at.col });
        return;
      }
      keys.push({ id: k.id, algorithm, key, validFrom: new Date(k.validFrom), ...(k.validUntil ? { validUntil: new Date(k.validUntil) } : {}) });
    } catch (e) {
      problems.push({ ...problem(file, `audit.keys.${i}.publicKey`, `not a public key: ${(e as Error).message}`, 'a base64 DER SubjectPublicKeyInfo'), line: at.line, col: at.col });
    }
  });
  if (problems.length) throw new ValidationError(problems);
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(audit.store)!;
  const c = audit.checkpoints ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(audit.checkpoints) : null;
  const review = reviewWithin ? parseDuration(reviewWithin) : undefined;
  return {
    fingerprint: fingerprint(audit), environment, file, bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, ''), retentionDays: audit.retentionDays,
    ...(c ? { checkpoints: { bucket: c[1]!, prefix: c[2]!.replace(/\/+$/, '') } } : {}),
    skewMs: audit.clockSkew ? parseDuration(audit.clockSkew) ?? defaultSkewMs : defaultSkewMs, keys,
    ...(review ? { breakGlassReviewMs: review } : {}),
  };
}

function fingerprint(audit: AuditPolicy): string {
  return sha256Hex(canonicalBytes(audit));
}

function problem(file: string, path: string, message: string, expected?: string): Problem {
  return { file, line: 0, col: 0, path, message, severity: 'error', ...(expected ? { expected } : {}) };
}

// The audit record: one per commit on main that an environment's sync applied (or a break-glass
// change), as an in-toto Statement v1 whose predicate carries the SOC 2 CC8.1 evidence (who
// asked, who approved, what was tested, what was deployed, when). Canonical JSON (RFC 8785) so
// the signed bytes are reproducible. Pure functions.

import canonicalize from 'canonicalize';
import { payloadType, sha256Hex, type Envelope } from './sign.js';
import type { Pin } from '../model/pins.js';

export const statementType = 'https://in-toto.io/Statement/v1';
export const predicateType = 'https://modelship.dev/audit/deployment/v1';

export interface Approval {
  login: string;
  at: string;
}

/** How the change reached main and who stood behind it. */
export interface ChangeEvidence {
  /** pull-request: merged through a PR; break-glass: a declared emergency change; direct: neither */
  kind: 'pull-request' | 'break-glass' | 'direct';
  pr: { number: number; url?: string; title?: string } | null;
  /** who asked: the pull request's author (or the commit's, without one) */
  author: string;
  mergedBy?: string;
  mergedAt?: string;
  approvers: Approval[];
  emergency: boolean;
  emergencyReason?: string;
  /** break-glass: the retroactive review is due by then (policy rollback.breakGlass.reviewWithin) */
  reviewBy?: string;
  /** where these facts came from: GitHub's API, or the merge commit's message and trailers */
  source: 'github' | 'git';
  /**
   * An A/B concluded without the test's verdict: the reason of the `AB-Override:` trailer (on the
   * merge commit, or the merged branch's tip). Added within predicate v1: optional, absent otherwise.
   */
  abOverride?: string;
}

export interface ModelChange {
  model: string;
  from?: Pin;
  to?: Pin;
}

export interface Lineage {
  artifact: { uri: string; sha256: string };
  codeRepo: string;
  codeCommit: string;
  trainingData: { uri: string; snapshot: string; sha256?: string };
  dbtManifestSha256?: string;
  hyperparameters: Record<string, number | string | boolean>;
  seed: number;
  pipelineRunId: string;
}

export interface SyncedObject {
  key: string;
  model?: string;
  target: string;
  op: string;
  outcome: string;
  appliedAt?: string;
  readyAt?: string;
  message?: string;
}

export interface AuditPredicate {
  environment: string;
  seq: number;
  /** sha256 of the previous record's envelope bytes; null for the first record */
  prev: { sha256: string } | null;
  /** the writer's clock */
  recordedAt: string;
  recorder: { id: 'modelship'; version: string };
  git: {
    repo: string;
    commit: string;
    parents: string[];
    tree: string;
    committedAt: string;
    subject: string;
    /** the incremental bundle of main up to this commit, stored beside the record */
    bundle: { key: string; sha256: string; size: number; from: string | null };
  };
  change: ChangeEvidence;
  /** what was tested: the gate report (digest of the text the reviewers saw) */
  tested: { report: { sha256: string; source: string; verdict?: string } | null };
  deployed: {
    /** converged: every object ready; not-converged: the sync failed somewhere; superseded: a later commit was synced before this one */
    result: 'converged' | 'not-converged' | 'superseded';
    /**
     * backwards: this commit is older on main than the previous record's, deployed after it (an
     * older agent, a forced sync, a break-glass): the environment went back. Absent: forward.
     * Added within predicate v1: optional, so every record written before reads the same.
     */
    direction?: 'backwards';
    startedAt?: string;
    finishedAt?: string;
    changes: ModelChange[];
    /** what the environment runs after this commit, with when each model's objects were seen ready */
    pins: Record<string, Pin & { liveAt?: string }>;
    objects: SyncedObject[];
  };
  /** the lineage of every version pinned after this commit, by model@version */
  lineage: Record<string, Lineage>;
  /**
   * On a record of a commit that changed the environment's audit keys: the keys as the policy now
   * lists them. A verifier pinning the earlier keys (trust root) takes a new key only from such a
   * record signed both by a key it trusts and by the new key itself. Optional: absent on every
   * other record, so records written before read the same.
   */
  trust?: { keys: Array<{ id: string; algorithm: 'ed25519' | 'ecdsa-p256-sha256'; publicKey: string; validFrom: string; validUntil?: string }> };
}

export interface AuditStatement {
  _type: typeof statementType;
  subject: Array<{ name: string; uri?: string; digest: Record<string, string> }>;
  predicateType: typeof predicateType;
  predicate: AuditPredicate;
}

/** RFC 8785 canonical JSON, as bytes. */
export function canonicalBytes(value: unknown): Buffer {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('cannot canonicalise an undefined value');
  return Buffer.from(text, 'utf8');
}

/** The statement for a predicate: subjects are the environment file at the commit and every pinned artifact. */
export function buildStatement(predicate: AuditPredicate, environmentFileSha256: string): AuditStatement {
  const subject: AuditStatement['subject'] = [
    { name: `environments/${predicate.environment}.yaml`, digest: { gitCommit: predicate.git.commit, sha256: environmentFileSha256 } },
  ];
  for (const [id, l] of Object.entries(predicate.lineage).sort(([a], [b]) => a.localeCompare(b))) {
    subject.push({ name: `model/${id}`, uri: l.artifact.uri, digest: { sha256: l.artifact.sha256 } });
  }
  return { _type: statementType, subject, predicateType, predicate };
}

/** The bytes stored for an envelope: canonical JSON too, so its digest (the next record's prev) is stable. */
export function envelopeBytes(envelope: Envelope): Buffer {
  return canonicalBytes(envelope);
}

/** Key of record `seq` of an environment's chain: zero-padded so keys sort in seq order. */
export function recordKey(prefix: string, environment: string, seq: number): string {
  return `${join(prefix, environment)}/records/${String(seq).padStart(12, '0')}.dsse.json`;
}

/**
 * Key of the bundle beside a record. A backwards record's commit was usually bundled before
 * (under the plain key): its own bundle (from the commit's first parent) is named with its seq.
 */
export function bundleKey(prefix: string, environment: string, commit: string, backwardsSeq?: number): string {
  return `${join(prefix, environment)}/bundles/${commit}${backwardsSeq === undefined ? '' : `-${backwardsSeq}`}.bundle`;
}

/** The seq a record key names, or undefined for keys that are not records. */
export function seqOfKey(key: string): number | undefined {
  const m = /\/records\/(\d{12})\.dsse\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

function join(prefix: string, environment: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p ? `${p}/${environment}` : environment;
}

/** The envelope as decoded: its payload is kept once, decoded (`payload`), not also as the base64 text. */
export type DecodedEnvelope = Omit<Envelope, 'payload'>;

export type Decoded = { ok: true; envelope: DecodedEnvelope; statement: AuditStatement; payload: Buffer; digest: string } | { ok: false; digest: string; reason: string };

/** Parses stored envelope bytes and its statement; says what is malformed instead of throwing. */
export function decodeRecord(bytes: Buffer): Decoded {
  const digest = sha256Hex(bytes);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(bytes.toString('utf8')) as Envelope;
  } catch (e) {
    return { ok: false, digest, reason: `not JSON (${(e as Error).message})` };
  }
  if (typeof envelope?.payload !== 'string' || !Array.isArray(envelope.signatures)) return { ok: false, digest, reason: 'not a DSSE envelope (payload or signatures missing)' };
  if (envelope.payloadType !== payloadType) return { ok: false, digest, reason: `payloadType is ${JSON.stringify(envelope.payloadType)}, expected ${payloadType}` };
  const payload = Buffer.from(envelope.payload, 'base64');
  let statement: AuditStatement;
  try {
    statement = JSON.parse(payload.toString('utf8')) as AuditStatement;
  } catch (e) {
    return { ok: false, digest, reason: `the payload is not JSON (${(e as Error).message})` };
  }
  if (statement?._type !== statementType || statement.predicateType !== predicateType || typeof statement.predicate?.seq !== 'number') {
    return { ok: false, digest, reason: `the payload is not a modelship deployment statement (${statementType}, ${predicateType})` };
  }
  // verify keeps every record's decoded form: holding each payload's base64 text too would double what
  // the garbage collector copies for a long trail.
  return { ok: true, envelope: { payloadType: envelope.payloadType, signatures: envelope.signatures }, statement, payload, digest };
}

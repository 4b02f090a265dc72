// `audit verify`'s core: given an environment's stored records, the trusted keys, git's view of
// main and the bundles' digests, finds everything wrong with the trail and names it. No I/O:
// the adapters read the store and git, this judges.

import type { KeyObject } from 'node:crypto';
import { type AuditPredicate, type AuditStatement, type Decoded, decodeRecord } from './record.js';
import { algorithmOf, pae, publicKeyFrom, verifySignature, type TrustedKey } from './sign.js';
import type { ObjectVersion } from './store.js';

export interface StoredRecord {
  key: string;
  /** the seq the key names */
  seq: number;
  bytes: Buffer;
  /** decodeRecord(bytes), when the caller has it already */
  decoded?: Decoded;
  /** when the store wrote it (ms since the epoch, the store's clock): key validity and order are judged by it, not by the signer's recordedAt */
  storedAt?: number;
  /** the key's versions and delete markers, oldest first, where the store keeps them */
  versions?: ObjectVersion[];
}

export interface CommitFact {
  commit: string;
  tree: string;
  parents: string[];
}

export interface LineCommit extends CommitFact {
  subject: string;
  /** paths this commit changed against its first parent */
  changed: string[];
}

export interface GitView {
  /** main's first-parent line, oldest first */
  line: LineCommit[];
  /** any commit in the repository, on main's line or not; undefined when git does not have it */
  commit(id: string): CommitFact | undefined;
}

/** What the store holds at a bundle key: its digest and size and the commits its header names; undefined when absent. */
export type BundleFact = { sha256: string; size: number; heads: string[]; versions?: ObjectVersion[] } | undefined;

export interface VerifyInput {
  environment: string;
  /** sorted by seq */
  records: StoredRecord[];
  keys: TrustedKey[];
  /** where `keys` come from, for messages (default policies/<env>.yaml audit.keys) */
  keysFrom?: string;
  git: GitView;
  bundles: Map<string, BundleFact>;
  /** clocks of writers and readers may disagree by this much without it being reported */
  skewMs: number;
  /** judge records from this seq on; earlier ones only anchor the chain */
  fromSeq?: number;
  /** bundles in the store that no record names, with the commits each holds */
  orphans?: Array<{ key: string; heads: string[]; versions?: ObjectVersion[] }>;
  /** signature checks done beforehand (on other threads), by `${seq}:${index}`; the rest are checked here */
  signatures?: Map<string, boolean>;
}

export interface Finding {
  severity: 'error' | 'warning';
  seq?: number;
  commit?: string;
  message: string;
}

export interface VerifiedRecord {
  seq: number;
  key: string;
  digest: string;
  /** the trusted keys whose signatures verified */
  keyids: string[];
  statement: AuditStatement;
}

export interface VerifyResult {
  environment: string;
  findings: Finding[];
  /** records that decoded and carry a valid signature by a trusted key, in seq order */
  records: VerifiedRecord[];
  /** SHA-256 of every stored record from seq 0 while their seqs follow each other: the leaves a checkpoint covers (checkpoints.ts) */
  digests: string[];
  checked: number;
  ok: boolean;
}

const short = (c: string) => c.slice(0, 12);

export function verifyTrail(input: VerifyInput): VerifyResult {
  const { environment, git, skewMs } = input;
  const findings: Finding[] = [];
  const envFile = `environments/${environment}.yaml`;
  const keys = new Map(input.keys.map((k) => [k.id, k]));
  /** the keys verify started with: a record's key rotation may add others (introducedKeys) */
  const initialIds = new Set(keys.keys());
  const position = new Map(git.line.map((c, i) => [c.commit, i]));
  const fromSeq = input.fromSeq ?? 0;
  const verified: VerifiedRecord[] = [];
  const recordedCommits = new Map<string, number>();
  const error = (seq: number | undefined, commit: string | undefined, message: string) => findings.push({ severity: 'error', ...(seq !== undefined ? { seq } : {}), ...(commit ? { commit } : {}), message });
  const warn = (seq: number, commit: string | undefined, message: string) => findings.push({ severity: 'warning', seq, ...(commit ? { commit } : {}), message });

  let previous: { seq: number; digest: string; recordedAt?: number; storedAt?: number; position?: number; commit?: string } | undefined;
  /** the seq of the last record that moved the environment backwards: commits after it on main may be recorded again */
  let wentBack: number | undefined;
  let firstPosition: number | undefined;
  let checked = 0;
  const first = input.records[0];
  if (!first) error(undefined, undefined, `no records for ${environment}`);
  else if (first.seq > fromSeq) error(first.seq, undefined, `the chain starts at seq ${first.seq}: ${range(fromSeq, first.seq - 1)} missing`);

  /**
   * The trusted keys whose signatures on the record verify. A record of a key rotation
   * (predicate.trust) may also be signed by the keys it introduces: those are checked against the
   * record's own list, and trusted from the next record on only if the record is signed by a key
   * already trusted and by the new key itself.
   */
  const signatures = (stored: StoredRecord, d: Extract<Decoded, { ok: true }>, fail: (m: string) => void): string[] => {
    const p = d.statement.predicate;
    const sigs = d.envelope.signatures;
    const introduced = introducedKeys(p.trust, keys, fail);
    const valid = checkSignatures(sigs, d.payload, d.envelope.payloadType, introduced.size ? new Map([...keys, ...introduced]) : keys, stored.storedAt ?? Date.parse(p.recordedAt), stored.storedAt !== undefined, skewMs,
      fail, environment,
      // the signature workers know only the keys verify started with
      (i) => (initialIds.has(sigs[i]?.keyid as string) ? input.signatures?.get(`${stored.seq}:${i}`) : undefined), input.keysFrom);
    const signedBy = valid.filter((id) => keys.has(id));
    if (valid.length && !signedBy.length) fail(`signed only by ${valid.join(', ')}, which the record itself introduces: not trusted`);
    if (signedBy.length) {
      for (const k of p.trust?.keys ?? []) {
        const adding = introduced.get(k.id);
        if (adding) {
          if (valid.includes(k.id)) keys.set(k.id, adding);
          else fail(`adds key ${JSON.stringify(k.id)} to the trail's keys without a signature by it: not trusted`);
        } else if (keys.has(k.id) && !initialIds.has(k.id)) {
          keys.set(k.id, { ...keys.get(k.id)!, ...(k.validUntil ? { validUntil: new Date(k.validUntil) } : {}) });
        }
      }
    }
    return signedBy;
  };

  const digests: string[] = [];
  for (const stored of input.records) {
    const judged = stored.seq >= fromSeq;
    const label = `record ${stored.seq}`;
    const d = stored.decoded ?? decodeRecord(stored.bytes);
    if (stored.seq === digests.length) digests.push(d.digest);
    if (previous && stored.seq > previous.seq + 1 && judged) {
      error(previous.seq + 1, undefined, `${range(previous.seq + 1, stored.seq - 1)} missing: the chain jumps from ${previous.seq} to ${stored.seq}`);
    }
    if (!d.ok) {
      const markers = stored.versions?.length && stored.versions.every((v) => v.deleteMarker) ? stored.versions : undefined;
      // A key with only delete markers: a DELETE without a version id of a key that held nothing (or whose versions were removed) adds one all the same.
      if (judged && markers) error(stored.seq, undefined, `${label} (${stored.key}) has no version to read, only ${markers.length === 1 ? 'a delete marker' : `${markers.length} delete markers`} written at ${markers.map((v) => v.storedAt.toISOString()).join(', ')} (a DELETE without a version id)`);
      else if (judged) error(stored.seq, undefined, `${label} (${stored.key}) is unreadable: ${d.reason}`);
      previous = { seq: stored.seq, digest: d.digest };
      continue;
    }
    const p = d.statement.predicate;
    const commit = p.git?.commit;
    const at = Date.parse(p.recordedAt);
    if (!judged) {
      // Only anchors the chain, but a key rotation in it still decides which keys sign later records.
      if (p.trust) signatures(stored, d, () => undefined);
      if (p.deployed?.direction === 'backwards') wentBack = stored.seq;
      previous = { seq: stored.seq, digest: d.digest, recordedAt: at, ...(stored.storedAt !== undefined ? { storedAt: stored.storedAt } : {}), commit, ...(position.has(commit) ? { position: position.get(commit)! } : {}) };
      continue;
    }
    checked++;
    const where = `${label} (commit ${short(commit ?? '?')})`;
    for (const m of versionFindings(`${label} (${stored.key})`, stored.versions)) error(stored.seq, commit, m);

    // Signatures: by a trusted key, within its validity, over exactly these payload bytes (and a
    // key rotation's new keys taken: signatures()).
    const signedBy = signatures(stored, d, (m) => error(stored.seq, commit, `${where}: ${m}`));

    if (p.seq !== stored.seq) error(stored.seq, commit, `${where}: stored as seq ${stored.seq} but signed as seq ${p.seq}: records were moved or swapped`);
    if (p.environment !== environment) error(stored.seq, commit, `${where}: belongs to environment ${JSON.stringify(p.environment)}, found in ${environment}'s chain`);

    // The chain: prev is the digest of the stored bytes of the record before.
    if (stored.seq === 0) {
      if (p.prev !== null) error(stored.seq, commit, `${where}: the first record must have prev null, found ${JSON.stringify(p.prev)}`);
    } else if (previous && previous.seq === stored.seq - 1) {
      if (p.prev?.sha256 !== previous.digest) {
        error(stored.seq, commit, `${where}: prev is ${p.prev?.sha256 ?? 'null'} but record ${previous.seq} has sha256 ${previous.digest}: record ${previous.seq} was changed or replaced after this one was written`);
      }
    }

    // Git: the commit exists with the recorded tree and parents, on main's first-parent line, in order.
    const fact = commit ? git.commit(commit) : undefined;
    const pos = position.get(commit);
    if (!fact) {
      error(stored.seq, commit, `${where}: commit ${commit} does not exist in the repository (main was rewritten and the commit is gone?)`);
    } else {
      if (fact.tree !== p.git.tree) error(stored.seq, commit, `${where}: git has tree ${fact.tree} for the commit, the record says ${p.git.tree}`);
      if (fact.parents.join(' ') !== (p.git.parents ?? []).join(' ')) error(stored.seq, commit, `${where}: git has parents ${fact.parents.join(', ') || 'none'}, the record says ${(p.git.parents ?? []).join(', ') || 'none'}`);
      if (pos === undefined) error(stored.seq, commit, `${where}: commit ${commit} is not on main's first-parent line: main was rewritten (force-pushed) after it was recorded`);
    }
    // A record marked backwards (signed, so the mark is the writer's) is a deployment of an older
    // commit after a newer one: reported, not an error. Unmarked, an older commit is disorder.
    const backwards = p.deployed?.direction === 'backwards';
    if (backwards) wentBack = stored.seq;
    if (pos !== undefined) {
      if (backwards && previous?.position !== undefined) {
        if (pos >= previous.position) error(stored.seq, commit, `${where}: marked as moving backwards, but its commit comes ${pos === previous.position ? 'at the same place as' : 'after'} record ${previous.seq}'s on main`);
        else warn(stored.seq, commit, `${where}: a backwards deployment: ${environment} went back from ${short(previous.commit ?? '?')} (record ${previous.seq}) to this older commit${p.deployed.finishedAt ? ` at ${p.deployed.finishedAt}` : ''}`);
      } else if (previous?.position !== undefined && pos <= previous.position) {
        error(stored.seq, commit, `${where}: its commit comes ${pos === previous.position ? 'at the same place as' : 'before'} record ${previous.seq}'s on main: records are out of order`);
      }
      firstPosition ??= pos;
    }
    const twice = recordedCommits.get(commit);
    // Recorded again after the environment went back past it: a second deployment, not a copy.
    if (twice !== undefined && !(wentBack !== undefined && wentBack > twice)) error(stored.seq, commit, `${where}: commit ${short(commit)} is already recorded as seq ${twice}`);
    else recordedCommits.set(commit, stored.seq);

    // The bundle beside the record: present, whole, and holding the commit.
    const b = p.git.bundle;
    const bf = b ? input.bundles.get(b.key) : undefined;
    if (!b) error(stored.seq, commit, `${where}: names no git bundle`);
    else if (!bf) error(stored.seq, commit, `${where}: bundle ${b.key} is missing from the store`);
    else {
      for (const m of versionFindings(`bundle ${b.key}`, bf.versions)) error(stored.seq, commit, `${where}: ${m}`);
      if (bf.sha256 !== b.sha256 || bf.size !== b.size) {
        error(stored.seq, commit, `${where}: bundle ${b.key} has sha256 ${bf.sha256} (${bf.size} bytes), the record says ${b.sha256} (${b.size} bytes): the bundle was truncated or altered`);
      } else if (!bf.heads.includes(commit)) error(stored.seq, commit, `${where}: bundle ${b.key} does not hold commit ${commit}`);
    }

    // Time: the store's clock, where it has one, is what counts; the signer's recordedAt is a claim
    // that must agree with it (a leaked key cannot backdate a record into its validity).
    if (stored.storedAt !== undefined) {
      const gap = stored.storedAt - at;
      if (Math.abs(gap) > skewMs) {
        error(stored.seq, commit, `${where}: claims it was recorded at ${p.recordedAt}, but the store wrote it at ${new Date(stored.storedAt).toISOString()}, ${duration(Math.abs(gap))} ${gap > 0 ? 'later' : 'earlier'}: more than the allowed skew (${Math.round(skewMs / 1000)} s)${gap > 0 ? ': backdated?' : ''}`);
      }
      if (previous?.storedAt !== undefined && stored.storedAt < previous.storedAt) {
        error(stored.seq, commit, `${where}: the store wrote it at ${new Date(stored.storedAt).toISOString()}, before record ${previous.seq} (${new Date(previous.storedAt).toISOString()}): records were not written in seq order`);
      }
    } else if (previous?.recordedAt !== undefined && at < previous.recordedAt - skewMs) {
      // No store time: writers on different machines disagree a little; a large step back is worth a look.
      warn(stored.seq, commit, `${where}: recorded at ${p.recordedAt}, ${Math.round((previous.recordedAt - at) / 1000)} s before record ${previous.seq}: the writers' clocks disagree by more than the allowed skew (${Math.round(skewMs / 1000)} s); order follows seq`);
    }
    // SOC 2 CC8.1: approval by someone other than the author, or a declared emergency.
    const c = p.change;
    if (c && c.kind !== 'break-glass' && !c.approvers?.some((a) => a.login !== c.author)) {
      warn(stored.seq, commit, `${where}: no approval by someone other than the author (${c.author || 'unknown'})${c.kind === 'direct' ? '; pushed to main without a pull request' : ''}`);
    }
    if (signedBy.length) verified.push({ seq: stored.seq, key: stored.key, digest: d.digest, keyids: signedBy, statement: d.statement });
    previous = { seq: stored.seq, digest: d.digest, recordedAt: at, ...(stored.storedAt !== undefined ? { storedAt: stored.storedAt } : {}), commit, ...(pos !== undefined ? { position: pos } : {}) };
  }

  // Completeness: after the first judged record, every first-parent commit that changed what
  // the environment runs or how its changes are judged (its environment file, its policy) has a
  // record, as mirror writes one for each (mirror.ts `relevant`).
  const policyFile = `policies/${environment}.yaml`;
  if (firstPosition !== undefined) {
    for (let i = firstPosition + 1; i < git.line.length; i++) {
      const c = git.line[i]!;
      const which = [envFile, policyFile].filter((f) => c.changed.includes(f));
      if (which.length && !recordedCommits.has(c.commit)) {
        const later = [...recordedCommits.keys()].some((k) => (position.get(k) ?? -1) > i);
        error(undefined, c.commit, `commit ${short(c.commit)} ("${c.subject}") changed ${which.join(' and ')} on main but has no record${later ? '' : ' (it is newer than the last record: was it mirrored?)'}`);
      }
    }
  }
  // A bundle no record names: a mirror that stopped between writing it and its record leaves one
  // (the next mirror records the commit), but one holding a commit that is not on main any more is
  // what a deleted record leaves when main was rewound to hide it.
  for (const o of input.orphans ?? []) {
    for (const m of versionFindings(`bundle ${o.key}`, o.versions)) findings.push({ severity: 'error', message: m });
    const gone = o.heads.filter((h) => !position.has(h));
    if (gone.length) findings.push({ severity: 'error', commit: gone[0]!, message: `bundle ${o.key} holds ${gone.map(short).join(', ')}, which no record names and which is not on main's first-parent line: a record was removed and main rewound?` });
    else findings.push({ severity: 'warning', message: `bundle ${o.key} is named by no record${o.heads.length ? ` (it holds ${o.heads.map(short).join(', ')}, on main)` : ''}: a mirror that stopped before writing its record leaves one; the next mirror records the commit` });
  }
  return { environment, findings, records: verified, digests, checked, ok: !findings.some((f) => f.severity === 'error') };
}

/**
 * The keys a rotation record lists that are not trusted yet, parsed; a listed key whose id is
 * trusted with another public key is reported and not taken (ids name one key for good).
 */
function introducedKeys(trust: AuditPredicate['trust'], keys: Map<string, TrustedKey>, fail: (m: string) => void): Map<string, TrustedKey> {
  const out = new Map<string, TrustedKey>();
  for (const k of trust?.keys ?? []) {
    let key: KeyObject;
    try {
      key = publicKeyFrom(k.publicKey);
    } catch (e) {
      fail(`lists key ${JSON.stringify(k.id)} whose public key does not parse: ${(e as Error).message}`);
      continue;
    }
    const trusted = keys.get(k.id);
    if (trusted) {
      if (!trusted.key.equals(key)) fail(`lists key ${JSON.stringify(k.id)} with another public key than the one trusted under that id: not taken`);
      continue;
    }
    if (algorithmOf(key) !== k.algorithm) {
      fail(`lists key ${JSON.stringify(k.id)} as ${k.algorithm}, but it is ${algorithmOf(key) ?? 'of another type'}`);
      continue;
    }
    out.set(k.id, { id: k.id, algorithm: k.algorithm, key, validFrom: new Date(k.validFrom), ...(k.validUntil ? { validUntil: new Date(k.validUntil) } : {}) });
  }
  return out;
}

function checkSignatures(
  sigs: Array<{ keyid: string; sig: string }>, payload: Buffer, type: string, keys: Map<string, TrustedKey>,
  at: number, fromStore: boolean, skewMs: number, fail: (m: string) => void, environment: string, checked: (index: number) => boolean | undefined, keysFrom?: string,
): string[] {
  if (!sigs.length) {
    fail('carries no signature');
    return [];
  }
  let pre: Buffer | undefined;
  const data = () => (pre ??= pae(type, payload));
  const ok: string[] = [];
  for (const [i, s] of sigs.entries()) {
    const key = keys.get(s.keyid);
    if (!key) {
      fail(`signed by unknown key ${JSON.stringify(s.keyid)} (not among ${keysFrom ? `the keys ${keysFrom} pins` : `policies/${environment}.yaml audit.keys`})`);
      continue;
    }
    if (!(checked(i) ?? verifySignature(key.algorithm, key.key, data(), Buffer.from(s.sig, 'base64')))) {
      fail(`the signature by key ${JSON.stringify(s.keyid)} does not verify: the record was changed after it was signed`);
      continue;
    }
    if ((key.validFrom && at < key.validFrom.getTime() - skewMs) || (key.validUntil && at > key.validUntil.getTime() + skewMs)) {
      const validity = `${key.validFrom?.toISOString() ?? 'always'} to ${key.validUntil?.toISOString() ?? 'now'}`;
      fail(fromStore
        ? `signed by key ${JSON.stringify(s.keyid)}, valid ${validity}, but the store wrote the record at ${new Date(at).toISOString()}: outside the key's validity`
        : `signed by key ${JSON.stringify(s.keyid)} at ${new Date(at).toISOString()}, outside the key's validity (${validity})`);
      continue;
    }
    ok.push(key.id);
  }
  return ok;
}

/**
 * What a key's versions say of tampering. Object Lock keeps every version it protects, but S3
 * still lets anyone with s3:DeleteObject add a delete marker (a DELETE without a version id),
 * which hides the object from listings and plain reads, and s3:PutObject write a new version over
 * it: both are reported; verify reads the first version.
 */
export function versionFindings(what: string, versions: ObjectVersion[] | undefined): string[] {
  if (!versions || versions.length < 2) return [];
  const out: string[] = [];
  const at = (v: ObjectVersion) => v.storedAt.toISOString();
  const latest = versions[versions.length - 1]!;
  for (const v of versions.slice(0, -1)) if (v.deleteMarker) out.push(`${what} was deleted at ${at(v)} (a delete marker) and written again`);
  if (latest.deleteMarker) out.push(`${what} is hidden by a delete marker written at ${at(latest)} (a DELETE without a version id): it was deleted; verify read the version under it`);
  const written = versions.filter((v) => !v.deleteMarker);
  if (written.length > 1) out.push(`${what} was overwritten: ${written.length} versions, the first written at ${at(written[0]!)}, the newest at ${at(written[written.length - 1]!)}; verify read the first`);
  return out;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

function range(from: number, to: number): string {
  return from === to ? `seq ${from} is` : `seq ${from} to ${to} are`;
}

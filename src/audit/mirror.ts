// `audit mirror`: after the sync agent applied a commit of main to an environment, append that
// commit (and any commit between the last record and it that changed the environment but was
// never synced on its own) to the environment's chain: an incremental git bundle, then the
// signed record, each written once. Idempotent: mirroring a commit already recorded does
// nothing; two mirrors racing for one seq leave one record and the loser moves on. A deployment
// of an older commit than the last record's (an older agent, a forced sync, a break-glass) is
// recorded too, on its own, marked deployed.direction "backwards": the chain says what ran.

import { loadDocument, readDocument } from '../config/load.js';
import type { Policy, VersionManifest } from '../config/types.js';
import { RefusedError, UsageError } from '../errors.js';
import { readPins } from '../config/pins.js';
import type { DeploymentRecord } from '../model/deployments.js';
import { bundleHeads, changedFiles, commitInfo, createBundle, fileAt, firstParentRange, type CommitInfo } from '../adapters/git/audit.js';
import type { ReportDigest } from './facts.js';
import type { AuditSettings } from './policy.js';
import {
  buildStatement, bundleKey, canonicalBytes, decodeRecord, envelopeBytes, recordKey, seqOfKey,
  type AuditPredicate, type ChangeEvidence, type Lineage, type ModelChange,
} from './record.js';
import { sha256Hex, signEnvelope, type Signer } from './sign.js';
import type { AuditStore } from './store.js';
import type { Pin } from '../model/pins.js';

export interface MirrorRequest {
  root: string;
  environment: string;
  /** the commit the sync applied (main's head when the agent reconciled) */
  commit: string;
  settings: AuditSettings;
  store: AuditStore;
  signer: Signer;
  /**
   * Signers of keys a recorded commit adds to the policy's audit.keys (a rotation): such a record
   * is signed by `signer` and by each of them, which is how a verifier pinning the earlier keys
   * comes to trust the new one (trust-root.ts).
   */
  nextSigners?: Signer[];
  repoName: string;
  recorderVersion: string;
  /** the deployment record the sync wrote for a commit, if there is one */
  deployment(commit: string): Promise<DeploymentRecord | undefined>;
  /** who asked and approved, and (from GitHub) the gate report */
  change(info: CommitInfo, sideTip: CommitInfo | undefined): Promise<{ change: ChangeEvidence; report?: ReportDigest }>;
  /** the gate report of `commit`, when given as a file */
  report?: ReportDigest;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface MirrorResult {
  environment: string;
  written: Array<{ seq: number; commit: string; key: string; bundle: string; result: AuditPredicate['deployed']['result']; direction?: 'backwards' }>;
  /** why nothing was written, when nothing was */
  nothing?: string;
}

export interface ChainHead {
  seq: number;
  digest: string;
  commit: string;
  pins: Record<string, Pin>;
  /** when the deployment it records finished (the record's time when it has none) */
  deployedAt: string;
}

/** The newest record of an environment's chain, or undefined for an empty chain. */
export async function chainHead(store: AuditStore, prefix: string, environment: string): Promise<ChainHead | undefined> {
  const keys = (await store.list(recordKey(prefix, environment, 0).replace(/[^/]+$/, ''))).filter((k) => seqOfKey(k) !== undefined);
  const last = keys[keys.length - 1];
  if (!last) return undefined;
  const bytes = await store.read(last);
  const d = bytes ? decodeRecord(bytes) : undefined;
  if (!d?.ok) throw new RefusedError(`the last record of ${environment} (${last}) is unreadable${d && !d.ok ? `: ${d.reason}` : ''}`, 'run modelship audit verify');
  const p = d.statement.predicate;
  const pins = Object.fromEntries(Object.entries(p.deployed.pins).map(([m, { liveAt: _l, ...pin }]) => [m, pin]));
  return { seq: seqOfKey(last)!, digest: d.digest, commit: p.git.commit, pins, deployedAt: p.deployed.finishedAt ?? p.recordedAt };
}

export async function mirror(req: MirrorRequest): Promise<MirrorResult> {
  // A lost race for a seq restarts from the new head; a few rounds settle any realistic contention.
  for (let round = 1; ; round++) {
    const outcome = await mirrorOnce(req);
    if (outcome !== 'raced') return outcome;
    if (round >= 5) throw new RefusedError(`${req.environment}: lost the race for the next record ${round} times`, 'another mirror keeps writing; re-run when it is done');
    req.log?.(`${req.environment}: another mirror wrote the next record first; starting again from it`);
  }
}

async function mirrorOnce(req: MirrorRequest): Promise<MirrorResult | 'raced'> {
  const { root, environment, commit, settings, store } = req;
  const envFile = `environments/${environment}.yaml`;
  const relevant = (files: string[]) => files.includes(envFile) || files.includes(`policies/${environment}.yaml`);
  const head = await chainHead(store, settings.prefix, environment);
  const target = await req.deployment(commit);
  if (target && (target.environment !== environment || target.commit !== commit)) {
    throw new UsageError(`the deployment record for ${commit.slice(0, 12)} is for ${target.environment} at ${target.commit.slice(0, 12)}`);
  }

  let commits: string[];
  let backwards = false;
  if (!head) {
    commits = [commit]; // the trail starts here
  } else {
    if (head.commit === commit) return { environment, written: [], nothing: `${commit.slice(0, 12)} is already recorded (seq ${head.seq})` };
    const range = await firstParentRange(root, head.commit, commit);
    if (!range) {
      if (await firstParentRange(root, commit, head.commit)) {
        // An older commit deployed after the last record's: the environment moved backwards. Its
        // own deployment record says so (it finished after the last record's deployment); one
        // that finished before is the deployment the chain has already passed.
        if (!target) throw new UsageError(`no deployment record for ${commit.slice(0, 12)} in ${environment}, which is older than the last record (seq ${head.seq}, ${head.commit.slice(0, 12)}): if it was deployed, run modelship sync --record-dir DIR for it and pass the same --record-dir; nothing was written`);
        if (Date.parse(target.finishedAt) <= Date.parse(head.deployedAt)) {
          return { environment, written: [], nothing: `${commit.slice(0, 12)} is older than the last record (seq ${head.seq}, ${head.commit.slice(0, 12)}), and its deployment record (finished ${target.finishedAt}) is not newer than that record's deployment (${head.deployedAt}): not a deployment after it` };
        }
        backwards = true;
        commits = [commit];
      } else {
          throw new RefusedError(`${environment}: the last record's commit ${head.commit.slice(0, 12)} (seq ${head.seq}) is not on the first-parent line of ${commit.slice(0, 12)}: main was rewritten (force-pushed) since`, 'run modelship audit verify; nothing was written');
      }
    } else {
      commits = [];
      for (const c of range) {
        const writes = c === commit && !!target?.objects.length;
        if (writes || relevant(await changedFiles(root, c))) commits.push(c);
      }
      if (!commits.length) return { environment, written: [], nothing: `nothing changed in ${environment} since the last record (seq ${head.seq}) and the sync wrote nothing` };
    }
  }
  if (!target) throw new UsageError(`no deployment record for ${commit.slice(0, 12)} in ${environment}: run modelship sync --record-dir DIR first and pass the same --record-dir`);

  const result: MirrorResult = { environment, written: [] };
  let prev = head;
  let prevPins = head?.pins ?? (await pinsAt(root, `${commit}^`, envFile));
  for (const c of commits) {
    const seq = (prev?.seq ?? -1) + 1;
    const info = (await commitInfo(root, c))!;
    const sideTip = info.parents[1] ? await commitInfo(root, info.parents[1]) : undefined;
    const envBytes = (await fileAt(root, c, envFile)) ?? Buffer.alloc(0);
    const pins = readPins(envBytes.length ? envBytes : undefined, envFile).pins ?? {};
    // A commit passed again after the environment went back: its deployment record, if any, is
    // from before the chain's head (the first time), so this time it was superseded.
    const own = c === commit ? target : await req.deployment(c);
    const deployment = own && head && c !== commit && Date.parse(own.finishedAt) <= Date.parse(head.deployedAt) ? undefined : own;

    // The bundle first: the record names its digest. If a racing mirror stored one for this commit, that one counts.
    const bKey = bundleKey(settings.prefix, environment, c, backwards ? seq : undefined);
    // Backwards, the previous record's commit descends from this one: the bundle starts at its first parent instead.
    const bundleFrom = backwards ? info.parents[0] ?? null : prev?.commit ?? null;
    let bundle = await createBundle(root, bundleFrom, c);
    if ((await store.writeOnce(bKey, bundle, 'application/x-git-bundle')) === 'exists') {
      bundle = (await store.read(bKey))!;
      if (!bundleHeads(bundle)?.includes(c)) throw new RefusedError(`${bKey} exists but is not a bundle of ${c.slice(0, 12)}`, 'run modelship audit verify');
    }
    const facts = await req.change(info, sideTip);
    const predicate: AuditPredicate = {
      environment, seq, prev: prev ? { sha256: prev.digest } : null,
      recordedAt: (req.now ?? (() => new Date()))().toISOString(),
      recorder: { id: 'modelship', version: req.recorderVersion },
      git: {
        repo: req.repoName, commit: c, parents: info.parents, tree: info.tree, committedAt: info.committedAt, subject: info.subject,
        bundle: { key: bKey, sha256: sha256Hex(bundle), size: bundle.length, from: bundleFrom },
      },
      change: facts.change,
      tested: { report: (c === commit ? req.report : undefined) ?? facts.report ?? null },
      deployed: { ...deployedPart(deployment, prevPins, pins), ...(backwards ? { direction: 'backwards' as const } : {}) },
      lineage: await lineageAt(root, c, pins),
    };
    // A commit that changed the environment's audit keys: the record lists them, and is signed by each new one too.
    // The genesis (seq 0) always names the keys the trail starts with, whatever the commit changed.
    const trust = await trustChange(root, environment, c, seq === 0 ? undefined : prev?.commit ?? info.parents[0]);
    const added = trust ? trust.added : [];
    if (trust) predicate.trust = { keys: trust.keys };
    const more = (req.nextSigners ?? []).filter((s) => added.includes(s.keyid));
    const unsigned = added.filter((id) => !more.some((s) => s.keyid === id));
    if (unsigned.length) req.log?.(`${environment}: seq ${seq} adds key${unsigned.length === 1 ? '' : 's'} ${unsigned.join(', ')} to the trail's keys without ${unsigned.length === 1 ? 'its' : 'their'} signature: a verifier pinning the earlier keys will not trust ${unsigned.length === 1 ? 'it' : 'them'} (sign with the next key too)`);
    const payload = canonicalBytes(buildStatement(predicate, sha256Hex(envBytes)));
    const bytes = envelopeBytes(await signEnvelope(payload, req.signer, more));
    const key = recordKey(settings.prefix, environment, seq);
    if ((await store.writeOnce(key, bytes, 'application/json')) === 'exists') {
      const theirs = decodeRecord((await store.read(key))!);
      // Same commit: another mirror recorded it; continue from its record. Another commit took the seq: start over.
      if (!theirs.ok || theirs.statement.predicate.git.commit !== c) return 'raced';
      req.log?.(`${environment}: seq ${seq} (${c.slice(0, 12)}) was recorded by another mirror meanwhile`);
      prev = { seq, digest: theirs.digest, commit: c, pins, deployedAt: theirs.statement.predicate.deployed.finishedAt ?? theirs.statement.predicate.recordedAt };
    } else {
      result.written.push({ seq, commit: c, key, bundle: bKey, result: predicate.deployed.result, ...(backwards ? { direction: 'backwards' as const } : {}) });
      req.log?.(`${environment}: recorded seq ${seq} for ${c.slice(0, 12)} (${describeChange(facts.change)}${predicate.deployed.result === 'superseded' ? ', superseded by a later sync' : ''}${backwards ? `; moving backwards from seq ${prev!.seq} (${prev!.commit.slice(0, 12)})` : ''})`);
      prev = { seq, digest: sha256Hex(bytes), commit: c, pins, deployedAt: predicate.deployed.finishedAt ?? predicate.recordedAt };
    }
    prevPins = pins;
  }
  return result;
}

type TrustKeys = NonNullable<AuditPredicate['trust']>['keys'];

/** The policy's audit keys at `commit` when they differ from those at `before`, with the ids that are new. */
async function trustChange(root: string, environment: string, commit: string, before: string | undefined): Promise<{ keys: TrustKeys; added: string[] } | undefined> {
  const now = await auditKeysAt(root, commit, environment);
  const was = before ? await auditKeysAt(root, before, environment) : [];
  if (!now || JSON.stringify(now) === JSON.stringify(was ?? [])) return undefined;
  // Keys where there were none start the trail's trust (what a trust root pins): nothing to countersign.
  if (!was?.length) return { keys: now, added: [] };
  const known = new Map(was.map((k) => [k.id, k.publicKey]));
  return { keys: now, added: now.filter((k) => known.get(k.id) !== k.publicKey).map((k) => k.id) };
}

async function auditKeysAt(root: string, commit: string, environment: string): Promise<TrustKeys | undefined> {
  const file = `policies/${environment}.yaml`;
  const bytes = await fileAt(root, commit, file);
  if (!bytes) return undefined;
  const keys = loadDocument<Policy>(file, bytes, 'policy').loaded?.data.audit?.keys;
  return keys?.map((k) => ({ id: k.id, algorithm: k.algorithm, publicKey: k.publicKey, validFrom: k.validFrom, ...(k.validUntil ? { validUntil: k.validUntil } : {}) }));
}

function describeChange(c: ChangeEvidence): string {
  return c.kind === 'pull-request' && c.pr ? `PR #${c.pr.number}` : c.kind === 'break-glass' ? 'break-glass' : 'direct push';
}

async function pinsAt(root: string, rev: string, file: string): Promise<Record<string, Pin>> {
  const bytes = await fileAt(root, rev, file);
  return readPins(bytes, file).pins ?? {};
}

function samePin(a: Pin | undefined, b: Pin | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function deployedPart(d: DeploymentRecord | undefined, before: Record<string, Pin>, after: Record<string, Pin>): AuditPredicate['deployed'] {
  const changes: ModelChange[] = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    .filter((m) => !samePin(before[m], after[m]))
    .map((m) => ({ model: m, ...(before[m] ? { from: before[m] } : {}), ...(after[m] ? { to: after[m] } : {}) }));
  const pins: AuditPredicate['deployed']['pins'] = {};
  for (const [model, pin] of Object.entries(after)) {
    // When this sync saw the model's objects ready: the latest readiness among them.
    const times = (d?.objects ?? []).filter((o) => o.model === model).map((o) => o.readyAt ?? o.appliedAt).filter((t): t is string => !!t).sort();
    const liveAt = times[times.length - 1] ?? (changes.some((c) => c.model === model) ? d?.finishedAt : undefined);
    pins[model] = { ...pin, ...(liveAt ? { liveAt } : {}) };
  }
  if (!d) return { result: 'superseded', changes, pins, objects: [] };
  return {
    result: d.converged ? 'converged' : 'not-converged', startedAt: d.startedAt, finishedAt: d.finishedAt, changes, pins,
    objects: d.objects.map((o) => ({ ...o })),
  };
}

/** The lineage of every version pinned, from its manifest at the commit. */
async function lineageAt(root: string, commit: string, pins: Record<string, Pin>): Promise<Record<string, Lineage>> {
  const out: Record<string, Lineage> = {};
  for (const [model, pin] of Object.entries(pins)) {
    for (const version of [pin.version, pin.canary?.version, pin.shadow?.version]) {
      if (!version || out[`${model}@${version}`]) continue;
      const file = `models/${model}/versions/${version}.yaml`;
      const bytes = await fileAt(root, commit, file);
      if (!bytes) continue;
      // What is signed must be what the schema promises: a manifest that fails it is refused, with file, line and column.
      const { data: m } = readDocument<VersionManifest>(file, bytes, 'version', `${file} at ${commit.slice(0, 12)}`);
      const l = m.lineage;
      out[`${model}@${version}`] = {
        artifact: { uri: m.artifact.uri, sha256: m.artifact.sha256 },
        codeRepo: l.codeRepo, codeCommit: l.codeCommit,
        trainingData: { uri: l.trainingData.uri, snapshot: l.trainingData.snapshot, ...(l.trainingData.sha256 ? { sha256: l.trainingData.sha256 } : {}) },
        ...(l.dbt?.manifestSha256 ? { dbtManifestSha256: l.dbt.manifestSha256 } : {}),
        hyperparameters: l.hyperparameters, seed: l.seed, pipelineRunId: l.pipelineRunId,
      };
    }
  }
  return out;
}

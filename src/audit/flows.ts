// The audit flows behind `modelship audit mirror|verify|trace`: which settings, store, signer
// and git facts each needs, and the order they run in. The command parses flags and prints.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefusedError, UsageError } from '../errors.js';
import type { ReportDigest } from './facts.js';
import { fileAt, folderEntries, repositoryName, resolveCommit } from '../adapters/git/audit.js';
import { gitDirectory } from '../adapters/git/repo.js';
import { auditLocation, auditSettings, defaultSkewMs, type AuditSettings } from './policy.js';
import { sha256Hex } from './sign.js';
import type { MirrorResult } from './mirror.js';
import type { CheckpointPlace } from './checkpoints.js';
import type { KeyRootContext, TrustRoot } from './trust-root.js';
import type { Signer } from './sign.js';
import { trustedSigner, type SigningKeySource } from './signer.js';
import { DirectoryStore, originalVersion, type AuditStore } from './store.js';
import { trace, type TraceAnswer } from './trace.js';
import { currentIndex, readIndexFile, refreshIndex, saveIndex, verifyEnvironment, type IndexSource } from './trail.js';
import type { VerifyResult } from './verify.js';
import type { Policy } from '../config/types.js';
import type { DeploymentRecord } from '../model/deployments.js';
import type { GitHubClient, RepoRef } from '../adapters/github/client.js';

export interface MirrorFlowRequest {
  root: string;
  environment: string;
  rev: string;
  /** the folder sync --record-dir wrote the deployment records to */
  recordDir: string;
  /** the gate report of the commit, as a file */
  reportFile?: string;
  key: SigningKeySource;
  /** the key a key rotation brings in, to countersign the record of the commit that adds it (mirror.ts nextSigners) */
  nextKey?: SigningKeySource;
  /** --store: a folder or an s3:// location instead of the policy's bucket */
  store?: string;
  /** --checkpoint-store: a folder or an s3:// location instead of the policy's audit.checkpoints */
  checkpointStore?: string;
  /** who asked and approved, read from GitHub instead of commit trailers */
  github: boolean;
  recorderVersion: string;
  log(line: string): void;
}

/** Records the environment's synced commits not yet in its trail: signed, chained, written once. */
export async function mirrorTrail(req: MirrorFlowRequest): Promise<MirrorResult & { store: string; checkpoint?: MirrorCheckpoint }> {
  const { root, environment, recordDir } = req;
  const commit = await resolveCommit(root, req.rev);
  const settings = await auditSettings(root, commit, environment);
  // Loaded here: verify and trace never read deployment records (the config loader and YAML parser they pull in are start-up time for every trace).
  const [{ mirror }, { changeFromGit }, { readDeploymentRecord }] = await Promise.all([import('./mirror.js'), import('./facts.js'), import('../config/records.js')]);
  const report = req.reportFile ? await readReport(req.reportFile) : undefined;
  const signer = await trustedSigner(req.key, settings);
  const next = await nextSigner(req.nextKey, settings);
  const store = await storeFor(settings, req.store);
  const gh = req.github ? githubFor(root) : undefined;
  const repoName = process.env.GITHUB_REPOSITORY ?? (await repositoryName(root));
  const result = await mirror({
    root, environment, commit, settings, store, signer, ...(next ? { nextSigners: [next] } : {}), repoName, recorderVersion: req.recorderVersion,
    deployment: async (c) => readDeploymentRecord(join(recordDir, environment, `${c}.json`)),
    change: async (info, side) => {
      if (!gh) return { change: changeFromGit(info, side, settings.breakGlassReviewMs) };
      const { changeFromGitHub } = await import('./github.js');
      return changeFromGitHub((await gh).client, (await gh).repo, info, side, settings.breakGlassReviewMs, settings.approvals);
    },
    ...(report ? { report } : {}),
    now: recordTime,
    log: req.log,
  });
  const checkpoint = await publishFor(settings, store, signer, req.checkpointStore);
  return { ...result, store: store.location, ...(checkpoint ? { checkpoint } : {}) };
}

/** The rotation's new key, when one is named: it must be one the policy at the commit trusts, and valid now. */
async function nextSigner(source: SigningKeySource | undefined, settings: AuditSettings): Promise<Signer | undefined> {
  return source && (source.kmsKey || source.keyFile || source.pem) ? trustedSigner(source, settings) : undefined;
}

/** After a mirror: the trail's checkpoint, where the policy (or `override`) says; undefined when nowhere is. */
async function publishFor(settings: AuditSettings, records: AuditStore, signer: Signer, override?: string): Promise<MirrorCheckpoint | undefined> {
  const place = await checkpointPlaceFor(settings, override);
  if (!place) return undefined;
  const { publishCheckpoint } = await import('./checkpoints.js');
  return { ...(await publishCheckpoint({ place, records, settings, signer })), store: place.store.location };
}

export interface MirrorCheckpoint {
  key: string;
  size: number;
  /** false when the newest checkpoint already had this size */
  written: boolean;
  store: string;
}

export interface DeploymentMirrorRequest {
  /** a repository holding the commit (the agent's bare mirror will do: only git objects are read) */
  root: string;
  environment: string;
  /** the deployment record the sync just made (its commit is the one recorded) */
  record: DeploymentRecord;
  key: SigningKeySource;
  /** a key rotation's new key, countersigning the record of the commit that adds it */
  nextKey?: SigningKeySource;
  /** who asked and approved, read from GitHub as this client (the agent's App installation) */
  github: { client: GitHubClient; repository: RepoRef };
  recorderVersion: string;
  now(): Date;
  log(line: string): void;
}

/**
 * `audit mirror` for the agent, in-process, right after a sync: the record is given, not read
 * from a folder, and the change facts come from GitHub. `skipped` says why nothing was tried
 * when the environment's policy at the commit declares no audit trail.
 */
export async function mirrorDeployment(req: DeploymentMirrorRequest): Promise<(MirrorResult & { store: string; checkpoint?: MirrorCheckpoint }) | { skipped: string }> {
  const { root, environment, record } = req;
  const commit = record.commit;
  const file = `policies/${environment}.yaml`;
  const { loadDocument } = await import('../config/load.js');
  const bytes = await fileAt(root, commit, file);
  const loaded = bytes ? loadDocument<Policy>(file, bytes, 'policy').loaded?.data : undefined;
  if (loaded && !loaded.audit) return { skipped: `${file} at ${commit.slice(0, 12)} declares no audit trail` };
  const settings = await auditSettings(root, commit, environment);
  const [{ mirror }, { changeFromGitHub }] = await Promise.all([import('./mirror.js'), import('./github.js')]);
  const signer = await trustedSigner(req.key, settings);
  const next = await nextSigner(req.nextKey, settings);
  const store = await storeFor(settings);
  const { client, repository } = req.github;
  const result = await mirror({
    root, environment, commit, settings, store, signer, ...(next ? { nextSigners: [next] } : {}), repoName: `${repository.owner}/${repository.repo}`, recorderVersion: req.recorderVersion,
    deployment: async (c) => (c === commit ? record : undefined),
    change: (info, side) => changeFromGitHub(client, repository, info, side, settings.breakGlassReviewMs, settings.approvals),
    now: req.now,
    log: req.log,
  });
  const checkpoint = await publishFor(settings, store, signer);
  return { ...result, store: store.location, ...(checkpoint ? { checkpoint } : {}) };
}

export interface VerifyFlowRequest {
  root: string;
  rev: string;
  /** these environments, else every one whose policy declares an audit trail */
  environments?: string[];
  since?: number | Date;
  store?: string;
  /** --checkpoints: where the auditor says the checkpoints are (else the policy's audit.checkpoints, if any) */
  checkpoints?: string;
  /** --trust-root: files pinning each environment's store, checkpoints and keys (trust-root.ts), instead of the policy at `rev` */
  trustRoots?: string[];
  cacheDir?: string;
}

export interface VerifiedTrail {
  environment: string;
  result: VerifyResult;
  head?: { seq: number; digest: string };
  keys: string[];
  store: string;
  /** the newest checkpoint the trail was compared with (its size), when checkpoints were read */
  checkpoint?: { store: string; size?: number };
}

/** Verifies each environment's trail in turn; `each` hears every one as it is done. A complete, verified trail refreshes the trace index. */
export async function verifyTrails(req: VerifyFlowRequest, each: (v: VerifiedTrail) => void): Promise<VerifiedTrail[]> {
  const { root } = req;
  const rev = await resolveCommit(root, req.rev);
  const roots = new Map<string, { file: string; root: TrustRoot }>();
  if (req.trustRoots?.length) {
    const context = { ...(req.environments?.length === 1 ? { environment: req.environments[0]! } : {}), ...(req.store ? { store: req.store } : {}), ...(req.checkpoints ? { checkpoints: req.checkpoints } : {}) };
    for (const file of req.trustRoots) {
      const r = await loadTrustRoot(file, context);
      if (roots.has(r.environment)) throw new UsageError(`two trust roots for ${r.environment}: ${roots.get(r.environment)!.file} and ${file}`);
      roots.set(r.environment, { file, root: r });
    }
  }
  // With trust roots, their environments are verified even if main no longer declares them.
  const environments = req.environments ?? (roots.size ? [...roots.keys()] : await auditedEnvironments(root, rev));
  if (!environments.length) throw new UsageError(`no policy at ${rev.slice(0, 12)} declares an audit trail (policies/<env>.yaml audit:); pass --env`);
  const out: VerifiedTrail[] = [];
  for (const environment of environments) {
    const pinned = roots.get(environment);
    if (roots.size && !pinned) throw new UsageError(`no trust root given for ${environment}: pass one --trust-root per environment verified`);
    let settings: AuditSettings;
    const notes: string[] = [];
    if (pinned) {
      const { settingsUnderRoot } = await import('./trust-root.js');
      // The policy at the revision still gives what does not decide trust (retention, clock skew); it may be gone or broken.
      const policy = await auditSettings(root, rev, environment).catch(() => undefined);
      const under = settingsUnderRoot(pinned.root, pinned.file, policy);
      settings = under.settings;
      notes.push(...under.differences);
    } else settings = await auditSettings(root, rev, environment);
    const source = indexSource(settings);
    const store = await storeFor(settings, req.store);
    const result = await verifyEnvironment({ root, rev, settings, store, ...(req.since !== undefined ? { since: req.since } : {}) });
    for (const message of notes) result.findings.push({ severity: 'warning', message });
    const place = await checkpointPlaceFor(settings, req.checkpoints);
    let checkpoint: VerifiedTrail['checkpoint'];
    if (place) {
      const { checkpointFindings } = await import('./checkpoints.js');
      const found = await checkpointFindings(place, settings, result.digests);
      for (const message of found.errors) result.findings.push({ severity: 'error', message });
      if (found.errors.length) result.ok = false;
      checkpoint = { store: place.store.location, ...(found.size !== undefined ? { size: found.size } : {}) };
    }
    const last = result.records[result.records.length - 1];
    const head = last ? { seq: last.seq, digest: last.digest } : undefined;
    const keys = [...new Set(result.records.flatMap((r) => r.keyids))];
    if (result.ok && req.since === undefined) await refreshIndex(await cacheDirFor(root, req.cacheDir), result, store.location, settings, source);
    const v = { environment, result, ...(head ? { head } : {}), keys, store: store.location, ...(checkpoint ? { checkpoint } : {}) };
    out.push(v);
    each(v);
  }
  return out;
}

/**
 * trace with a pinned trust root: the index answers only if it was built from the trail the root
 * names under the root's keys (its fingerprint is theirs); else the trail is verified under them.
 */
async function traceUnderRoot(req: TraceFlowRequest, cacheDir: string): Promise<TraceAnswer> {
  const { root, environment } = req;
  const { settingsUnderRoot } = await import('./trust-root.js');
  const pinned = await loadTrustRoot(req.trustRoot!, { environment, ...(req.store ? { store: req.store } : {}) });
  if (pinned.environment !== environment) throw new UsageError(`the trust root ${req.trustRoot} is for ${pinned.environment}, not ${environment}`);
  const rev = await resolveCommit(root, req.rev);
  const { settings } = settingsUnderRoot(pinned, req.trustRoot!, await auditSettings(root, rev, environment).catch(() => undefined));
  const store = await storeFor(settings, req.store);
  let index = await currentIndex(cacheDir, store, settings);
  if (!index) {
    const result = await verifyEnvironment({ root, rev, settings, store });
    if (!result.ok) {
      throw new RefusedError(`the audit trail of ${environment} does not verify under the trust root ${req.trustRoot} (${result.findings.filter((f) => f.severity === 'error').length} problems): trace answers only from a verified trail`, `run modelship audit verify --env ${environment} --trust-root ${req.trustRoot}`);
    }
    index = await saveIndex(cacheDir, result, store.location, settings, indexSource(settings));
    req.log(`${environment}: index rebuilt from ${result.records.length} records verified under the trust root`);
  }
  return trace(index, req.model, req.at);
}

/** The trust root of an environment as the policy at `rev` declares it (`audit trust-root`): for the auditor to review and pin. */
export async function trustRootAt(root: string, rev: string, environment: string): Promise<TrustRoot> {
  const commit = await resolveCommit(root, rev);
  await auditSettings(root, commit, environment); // every key parses and is of its algorithm, or the problems are named
  const file = `policies/${environment}.yaml`;
  const { readDocument } = await import('../config/load.js');
  const { data } = readDocument<Policy>(file, (await fileAt(root, commit, file))!, 'policy', `${file} at ${commit.slice(0, 12)}`);
  const { trustRootOf } = await import('./trust-root.js');
  return trustRootOf(environment, data.audit!);
}

export interface TraceFlowRequest {
  root: string;
  rev: string;
  environment: string;
  model: string;
  at: Date;
  store?: string;
  /** --trust-root: the environment's pinned store, checkpoints and keys (trust-root.ts) */
  trustRoot?: string;
  cacheDir?: string;
  log(line: string): void;
}

/** Which version of the model served the environment at the time: answered only from a verified trail (its index, rebuilt when stale). */
export async function traceModel(req: TraceFlowRequest): Promise<TraceAnswer> {
  const { root, environment } = req;
  const cacheDir = await cacheDirFor(root, req.cacheDir);
  if (req.trustRoot) return traceUnderRoot(req, cacheDir);
  // Fast path: an index that is current, for one git process (the policy file at the revision,
  // which must name a commit). When the policy file is byte for byte the one the index was
  // verified under, its store and fingerprint are the index's; else the policy's store is read
  // without the key checks. Anything else (a revision that is not a commit, no policy, a stale
  // index) takes the full path below, which says what is wrong.
  const policyBytes = req.rev.startsWith('-') ? undefined : await fileAt(root, `${req.rev}^{commit}`, `policies/${environment}.yaml`);
  const onDisk = readIndexFile(cacheDir, environment);
  const located = onDisk?.source && policyBytes && onDisk.source.policySha256 === sha256Hex(policyBytes)
    ? settingsOf(environment, onDisk.source, onDisk.policy)
    : policyBytes ? await auditLocation(root, req.rev, environment, policyBytes) : undefined;
  let index = located ? await currentIndex(cacheDir, await storeFor(located, req.store), located, onDisk) : undefined;
  if (!index) {
    const rev = await resolveCommit(root, req.rev);
    const settings = await auditSettings(root, rev, environment);
    const source = indexSource(settings);
    const store = await storeFor(settings, req.store);
    const result = await verifyEnvironment({ root, rev, settings, store });
    if (!result.ok) {
      throw new RefusedError(`the audit trail of ${environment} does not verify (${result.findings.filter((f) => f.severity === 'error').length} problems): trace answers only from a verified trail`, `run modelship audit verify --env ${environment}`);
    }
    index = await saveIndex(cacheDir, result, store.location, settings, source);
    req.log(`${environment}: index rebuilt from ${result.records.length} verified records`);
  }
  return trace(index, req.model, req.at);
}

/** What the index remembers of the policy: its file's digest and the store it names (before any --store). */
function indexSource(settings: AuditSettings): IndexSource | undefined {
  return settings.fileSha256 ? { policySha256: settings.fileSha256, bucket: settings.bucket, prefix: settings.prefix, retentionDays: settings.retentionDays } : undefined;
}

/** The store settings of an index whose policy file is unchanged: enough to find its store and check it is current. */
function settingsOf(environment: string, source: IndexSource, fingerprint: string): AuditSettings {
  return { environment, file: `policies/${environment}.yaml`, bucket: source.bucket, prefix: source.prefix, retentionDays: source.retentionDays, skewMs: defaultSkewMs, keys: [], fingerprint };
}

/** Environments whose policy at `rev` has an audit section. */
export async function auditedEnvironments(root: string, rev: string): Promise<string[]> {
  const names = (await folderEntries(root, rev, 'policies')).filter((n) => n.endsWith('.yaml'));
  const out: string[] = [];
  for (const n of names) {
    const text = (await fileAt(root, rev, `policies/${n}`))?.toString('utf8') ?? '';
    if (/^audit:/m.test(text)) out.push(n.slice(0, -5));
  }
  return out;
}

/**
 * The trust root an auditor pinned (trust-root.ts): a file; an S3 object (s3://bucket/key) read
 * at its first version, refused when anything was written or a delete marker put over it; or a
 * KMS key ARN, whose public key and creation date KMS gives, with the store named beside it.
 */
async function loadTrustRoot(source: string, context: KeyRootContext): Promise<TrustRoot> {
  const { keyTrustRoot, parseTrustRoot, readTrustRoot } = await import('./trust-root.js');
  if (source.startsWith('arn:aws:kms:')) {
    const { kmsPublicKey } = await import('../adapters/kms.js');
    return keyTrustRoot(await kmsPublicKey(source), context, source);
  }
  if (source.startsWith('s3://')) {
    const m = /^s3:\/\/([^/]+)\/(.*[^/])$/.exec(source);
    if (!m) throw new UsageError(`the trust root ${JSON.stringify(source)} names no object: s3://bucket/key`);
    const [, bucket, key] = m as unknown as [string, string, string];
    const store = await s3Store(bucket, '', 1);
    const object = (await store.objects(key.replace(/[^/]*$/, ''))).find((o) => o.key === key);
    if (!object) throw new UsageError(`the trust root ${source} does not exist`);
    const versions = object.versions ?? [];
    if (versions.length > 1) {
      const markers = versions.filter((v) => v.deleteMarker).length;
      const written = versions.length - markers;
      throw new RefusedError(`the trust root ${source} holds ${written} version${written === 1 ? '' : 's'}${markers ? ` and ${markers} delete marker${markers === 1 ? '' : 's'}` : ''} (the newest written at ${versions[versions.length - 1]!.storedAt.toISOString()}): a pinned trust root is written once, so it is not used`,
        'ask who wrote over it; pin its first version as a file');
    }
    const bytes = await store.read(key, originalVersion(object)?.versionId);
    if (!bytes) throw new UsageError(`the trust root ${source} does not exist`);
    return parseTrustRoot(bytes.toString('utf8'), source);
  }
  return readTrustRoot(source);
}

/** The AWS SDK loads only when the store is on S3: trace from a local index stays quick. */
async function storeFor(settings: AuditSettings, override?: string): Promise<AuditStore> {
  if (override && !override.startsWith('s3://')) return new DirectoryStore(override);
  const m = override ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(override) : undefined;
  const bucket = m?.[1] ?? settings.bucket;
  if (m) settings.prefix = m[2]!.replace(/\/+$/, '');
  return s3Store(bucket, settings.prefix, settings.retentionDays);
}

/** A write-once S3 store. Retries are the store's own (it looks before every retry), so the SDK sends each request once. */
async function s3Store(bucket: string, prefix: string, retentionDays: number): Promise<AuditStore> {
  const [{ S3Store }, { s3Client }] = await Promise.all([import('../adapters/s3/audit-store.js'), import('../adapters/s3/store.js')]);
  return new S3Store({ client: s3Client({ maxAttempts: 1, requestTimeout: 60_000 }), bucket, prefix, retentionDays });
}

/** Where the environment's checkpoints are: `override` (a folder or s3://bucket/prefix), else the policy's audit.checkpoints; undefined when neither says. */
async function checkpointPlaceFor(settings: AuditSettings, override?: string): Promise<CheckpointPlace | undefined> {
  const declared = settings.checkpoints;
  if (!override && !declared) return undefined;
  if (override && !override.startsWith('s3://')) return { store: new DirectoryStore(override), prefix: declared?.prefix ?? settings.prefix };
  const m = override ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(override) : undefined;
  if (override && !m) throw new UsageError(`--checkpoints ${JSON.stringify(override)} is neither a folder nor s3://bucket/prefix`);
  const bucket = m?.[1] ?? declared!.bucket;
  const prefix = m ? m[2]!.replace(/\/+$/, '') : declared!.prefix;
  return { store: await s3Store(bucket, prefix, settings.retentionDays), prefix };
}

async function githubFor(root: string) {
  const { connectionFromEnv, octokit } = await import('../adapters/github/client.js');
  const c = connectionFromEnv();
  if (!c) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with pull-requests: read and checks: read)');
  const name = process.env.GITHUB_REPOSITORY ?? (await repositoryName(root));
  const [owner, repo] = name.split('/');
  if (!owner || !repo) throw new UsageError(`--github needs GITHUB_REPOSITORY (owner/name) or an origin remote on GitHub; found ${JSON.stringify(name)}`);
  return { client: octokit(c), repo: { owner, repo } };
}

async function readReport(file: string): Promise<ReportDigest> {
  const { reportFromFile } = await import('./facts.js');
  try {
    return reportFromFile(file.split('/').pop()!, readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read the gate report ${file}: ${(e as Error).message}`);
  }
}

/** Where the trace index lives: --cache-dir, else inside the repository's git directory. */
async function cacheDirFor(root: string, cacheDir: string | undefined): Promise<string> {
  if (cacheDir) return cacheDir;
  return join(await gitDirectory(root), 'modelship-audit');
}

/** Now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention, as register does): a record's recordedAt. Retention always counts from the real clock. */
function recordTime(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

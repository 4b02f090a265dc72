// `register`: a training run becomes an immutable, content-addressed registry entry and a version
// manifest. Order matters: validate everything, store and verify the bytes, and only then write
// the manifest, so a failure at any step leaves no manifest and no half-finished upload.

import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExternalError, RefusedError, UsageError, ValidationError } from '../errors.js';
import { loadDocument } from '../config/load.js';
import type { ModelCard, VersionManifest } from '../config/types.js';
import { validateAgainst } from '../config/schema.js';
import { parseYaml } from '../config/yaml.js';
import { buildManifest, manifestPath, nextVersion, registryKey, renderManifest } from './manifest.js';
import { manifestDigest, registrationKey } from './record.js';
import { readRun, type TrainingRun } from './run.js';
import { b64, maxPartSizeMiB, parseS3Uri, s3Uri, uploadBufferBudget, uploadPlan, type ArtifactStore, type S3Location, type UploadProgress } from '../adapters/s3/store.js';

export interface RegisterRequest {
  /** the release repository (working tree) */
  root: string;
  /** a local folder or s3://bucket/prefix/ */
  source: string;
  version?: string;
  partSize: number;
  concurrency: number;
  registeredBy?: string;
  /** see UploadOptions.singleCopyLimit; tests lower it to exercise the multipart copy */
  singleCopyLimit?: number;
  signal?: AbortSignal;
  onProgress?: (p: UploadProgress) => void;
  /** told before the upload starts when it runs otherwise than asked (fewer parts at once, to bound memory) */
  onNotice?: (message: string) => void;
  now?: () => Date;
}

export interface RegisterResult {
  model: string;
  version: string;
  /** registered: a new manifest was written; unchanged: this run was already registered */
  status: 'registered' | 'unchanged';
  manifest: string;
  artifact: { uri: string; sha256: string; size: number; transfer: 'uploaded' | 'copied' | 'already-stored'; storeChecksum?: string };
  validationReport: { uri: string; sha256: string };
  /** the registration record: where register wrote the manifest's bytes, and their SHA-256 */
  registration?: { uri: string; sha256: string };
  warnings: string[];
}

export async function register(req: RegisterRequest, store: ArtifactStore): Promise<RegisterResult> {
  if (req.partSize > maxPartSizeMiB) {
    throw new UsageError(`--part-size ${req.partSize} is over the limit of ${maxPartSizeMiB} MiB: register holds the parts it is sending in memory, at most ${uploadBufferBudget / 2 ** 20} MiB`);
  }
  const run = await readRun(req.source, () => store);
  const model = run.metadata.model;
  const card = await loadCard(req.root, model);
  const warnings: string[] = [];
  for (const c of run.report.checks ?? []) {
    if (c.status === 'failed') warnings.push(`the validation report records a failed check "${c.name}"${c.detail ? `: ${c.detail}` : ''}`);
  }

  const existing = await registeredVersions(req.root, model);
  const version = await chooseVersion(req, run, existing);
  const file = manifestPath(model, version);
  const sha256 = run.metadata.artifact.sha256;
  const artifactLoc = parseS3Uri(registryKey(card.registry, model, sha256, run.metadata.artifact.file));
  const reportSha = createHash('sha256').update(run.reportBytes).digest('hex');
  const reportLoc = parseS3Uri(registryKey(card.registry, model, reportSha, 'validation-report.json'));

  const prior = existing.get(version);
  if (prior) {
    if (prior.artifact.sha256 !== sha256) {
      throw new RefusedError(
        `${model}@${version} is already registered with artifact sha256 ${prior.artifact.sha256}; this run's artifact is ${sha256}. Registered versions are immutable`,
        'register this run as a new version (omit the version to get the next free one, or pass --version)');
    }
    const stored = await store.head(parseS3Uri(prior.artifact.uri), req.signal);
    if (!stored || stored.size !== prior.artifact.size) {
      throw new ExternalError('s3', `verify ${prior.artifact.uri}`, `${model}@${version} is registered but its artifact is missing or has the wrong size in the registry`,
        { hint: 'the registry bucket lost an object it must keep; restore it from the bucket\'s versions' });
    }
    const priorBytes = await readFile(join(req.root, file));
    const priorRecord = parseS3Uri(registrationKey(card.registry, model, version, manifestDigest(priorBytes)));
    if (!(await store.head(priorRecord, req.signal))) {
      warnings.push(`no registration record for ${file} (expected ${s3Uri(priorRecord)}): it is not the manifest register wrote, and the checker's integrity gate will block it`);
    }
    return {
      model, version, status: 'unchanged', manifest: file,
      artifact: { uri: prior.artifact.uri, sha256, size: prior.artifact.size, transfer: 'already-stored', ...(prior.artifact.storeChecksum ? { storeChecksum: prior.artifact.storeChecksum } : {}) },
      validationReport: prior.validationReport, warnings,
    };
  }

  const { transfer, checksum } = await storeArtifact(run, artifactLoc, store, req, warnings);
  const reportStored = await store.head(reportLoc, req.signal);
  if (!reportStored) await store.putSmall(reportLoc, run.reportBytes, reportSha, 'application/json');

  // Check what the store now holds before anything points at it.
  const after = await store.head(artifactLoc, req.signal);
  if (!after || after.size !== run.artifact.size || after.sha256 !== sha256 || (checksum && after.checksum && after.checksum !== checksum)) {
    throw new ExternalError('s3', `verify ${s3Uri(artifactLoc)}`,
      `the stored object does not match what was sent (size ${after?.size ?? 'none'}, expected ${run.artifact.size}; checksum ${after?.checksum ?? 'none'}, expected ${checksum ?? 'any'})`);
  }
  const storeChecksum = after.checksum ?? checksum;
  if (!after.checksum) warnings.push('the store reports no SHA-256 checksum for the object; verified its size and recorded digest instead, but the checker\'s integrity gate fails an artifact without one (use an S3 that keeps SHA-256 checksums)');

  const manifest = buildManifest({
    run, card, version,
    artifact: { uri: s3Uri(artifactLoc), sha256, size: run.artifact.size, ...(after.checksum ? { checksum: storeChecksum } : {}) },
    report: { uri: s3Uri(reportLoc), sha256: reportSha },
    registeredAt: (req.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(req.registeredBy ? { registeredBy: req.registeredBy } : {}),
  });
  const text = renderManifest(manifest);
  const check = validateAgainst('version', parseYaml(file, text));
  if (check.length) throw new ValidationError(check, `internal: the manifest modelship built is invalid`);
  // The manifest first (it must not exist yet), then its registration record; a record that
  // cannot be written takes the manifest back, so nothing unregistered is left behind.
  await writeOnce(join(req.root, file), text);
  let registration: { uri: string; sha256: string };
  try {
    registration = await recordRegistration(store, card.registry, model, version, Buffer.from(text), req.signal);
  } catch (e) {
    await unlink(join(req.root, file)).catch(() => undefined);
    throw e;
  }
  return {
    model, version, status: 'registered', manifest: file,
    artifact: { uri: s3Uri(artifactLoc), sha256, size: run.artifact.size, transfer, ...(after.checksum ? { storeChecksum: after.checksum } : {}) },
    validationReport: manifest.validationReport, registration, warnings,
  };
}

/**
 * Writes the registration record of a version manifest: its exact bytes, write-once, at
 * registrationKey (content-addressed by their SHA-256), with that SHA-256 as S3's checksum.
 * The checker's integrity gate accepts a version manifest only when such a record exists for
 * its bytes. `register` calls this for every manifest it writes; nothing else should.
 */
export async function recordRegistration(store: ArtifactStore, registry: string, model: string, version: string, bytes: Buffer, signal?: AbortSignal):
  Promise<{ uri: string; sha256: string }> {
  const sha256 = manifestDigest(bytes);
  const loc = parseS3Uri(registrationKey(registry, model, version, sha256));
  await store.putOnce(loc, bytes, sha256, 'application/yaml', signal);
  return { uri: s3Uri(loc), sha256 };
}

async function loadCard(root: string, model: string): Promise<ModelCard> {
  const file = `models/${model}/model.yaml`;
  const bytes = await readFile(join(root, file)).catch(() => undefined);
  if (!bytes) {
    throw new RefusedError(`model "${model}" is not defined in this repository (no ${file})`,
      'add the model card in a reviewed pull request first; it says where the registry is and what the model\'s contract is');
  }
  const r = loadDocument<ModelCard>(file, bytes, 'model');
  if (!r.loaded) throw new ValidationError(r.problems);
  return r.loaded.data;
}

/** The manifests already registered for a model in the working tree. */
async function registeredVersions(root: string, model: string): Promise<Map<string, VersionManifest>> {
  const dir = join(root, 'models', model, 'versions');
  const names = await readdir(dir).catch(() => [] as string[]);
  const out = new Map<string, VersionManifest>();
  for (const name of names.filter((n) => n.endsWith('.yaml'))) {
    const file = `models/${model}/versions/${name}`;
    const r = loadDocument<VersionManifest>(file, await readFile(join(root, file)), 'version');
    if (!r.loaded) throw new ValidationError(r.problems, `${file} is invalid; fix it before registering more versions`);
    out.set(name.slice(0, -5), r.loaded.data);
  }
  return out;
}

async function chooseVersion(req: RegisterRequest, run: TrainingRun, existing: Map<string, VersionManifest>): Promise<string> {
  const fromMeta = run.metadata.version;
  if (req.version !== undefined) {
    if (!/^(?!.*\.\.)[0-9A-Za-z](?:[0-9A-Za-z._-]{0,61}[0-9A-Za-z])?$/.test(req.version)) {
      throw new UsageError(`--version ${JSON.stringify(req.version)} is not a valid version (letters, digits, '.', '_', '-'; starting and ending with a letter or digit; no '..')`);
    }
    if (fromMeta !== undefined && fromMeta !== req.version) {
      throw new UsageError(`--version ${req.version} contradicts metadata.json, which says version ${fromMeta}`);
    }
    return req.version;
  }
  if (fromMeta !== undefined) return fromMeta;
  // Re-running register on the same run must not mint a second version of it.
  for (const [version, m] of existing) {
    if (m.artifact.sha256 === run.metadata.artifact.sha256 && m.lineage.pipelineRunId === run.metadata.lineage.pipelineRunId) return version;
  }
  return nextVersion(run.metadata.createdAt, existing.keys());
}

async function storeArtifact(run: TrainingRun, dest: S3Location, store: ArtifactStore, req: RegisterRequest, warnings: string[]):
  Promise<{ transfer: RegisterResult['artifact']['transfer']; checksum?: string }> {
  const sha256 = run.metadata.artifact.sha256;
  const present = await store.head(dest, req.signal);
  if (present) {
    if (present.size === run.artifact.size && present.sha256 === sha256) return { transfer: 'already-stored', ...(present.checksum ? { checksum: present.checksum } : {}) };
    throw new ExternalError('s3', `check ${s3Uri(dest)}`,
      `the registry already holds a different object at this content address (size ${present.size}, recorded sha256 ${present.sha256 ?? 'none'}); refusing to overwrite it`,
      { hint: 'an object was written there by something other than modelship; investigate before registering' });
  }
  const options = { partSize: req.partSize * 1024 * 1024, concurrency: req.concurrency, ...(req.singleCopyLimit ? { singleCopyLimit: req.singleCopyLimit } : {}), ...(req.signal ? { signal: req.signal } : {}), ...(req.onProgress ? { onProgress: req.onProgress } : {}) };
  if (run.artifact.kind === 'file') {
    const plan = uploadPlan(run.artifact.size, options.partSize, options.concurrency);
    if (plan.notice) req.onNotice?.(plan.notice);
    const r = await store.uploadFile(run.artifact.path, run.artifact.size, dest, sha256, options);
    return { transfer: 'uploaded', checksum: r.checksum };
  }

  // Server-side copy: modelship never sees the bytes, so S3 must vouch for the digest, either by
  // the full-object SHA-256 it computes for a single-request copy or by the source's own.
  const copied = await store.copy(run.artifact.location, run.artifact.size, dest, sha256, options);
  const full = copied.checksum && !copied.checksum.includes('-') ? copied.checksum : undefined;
  let verified = full === b64(sha256);
  if (full && !verified) {
    await store.delete(dest);
    throw new RefusedError(`the artifact's sha256 in S3 is ${Buffer.from(full, 'base64').toString('hex')}, but metadata.json says ${sha256}; the copy was deleted and nothing was registered`,
      'the artifact or its metadata changed after training; re-run the training task\'s export');
  }
  if (!verified) {
    const source = await store.head(run.artifact.location, req.signal);
    const sourceFull = source?.checksum && !source.checksum.includes('-') ? source.checksum : undefined;
    verified = sourceFull === b64(sha256);
    if (!verified) {
      await store.delete(dest);
      throw new ExternalError('s3', `verify ${s3Uri(dest)}`,
        sourceFull ? `the source's SHA-256 checksum is ${Buffer.from(sourceFull, 'base64').toString('hex')}, but metadata.json says ${sha256}`
          : 'S3 reported no full-object SHA-256 for the copy or its source, so the artifact\'s digest cannot be verified without downloading it',
        { hint: 'have the training task upload the artifact with ChecksumAlgorithm=SHA256 in one PutObject, or register from a local copy' });
    }
    warnings.push('verified against the source object\'s SHA-256 checksum; the copy itself carries a composite checksum');
  }
  return { transfer: 'copied', ...(copied.checksum ? { checksum: copied.checksum } : {}) };
}

/** Writes a file that must not exist yet, atomically: a reader sees nothing or the whole file. */
async function writeOnce(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text, { flag: 'wx' });
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RefusedError(`${path} appeared while registering (another register running?); left it untouched`);
    }
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

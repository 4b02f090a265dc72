// `modelship audit mirror|verify|trace|keygen`: the environment's signed, hash-chained,
// write-once trail of what was deployed. mirror runs after sync (in the sync workflow); verify
// proves the trail complete and unaltered or names what is wrong; trace answers "which version
// served this environment at that time, approved by whom, trained on what".

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, RefusedError, UsageError } from '../errors.js';
import type { ReportDigest } from '../audit/facts.js';
import { fileAt, folderEntries, repositoryName, resolveCommit } from '../adapters/git/audit.js';
import { gitDirectory } from '../adapters/git/repo.js';
import { auditLocation, auditSettings, type AuditSettings } from '../audit/policy.js';
import { traceText, verifyText } from '../audit/render.js';
import { ed25519Signer, type Signer } from '../audit/sign.js';
import { DirectoryStore, type AuditStore } from '../audit/store.js';
import { trace } from '../audit/trace.js';
import { currentIndex, saveIndex, verifyEnvironment } from '../audit/trail.js';
import type { DeploymentRecord } from '../sync/record.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options {
  env?: string | string[];
  rev?: string;
  recordDir?: string;
  report?: string;
  store?: string;
  keyFile?: string;
  kmsKey?: string;
  github?: boolean;
  since?: string;
  model?: string;
  at?: string;
  cacheDir?: string;
  id?: string;
  out?: string;
  json?: boolean;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  const name = (args[args.length - 1] as Command).name();
  try {
    const root = repoRoot(opts.repo);
    switch (name) {
      case 'mirror': return await mirrorCommand(root, opts, output);
      case 'verify': return await verifyCommand(root, opts, output);
      case 'trace': return await traceCommand(root, opts, output);
      case 'keygen': return keygenCommand(opts, output);
      default: throw new UsageError(`unknown audit command ${name}`);
    }
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

async function mirrorCommand(root: string, opts: Options, output: Output): Promise<number> {
  const environment = single(opts.env);
  if (!opts.recordDir) throw new UsageError('audit mirror needs --record-dir DIR: the folder sync --record-dir wrote the deployment records to');
  const commit = await resolveCommit(root, opts.rev ?? 'HEAD');
  const settings = await auditSettings(root, commit, environment);
  const [{ mirror }, { changeFromGit }] = await Promise.all([import('../audit/mirror.js'), import('../audit/facts.js')]);
  const report = opts.report ? await readReport(opts.report) : undefined;
  const signer = await signerFor(opts, settings);
  const store = await storeFor(settings, opts.store);
  const recordDir = opts.recordDir;
  const gh = opts.github ? githubFor(root) : undefined;
  const repoName = process.env.GITHUB_REPOSITORY ?? (await repositoryName(root));
  const result = await mirror({
    root, environment, commit, settings, store, signer, repoName, recorderVersion: pkg.version,
    deployment: async (c) => readDeployment(join(recordDir, environment, `${c}.json`)),
    change: async (info, side) => {
      if (!gh) return { change: changeFromGit(info, side, settings.breakGlassReviewMs) };
      const { changeFromGitHub } = await import('../audit/github.js');
      return changeFromGitHub((await gh).client, (await gh).repo, info, side, settings.breakGlassReviewMs);
    },
    ...(report ? { report } : {}),
    now: recordTime,
    log: (line) => output.err(line),
  });
  if (opts.json) output.out(JSON.stringify({ ok: true, store: store.location, ...result }, null, 2));
  else if (result.nothing) output.out(`${environment}: nothing to record: ${result.nothing}`);
  else output.out(`${environment}: ${result.written.length} record${result.written.length === 1 ? '' : 's'} written to ${store.location} (seq ${result.written.map((w) => w.seq).join(', ')})`);
  return ExitCode.ok;
}

async function verifyCommand(root: string, opts: Options, output: Output): Promise<number> {
  const rev = await resolveCommit(root, opts.rev ?? 'HEAD');
  const environments = opts.env ? ([] as string[]).concat(opts.env) : await auditedEnvironments(root, rev);
  if (!environments.length) throw new UsageError(`no policy at ${rev.slice(0, 12)} declares an audit trail (policies/<env>.yaml audit:); pass --env`);
  const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
  let code: number = ExitCode.ok;
  const reports = [];
  for (const environment of environments) {
    const settings = await auditSettings(root, rev, environment);
    const store = await storeFor(settings, opts.store);
    const result = await verifyEnvironment({ root, rev, settings, store, ...(since !== undefined ? { since } : {}) });
    const last = result.records[result.records.length - 1];
    const head = last ? { seq: last.seq, digest: last.digest } : undefined;
    const keys = [...new Set(result.records.flatMap((r) => r.keyids))];
    if (result.ok && since === undefined) await saveIndex(await cacheDirFor(root, opts), result, store.location, settings);
    if (!result.ok) code = ExitCode.checkFailed;
    reports.push({ environment, ok: result.ok, checked: result.checked, head, store: store.location, findings: result.findings });
    if (!opts.json) output.out(verifyText(result, { ...(head ? { head } : {}), keys }));
  }
  if (opts.json) output.out(JSON.stringify({ ok: code === ExitCode.ok, environments: reports }, null, 2));
  return code;
}

async function traceCommand(root: string, opts: Options, output: Output): Promise<number> {
  const environment = single(opts.env);
  if (!opts.model) throw new UsageError('audit trace needs --model <name>');
  if (!opts.at) throw new UsageError('audit trace needs --at <time>, e.g. 2026-08-14T10:22:00Z');
  const at = parseTime(opts.at, '--at');
  const rev = await resolveCommit(root, opts.rev ?? 'HEAD');
  const cacheDir = await cacheDirFor(root, opts);
  // Fast path: the policy's store, read without the schema machinery, and an index that is current.
  const located = await auditLocation(root, rev, environment);
  let index = located ? await currentIndex(cacheDir, await storeFor(located, opts.store), located) : undefined;
  if (!index) {
    const settings = await auditSettings(root, rev, environment);
    const store = await storeFor(settings, opts.store);
    const result = await verifyEnvironment({ root, rev, settings, store });
    if (!result.ok) {
      throw new RefusedError(`the audit trail of ${environment} does not verify (${result.findings.filter((f) => f.severity === 'error').length} problems): trace answers only from a verified trail`, `run modelship audit verify --env ${environment}`);
    }
    index = await saveIndex(cacheDir, result, store.location, settings);
    output.err(`${environment}: index rebuilt from ${result.records.length} verified records`);
  }
  const answer = trace(index, opts.model, at);
  output.out(opts.json ? JSON.stringify({ ok: true, ...answer }, null, 2) : traceText(answer));
  return ExitCode.ok;
}

/** Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600, never over an existing file) and prints its policy entry. */
function keygenCommand(opts: Options, output: Output): number {
  if (!opts.id || !opts.out) throw new UsageError('audit keygen needs --id <key id> and --out <file>');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  try {
    writeFileSync(opts.out, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    throw new UsageError(`cannot write ${opts.out}: ${(e as Error).message}`);
  }
  output.err(`wrote the private key to ${opts.out}; add this to audit.keys in policies/<env>.yaml (a reviewed change):`);
  output.out(`- id: ${opts.id}\n  algorithm: ed25519\n  publicKey: ${spki(publicKey)}\n  validFrom: ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  return ExitCode.ok;
}

/** The signer: KMS when a key is named (--kms-key, MODELSHIP_AUDIT_KMS_KEY), else a local Ed25519 key. It must be one the policy trusts now. */
async function signerFor(opts: Options, settings: AuditSettings): Promise<Signer> {
  const kmsKey = opts.kmsKey ?? process.env.MODELSHIP_AUDIT_KMS_KEY;
  let signer: Signer;
  let publicDer: Buffer;
  if (kmsKey) {
    const { kmsSigner } = await import('../adapters/kms.js');
    const s = await kmsSigner({ keyId: kmsKey });
    signer = s;
    publicDer = s.publicKeyDer;
  } else {
    const file = opts.keyFile ?? process.env.MODELSHIP_AUDIT_KEY_FILE;
    const pem = file ? readKeyFile(file) : process.env.MODELSHIP_AUDIT_KEY;
    if (!pem) throw new UsageError('audit mirror needs a signing key: --kms-key (or MODELSHIP_AUDIT_KMS_KEY) for AWS KMS, or --key-file / MODELSHIP_AUDIT_KEY_FILE / MODELSHIP_AUDIT_KEY for a local Ed25519 key');
    let local: Signer;
    try {
      local = ed25519Signer(pem, '');
    } catch (e) {
      throw new UsageError(`the audit signing key is not an Ed25519 private key: ${(e as Error).message}`);
    }
    publicDer = createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' });
    const trusted = settings.keys.find((k) => k.key.export({ format: 'der', type: 'spki' }).equals(publicDer));
    signer = { ...local, keyid: trusted?.id ?? '(untrusted)' };
  }
  const trusted = settings.keys.find((k) => k.id === signer.keyid && k.key.export({ format: 'der', type: 'spki' }).equals(publicDer));
  if (!trusted) {
    throw new RefusedError(`the signing key ${signer.keyid === '(untrusted)' ? '' : `${signer.keyid} `}is not among the keys ${settings.file} trusts; nothing was written`,
      `add it to audit.keys in a reviewed change: { id: ..., algorithm: ${signer.algorithm}, publicKey: ${publicDer.toString('base64')}, validFrom: ... }`);
  }
  const now = Date.now();
  if (trusted.validFrom && now < trusted.validFrom.getTime() - settings.skewMs || trusted.validUntil && now > trusted.validUntil.getTime() + settings.skewMs) {
    throw new RefusedError(`the signing key ${trusted.id} is not valid now (${trusted.validFrom?.toISOString()} to ${trusted.validUntil?.toISOString() ?? 'open'}); nothing was written`, 'sign with the current key');
  }
  return signer;
}

/** The AWS SDK loads only when the store is on S3: trace from a local index stays quick. */
async function storeFor(settings: AuditSettings, override?: string): Promise<AuditStore> {
  if (override && !override.startsWith('s3://')) return new DirectoryStore(override);
  const [{ S3Store }, { s3Client }] = await Promise.all([import('../adapters/s3/audit-store.js'), import('../adapters/s3/store.js')]);
  const m = override ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(override) : undefined;
  const bucket = m?.[1] ?? settings.bucket;
  if (m) settings.prefix = m[2]!.replace(/\/+$/, '');
  // Retries are the store's own (it looks before every retry), so the SDK sends each request once.
  return new S3Store({ client: s3Client({ maxAttempts: 1, requestTimeout: 60_000 }), bucket, prefix: settings.prefix, retentionDays: settings.retentionDays });
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

function readDeployment(file: string): DeploymentRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const d = JSON.parse(text) as DeploymentRecord;
    if (typeof d.environment !== 'string' || typeof d.commit !== 'string' || !Array.isArray(d.objects) || !Array.isArray(d.models)) throw new Error('not a deployment record (environment, commit, models, objects)');
    return d;
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
}

async function readReport(file: string): Promise<ReportDigest> {
  const { reportFromFile } = await import('../audit/facts.js');
  try {
    return reportFromFile(file.split('/').pop()!, readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read the gate report ${file}: ${(e as Error).message}`);
  }
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the signing key ${file}: ${(e as Error).message}`);
  }
}

/** Environments whose policy at `rev` has an audit section. */
async function auditedEnvironments(root: string, rev: string): Promise<string[]> {
  const names = (await folderEntries(root, rev, 'policies')).filter((n) => n.endsWith('.yaml'));
  const out: string[] = [];
  for (const n of names) {
    const text = (await fileAt(root, rev, `policies/${n}`))?.toString('utf8') ?? '';
    if (/^audit:/m.test(text)) out.push(n.slice(0, -5));
  }
  return out;
}

async function cacheDirFor(root: string, opts: Options): Promise<string> {
  if (opts.cacheDir) return opts.cacheDir;
  const gitDir = await gitDirectory(root);
  return join(gitDir, 'modelship-audit');
}

/** Now, or SOURCE_DATE_EPOCH when set (the reproducible-builds convention, as register does): a record's recordedAt. Retention always counts from the real clock. */
function recordTime(): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

function single(env: string | string[] | undefined): string {
  const list = env === undefined ? [] : ([] as string[]).concat(env);
  if (list.length !== 1) throw new UsageError('name one environment with --env <name>');
  return list[0]!;
}

function parseSince(text: string): number | Date {
  if (/^\d+$/.test(text)) return Number(text);
  return parseTime(text, '--since');
}

function parseTime(text: string, flag: string): Date {
  const d = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(d.getTime())) throw new UsageError(`${flag} expects a time such as 2026-08-14T10:22:00Z, found ${JSON.stringify(text)}`);
  return d;
}

function spki(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}

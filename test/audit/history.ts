// A realistic release history for audit tests: the example repository with an audit section in
// production's policy (merged as a pull request), then promotions merged as GitHub does
// ("Merge pull request #N from ..."), each followed by the deployment record a sync writes and a
// mirror into a write-once store. Dates are fixed and whole seconds, as git keeps them.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { changeFromGit } from '../../src/audit/facts.js';
import { mirror, type MirrorResult } from '../../src/audit/mirror.js';
import { auditSettings, type AuditSettings } from '../../src/audit/policy.js';
import { ed25519Signer, type Signer } from '../../src/audit/sign.js';
import { DirectoryStore, type AuditStore } from '../../src/audit/store.js';
import type { DeploymentRecord } from '../../src/model/deployments.js';
import { copyReleaseRepo, makeReleaseRepo, type TestRepo } from '../helpers/repo.js';

export const demoKey = {
  file: fileURLToPath(new URL('./fixtures/demo-ed25519.pem', import.meta.url)),
  id: 'acme-audit-demo-2026',
  publicKey: 'MCowBQYDK2VwAyEAcDlaxyEJbJdsSULlfeUs+twyxjDZ94CMWtjjKsiLihE=',
};

export interface PolicyKey {
  id: string;
  algorithm: 'ed25519' | 'ecdsa-p256-sha256';
  publicKey: string;
  validFrom: string;
  validUntil?: string;
}

/** The audit section as a reviewer would read it in policies/<env>.yaml. */
export function auditSection(keys: PolicyKey[], options: { store?: string; retentionDays?: number; clockSkew?: string } = {}): string {
  const lines = ['audit:', `  store: ${options.store ?? 's3://acme-audit/modelship'}`, `  retentionDays: ${options.retentionDays ?? 2555}`];
  if (options.clockSkew) lines.push(`  clockSkew: ${options.clockSkew}`);
  lines.push('  keys:');
  for (const k of keys) {
    lines.push(`    - id: ${k.id}`, `      algorithm: ${k.algorithm}`, `      publicKey: ${k.publicKey}`, `      validFrom: ${k.validFrom}`);
    if (k.validUntil) lines.push(`      validUntil: ${k.validUntil}`);
  }
  return lines.join('\n') + '\n';
}

export interface Pin {
  version: string;
  canary?: { version: string; traffic: number };
}

const addSeconds = (iso: string, s: number) => new Date(Date.parse(iso) + s * 1000).toISOString().replace('.000Z', 'Z');

export class History {
  readonly recordDir: string;
  constructor(readonly repo: TestRepo, readonly work: string) {
    this.recordDir = join(work, 'records');
  }

  git(at: string, ...args: string[]): string {
    return execFileSync('git', args, {
      cwd: this.repo.root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_AUTHOR_DATE: at, GIT_COMMITTER_DATE: at },
    }).trim();
  }

  /**
   * A pull request merged into main the way GitHub does it: the change on a branch authored by
   * `author`, then a merge commit naming the PR, with the author and approvals as trailers.
   */
  merge(pr: { number: number; title: string; author: string; approvers: Array<[string, string]>; at: string; edit: (root: string) => void }): string {
    const branch = `pr-${pr.number}`;
    const opened = addSeconds(pr.at, -3600);
    this.git(opened, 'checkout', '-q', '-b', branch, 'main');
    pr.edit(this.repo.root);
    this.git(opened, 'add', '-A');
    this.git(opened, '-c', `user.name=${pr.author}`, '-c', `user.email=${pr.author}@acmerisk.example`, 'commit', '-q', '-m', pr.title);
    this.git(pr.at, 'checkout', '-q', 'main');
    const trailers = [`Pull-Request-Author: ${pr.author}`, ...pr.approvers.map(([who, when]) => `Approved-by: ${who} ${when}`)];
    this.git(pr.at, 'merge', '-q', '--no-ff', '-m', `Merge pull request #${pr.number} from acmerisk/${branch}\n\n${pr.title}\n\n${trailers.join('\n')}`, branch);
    this.git(pr.at, 'branch', '-q', '-D', branch);
    this.git(pr.at, 'push', '-q', 'origin', 'main');
    return this.git(pr.at, 'rev-parse', 'HEAD');
  }

  /** A commit straight on main (a break-glass change when `breakGlass` gives its reason). */
  direct(c: { message: string; at: string; breakGlass?: string; push?: boolean; edit: (root: string) => void }): string {
    c.edit(this.repo.root);
    this.git(c.at, 'add', '-A');
    this.git(c.at, 'commit', '-q', '-m', `${c.message}${c.breakGlass ? `\n\nBreak-Glass: ${c.breakGlass}` : ''}`);
    if (c.push !== false) this.git(c.at, 'push', '-q', 'origin', 'main');
    return this.git(c.at, 'rev-parse', 'HEAD');
  }

  /** The deployment record a sync of `commit` writes: the changed models' objects applied and seen ready two minutes later. */
  deploy(environment: string, commit: string, at: string, changed: string[], options: { converged?: boolean } = {}): DeploymentRecord {
    const envFile = parseDocument(this.git(at, 'show', `${commit}:environments/${environment}.yaml`)).toJSON() as { models: Record<string, Pin> };
    const record: DeploymentRecord = {
      environment, commit, startedAt: at, finishedAt: addSeconds(at, 150), converged: options.converged ?? true,
      models: Object.entries(envFile.models).sort(([a], [b]) => a.localeCompare(b)).map(([model, p]) => ({
        model, version: p.version, ...(p.canary ? { canary: p.canary } : {}), changed: changed.includes(model), deployed: true, kind: 'online+batch',
      })),
      objects: changed.flatMap((model) => [
        { key: `InferenceService/ml-serving/${model}`, model, target: 'kubernetes' as const, op: 'update', outcome: options.converged === false ? 'not-ready' : 'ready', appliedAt: addSeconds(at, 5), ...(options.converged === false ? {} : { readyAt: addSeconds(at, 120) }) },
        { key: `ML_PROD.SCORING.${model.toUpperCase().replace(/-/g, '_')}_SCORING`, model, target: 'snowflake' as const, op: 'update', outcome: 'applied', appliedAt: addSeconds(at, 7) },
      ]),
    };
    mkdirSync(join(this.recordDir, environment), { recursive: true });
    writeFileSync(join(this.recordDir, environment, `${commit}.json`), JSON.stringify(record, null, 2) + '\n');
    return record;
  }
}

/** Sets (or removes) a model's pin in an environment file, keeping its comments. */
export function setPin(root: string, environment: string, model: string, pin: Pin | undefined): void {
  const file = join(root, 'environments', `${environment}.yaml`);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (!pin) doc.deleteIn(['models', model]);
  else {
    doc.setIn(['models', model, 'version'], pin.version);
    if (pin.canary) doc.setIn(['models', model, 'canary'], doc.createNode(pin.canary, { flow: true }));
    else doc.deleteIn(['models', model, 'canary']);
  }
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

export function appendPolicy(root: string, environment: string, text: string): void {
  const file = join(root, 'policies', `${environment}.yaml`);
  writeFileSync(file, readFileSync(file, 'utf8') + text);
}

/** Mirrors `commit` of production into `store` the way `audit mirror` does, with facts from git. */
export async function mirrorCommit(h: History, store: AuditStore, commit: string, options: { signer?: Signer; nextSigners?: Signer[]; now?: string; storedAt?: string; environment?: string; prefix?: string } = {}): Promise<MirrorResult> {
  const environment = options.environment ?? 'production';
  const settings: AuditSettings = await auditSettings(h.repo.root, commit, environment);
  if (options.prefix !== undefined) settings.prefix = options.prefix;
  const result = await mirror({
    root: h.repo.root, environment, commit, settings, store,
    signer: options.signer ?? ed25519Signer(readFileSync(demoKey.file, 'utf8'), demoKey.id),
    ...(options.nextSigners ? { nextSigners: options.nextSigners } : {}),
    repoName: 'acmerisk/release', recorderVersion: '0.1.0',
    deployment: async (c) => {
      try {
        return JSON.parse(readFileSync(join(h.recordDir, environment, `${c}.json`), 'utf8')) as DeploymentRecord;
      } catch {
        return undefined; // not synced on its own
      }
    },
    change: async (info, side) => ({ change: changeFromGit(info, side, settings.breakGlassReviewMs) }),
    ...(options.now ? { now: () => new Date(options.now!) } : {}),
  });
  // The story's clock is the store's too: a folder store's write time is its files' mtime, which
  // verify judges keys and order by, so what mirror wrote is stamped with the story's time
  // (`storedAt`, when the store's clock and the writer's `now` are meant to disagree).
  const storedAt = options.storedAt ?? options.now;
  if (storedAt && store instanceof DirectoryStore) stampStoreTime(store, result.written.flatMap((w) => [w.key, w.bundle]), storedAt);
  return result;
}

/**
 * Runs `fn` (a CLI `audit mirror`, say) and gives every file it added to the folder store the
 * story's time `at` as its write time: the store's clock, as S3 sets LastModified.
 */
export async function writtenAt<T>(storeDir: string, at: string, fn: () => Promise<T>): Promise<T> {
  const files = (): string[] => (existsSync(storeDir) ? (readdirSync(storeDir, { recursive: true, withFileTypes: true }) as Dirent[]).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)) : []);
  const before = new Set(files());
  const result = await fn();
  const t = new Date(at);
  for (const f of files()) if (!before.has(f)) utimesSync(f, t, t);
  return result;
}

/** Sets the write time of objects in a folder store (what S3's LastModified is to an S3 store). */
export function stampStoreTime(store: DirectoryStore, keys: string[], at: string): void {
  const t = new Date(at);
  for (const k of keys) utimesSync(join(store.location, k), t, t);
}

export interface Trail {
  h: History;
  store: DirectoryStore;
  storeDir: string;
  commits: { policy: string; canary: string; promote: string; chargeback: string };
  cleanup(): void;
}

/**
 * The standard trail: the audit policy (seq 0), a 10% canary of fraud-detector 2026.11.13-1
 * (seq 1), its full promotion (seq 2), chargeback-risk 2026.11.01-1 (seq 3); each synced and
 * mirrored right after its merge.
 */
export async function standardTrail(options: { keys?: PolicyKey[]; mirror?: boolean } = {}): Promise<Trail> {
  for (const k of ['GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE']) process.env[k] = '2026-11-01T09:00:00Z';
  // Built once per test process and options, then copied for each test (each may tamper with its own).
  const key = JSON.stringify(options);
  let template = templates.get(key);
  if (!template) {
    template = buildStandardTrail(options);
    templates.set(key, template);
    void template.then((x) => built.push(x), () => undefined);
  }
  return copyTrail(await template);
}

const templates = new Map<string, Promise<Trail>>();
const built: Trail[] = [];
process.once('exit', () => {
  for (const t of built) t.cleanup();
});

/** A copy of a trail (repository, store, deployment records) to tamper with on its own. */
export function copyTrail(template: Trail): Trail {
  const repo = copyReleaseRepo(template.h.repo);
  const work = mkdtempSync(join(tmpdir(), 'modelship-audit-'));
  cpSync(template.h.work, work, { recursive: true, preserveTimestamps: true });
  const storeDir = join(work, 'audit-store');
  return {
    h: new History(repo, work), store: new DirectoryStore(storeDir), storeDir, commits: { ...template.commits },
    cleanup: () => {
      execFileSync('chmod', ['-R', 'u+w', work]);
      rmSync(work, { recursive: true, force: true });
      repo.cleanup();
    },
  };
}

async function buildStandardTrail(options: { keys?: PolicyKey[]; mirror?: boolean }): Promise<Trail> {
  const repo = makeReleaseRepo();
  const work = mkdtempSync(join(tmpdir(), 'modelship-audit-'));
  const h = new History(repo, work);
  const storeDir = join(work, 'audit-store');
  const store = new DirectoryStore(storeDir);
  const keys = options.keys ?? [{ id: demoKey.id, algorithm: 'ed25519' as const, publicKey: demoKey.publicKey, validFrom: '2026-11-01T00:00:00Z' }];
  const doMirror = options.mirror !== false;
  const step = async (commit: string, at: string, changed: string[]) => {
    h.deploy('production', commit, at, changed);
    if (doMirror) await mirrorCommit(h, store, commit, { now: addSeconds(at, 200) });
  };
  const policy = h.merge({
    number: 10, title: 'policies: production keeps a signed, write-once audit trail', author: 'priya', at: '2026-11-10T09:00:00Z',
    approvers: [['omar', '2026-11-10T08:30:00Z'], ['lena', '2026-11-10T08:45:00Z']],
    edit: (root) => appendPolicy(root, 'production', auditSection(keys)),
  });
  await step(policy, '2026-11-10T09:01:00Z', []);
  const canary = h.merge({
    number: 11, title: 'Canary fraud-detector@2026.11.13-1 in production at 10%', author: 'ada', at: '2026-11-16T10:00:00Z',
    approvers: [['grace', '2026-11-16T09:20:00Z'], ['linus', '2026-11-16T09:40:00Z']],
    edit: (root) => setPin(root, 'production', 'fraud-detector', { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } }),
  });
  await step(canary, '2026-11-16T10:01:00Z', ['fraud-detector']);
  const promote = h.merge({
    number: 12, title: 'Promote fraud-detector@2026.11.13-1 to production', author: 'ada', at: '2026-11-18T10:00:00Z',
    approvers: [['grace', '2026-11-18T09:15:00Z'], ['linus', '2026-11-18T09:30:00Z']],
    edit: (root) => setPin(root, 'production', 'fraud-detector', { version: '2026.11.13-1' }),
  });
  await step(promote, '2026-11-18T10:01:00Z', ['fraud-detector']);
  const chargeback = h.merge({
    number: 13, title: 'Promote chargeback-risk@2026.11.01-1 to production', author: 'sam', at: '2026-11-19T14:00:00Z',
    approvers: [['grace', '2026-11-19T13:00:00Z'], ['omar', '2026-11-19T13:30:00Z']],
    edit: (root) => setPin(root, 'production', 'chargeback-risk', { version: '2026.11.01-1' }),
  });
  await step(chargeback, '2026-11-19T14:01:00Z', ['chargeback-risk']);
  return {
    h, store, storeDir, commits: { policy, canary, promote, chargeback },
    cleanup: () => {
      execFileSync('chmod', ['-R', 'u+w', work]);
      rmSync(work, { recursive: true, force: true });
      repo.cleanup();
    },
  };
}

export { addSeconds };

/** A scratch folder for one test, removed when it ends (write-once stores inside it are made writable first). */
export function scratchDir(t: { teardown(fn: () => void): void }, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `modelship-${name}-`));
  t.teardown(() => {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

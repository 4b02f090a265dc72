// Generates a real git repository with a year of release history, fast: the generated repository
// layout (generate-repo.ts) as the first commit, then N promotions on main (each edits one model's
// pin in one environment file), then a pull-request branch promoting one model to production.
// Commits are written with `git fast-import`; `git commit` would take minutes for 20k of them.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { generateRepo, modelNames, type RepoShape } from './generate-repo.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const dbtFixture = join(projectRoot, 'test/fixtures/dbt/manifest-v12.json');
/** Where the generated policies find the dbt manifest: in the repository, so no S3 GET. */
export const manifestPath = 'dbt/manifest.json';

const hour = 3_600_000;
const day = 24 * hour;
/** The history starts here; the generated versions are named 2025.01.01-1, 2025.01.02-1, ... */
const start = Date.UTC(2025, 0, 1);
/** The promotions spread over this span; the pull request follows right after. */
const span = 360 * day;
/** `check --at`: the same fixed time for every generated repository, after the last commit. */
export const checkTime = new Date(Date.UTC(2026, 0, 5, 12));
const soak = 48 * hour;

export interface HistoryTemplate {
  models: string[];
  versions: string[];
  environments: string[];
  /** every file of the first commit except the environment files, by repository path */
  files: Map<string, Buffer>;
  /** per environment: its text split around the 30 version values (pieces.length = models + 1) */
  envPieces: Map<string, string[]>;
}

export interface GeneratedHistory {
  dir: string;
  /** commits on main (the first commit with the whole layout, then the promotions) */
  commits: number;
  files: number;
  branch: string;
  /** the pull request's change */
  promotion: { model: string; environment: string; from: string; to: string; stagingSince: Date };
  /** the candidate's artifact, as its version manifest records it */
  artifact: { uri: string; sha256: string; size: number };
  /** the candidate's version manifest, its exact bytes (its registration record holds them) */
  manifest: Buffer;
  lastCommitAt: Date;
}

/**
 * Generates the layout once (into `dir`) and keeps it in memory for every repository: the
 * policies read the dbt manifest from `dbt/manifest.json` (test/fixtures/dbt/manifest-v12.json,
 * whose feature models the example card reads and whose checksums the example version recorded).
 */
export function prepareTemplate(dir: string, shape: RepoShape): HistoryTemplate {
  generateRepo(dir, shape);
  const models = modelNames(shape.models);
  const written = readdirSync(join(dir, 'models'));
  if (written.length !== models.length || models.some((m) => !written.includes(m))) throw new Error(`generate-repo wrote ${written.length} model folders (${written.sort().slice(0, 3).join(', ')}, …), expected ${models.length} (${models[0]} … ${models.at(-1)})`);
  const versions = readdirSync(join(dir, 'models', models[0]!, 'versions')).map((f) => f.replace(/\.yaml$/, '')).sort();
  if (models.length !== shape.models || versions.length !== shape.versions) throw new Error(`generate-repo wrote ${models.length} models × ${versions.length} versions, expected ${shape.models} × ${shape.versions}`);

  const files = new Map<string, Buffer>();
  for (const path of walk(dir)) {
    const rel = relative(dir, path);
    if (rel.startsWith('environments/')) continue;
    const version = /^models\/[^/]+\/versions\/(\d{4})\.(\d\d)\.(\d\d)-\d+\.yaml$/.exec(rel);
    if (!version) {
      files.set(rel, readFileSync(path));
      continue;
    }
    // Registered on the day the version is named after (the example's date is after this history).
    const text = readFileSync(path, 'utf8');
    if (!/^registeredAt: \S+$/m.test(text)) throw new Error(`${rel}: no registeredAt line`);
    files.set(rel, Buffer.from(text.replace(/^registeredAt: \S+$/m, `registeredAt: ${version[1]}-${version[2]}-${version[3]}T03:44:00Z`)));
  }
  for (const env of shape.environments) {
    const rel = `policies/${env}.yaml`;
    const text = files.get(rel)!.toString('utf8');
    const hits = text.match(/^(\s+manifest: )s3:\/\/\S+$/gm) ?? [];
    if (hits.length !== 1) throw new Error(`${rel}: expected one s3:// gates.features.manifest, found ${hits.length}`);
    files.set(rel, Buffer.from(text.replace(/^(\s+manifest: )s3:\/\/\S+$/m, `$1${manifestPath}`)));
  }
  const manifest = readFileSync(dbtFixture);
  const nodes = (JSON.parse(manifest.toString('utf8')) as { nodes: Record<string, unknown> }).nodes;
  for (const m of models) {
    const card = parse(files.get(`models/${m}/model.yaml`)!.toString('utf8')) as { features: Array<{ source: { dbtModel: string } }> };
    const missing = card.features.map((f) => f.source.dbtModel).filter((id) => !(id in nodes));
    if (missing.length) throw new Error(`the dbt fixture lacks ${missing.join(', ')}, which ${m}'s card reads`);
  }
  files.set(manifestPath, manifest);

  const envPieces = new Map<string, string[]>();
  for (const env of shape.environments) {
    const text = readFileSync(join(dir, 'environments', `${env}.yaml`), 'utf8');
    const pieces: string[] = [];
    let rest = text;
    for (const m of models) {
      const re = new RegExp(`\\n  ${m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\n    version: ([^\\s#]+)`);
      const hit = re.exec(rest);
      if (!hit) throw new Error(`environments/${env}.yaml: no "version:" line under ${m}`);
      const valueAt = hit.index + hit[0].length - hit[1]!.length;
      pieces.push(rest.slice(0, valueAt));
      rest = rest.slice(valueAt + hit[1]!.length);
    }
    pieces.push(rest);
    envPieces.set(env, pieces);
  }
  return { models, versions, environments: shape.environments, files, envPieces };
}

interface Promotion { at: number; environment: string; model: number; version: number }

/**
 * The year of promotions: release cycles, one model each, round-robin over the models; a cycle
 * pins a newer version in staging, in production at least 48 h later, and in eu-production
 * (promoted from staging too) a little after. A model's pins only move forward.
 */
function schedule(t: HistoryTemplate, commits: number): Promotion[] {
  const [staging, ...downstream] = t.environments;
  const cycles = Math.ceil(commits / t.environments.length);
  const spacing = span / cycles;
  const perModel = Math.ceil((cycles + 2 * t.models.length) / t.models.length);
  if (perModel > t.versions.length - 2) throw new Error(`${commits} commits need ${perModel} versions per model; only ${t.versions.length} are registered`);
  const rand = mulberry32(commits);
  const out: Promotion[] = [];
  const lastAt = new Map<string, number>();
  // A few more cycles than needed, so the last staging promotions have not reached production yet.
  for (let k = 0; k < cycles + 2 * t.models.length; k++) {
    const model = k % t.models.length;
    const version = 1 + Math.floor((Math.floor(k / t.models.length) * (t.versions.length - 2)) / perModel);
    const at = start + hour + (k + rand() * 0.5) * spacing;
    out.push({ at, environment: staging!, model, version });
    downstream.forEach((env, i) => {
      const key = `${env}/${model}`;
      const when = Math.max(at + soak + (i * 2 + rand() * 24) * hour, (lastAt.get(key) ?? 0) + 60_000);
      lastAt.set(key, when);
      out.push({ at: when, environment: env, model, version });
    });
  }
  out.sort((a, b) => a.at - b.at);
  const kept = out.slice(0, commits);
  // committer times in whole seconds, strictly increasing
  let prev = 0;
  for (const p of kept) prev = p.at = Math.max(Math.floor(p.at / 1000) * 1000, prev + 1000);
  return kept;
}

/** Writes the repository into `dir` (a new folder): main with `commits` promotions after the first commit, and the PR branch. */
export async function generateHistory(dir: string, t: HistoryTemplate, commits: number): Promise<GeneratedHistory> {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  const plan = schedule(t, commits);
  const lastCommitAt = plan.at(-1)!.at;
  if (lastCommitAt > checkTime.getTime() - soak - 2 * hour) throw new Error(`the history ends at ${new Date(lastCommitAt).toISOString()}, too close to the check time ${checkTime.toISOString()}`);

  const pins = new Map(t.environments.map((e) => [e, t.models.map(() => 0)]));
  const pinnedAt = new Map(t.environments.map((e) => [e, t.models.map(() => start - day)]));
  const envText = (env: string) => {
    const pieces = t.envPieces.get(env)!;
    const p = pins.get(env)!;
    let s = pieces[0]!;
    for (let i = 0; i < p.length; i++) s += t.versions[p[i]!]! + pieces[i + 1]!;
    return s;
  };

  const fi = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  fi.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    fi.on('error', reject);
    fi.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited with ${code}: ${stderr}`))));
  });
  const write = async (chunk: string | Buffer) => {
    if (!fi.stdin.write(chunk)) await new Promise<void>((r) => fi.stdin.once('drain', r));
  };
  const data = async (body: string | Buffer) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await write(`data ${bytes.length}\n`);
    await write(bytes);
    await write('\n');
  };
  const who = (ms: number) => `bench <bench@example.invalid> ${Math.floor(ms / 1000)} +0000`;
  const commitHeader = async (ref: string, at: number, message: string) => {
    await write(`commit ${ref}\nauthor ${who(at)}\ncommitter ${who(at)}\n`);
    await data(message);
  };

  // The first commit: the whole layout, every model pinned to the first version everywhere.
  await commitHeader('refs/heads/main', start - day, 'generated release repository\n');
  for (const [path, bytes] of t.files) {
    await write(`M 100644 inline ${path}\n`);
    await data(bytes);
  }
  for (const env of t.environments) {
    await write(`M 100644 inline environments/${env}.yaml\n`);
    await data(envText(env));
  }
  await write('\n');

  for (const p of plan) {
    const from = pins.get(p.environment)![p.model]!;
    pins.get(p.environment)![p.model] = p.version;
    pinnedAt.get(p.environment)![p.model] = p.at;
    await commitHeader('refs/heads/main', p.at, `promote(${p.environment}): ${t.models[p.model]} ${t.versions[from]} → ${t.versions[p.version]}\n`);
    await write(`M 100644 inline environments/${p.environment}.yaml\n`);
    await data(envText(p.environment));
    await write('\n');
  }

  // The pull request: production takes the staging version that has soaked longest and is not live there yet.
  const [staging, production] = t.environments as [string, string];
  let pick: number | undefined;
  t.models.forEach((_, m) => {
    const ahead = pins.get(staging)![m]! > pins.get(production)![m]!;
    if (ahead && (pick === undefined || pinnedAt.get(staging)![m]! < pinnedAt.get(staging)![pick]!)) pick = m;
  });
  if (pick === undefined) throw new Error('no model has a newer version in staging than in production; cannot make the pull request');
  const model = t.models[pick]!;
  const from = t.versions[pins.get(production)![pick]!]!;
  const to = t.versions[pins.get(staging)![pick]!]!;
  const branch = `promote/${model}-production`;
  pins.get(production)![pick] = pins.get(staging)![pick]!;
  await write(`reset refs/heads/${branch}\nfrom refs/heads/main\n\n`);
  await commitHeader(`refs/heads/${branch}`, lastCommitAt + hour, `promote(${production}): ${model} ${from} → ${to}\n`);
  await write(`M 100644 inline environments/${production}.yaml\n`);
  await data(envText(production));
  await write('\n');
  await write('done\n');
  fi.stdin.end();
  await done;

  // fast-import writes a pack that is not optimal (its deltas run oldest to newest); a clone from
  // a server gets a repacked one, so repack as git-fast-import(1) advises.
  // A window of 2 keeps the newest version of each file whole and older ones as deltas against
  // newer ones, as a server's pack has them, in a fraction of the default window's time.
  git(dir, 'repack', '-a', '-d', '-f', '-q', '--window=2');
  // The working tree holds main: validate reads it, and the features gate reads dbt/manifest.json from it.
  git(dir, 'reset', '-q', '--hard', 'main');

  const manifestBytes = t.files.get(`models/${model}/versions/${to}.yaml`)!;
  const manifest = parse(manifestBytes.toString('utf8')) as { artifact: { uri: string; sha256: string; size: number } };
  return {
    dir, commits: plan.length + 1, files: t.files.size + t.environments.length, branch,
    promotion: { model, environment: production, from, to, stagingSince: new Date(pinnedAt.get(staging)![pick]!) },
    artifact: manifest.artifact,
    manifest: Buffer.from(manifestBytes),
    lastCommitAt: new Date(lastCommitAt),
  };
}

function git(dir: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** A small seeded PRNG, so every run generates the same repository. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

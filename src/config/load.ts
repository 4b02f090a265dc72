// Loading the release repository: which file is which, parsing with positions, schema checks.
// The result keeps every file's parsed text so later checks can point at lines and columns.

import { createHash } from 'node:crypto';
import { ValidationError, type Problem } from '../errors.js';
import { schemaFileName, validateAgainst, type SchemaName } from './schema.js';
import type { RepoFile, Snapshot } from './snapshot.js';
import type { Environment, ModelCard, Policy, RepositoryPolicy, VersionManifest } from './types.js';
import { LoaderWorker } from './parallel.js';
import { checkVersion } from './check.js';
import type { ValidateCache } from './validate-cache.js';
import { repositoryPolicyFile } from '../model/owners.js';
import { decodeText, defaultLimits, lazyLocator, oversizedProblem, parseJson, parseYaml, parseYamlPrecisely, type Limits, type ParsedText } from './yaml.js';

/** A repository file that passed its schema, with what it holds and where. */
export interface Loaded<T> {
  file: string;
  data: T;
  parsed: ParsedText;
  /** version manifests: SHA-256 (hex) of the file's exact bytes, which register's registration record must carry */
  sha256?: string;
}

export interface LoadedRepository {
  label: string;
  models: Map<string, Loaded<ModelCard>>;
  /** model name -> version -> manifest */
  versions: Map<string, Map<string, Loaded<VersionManifest>>>;
  /** version files that were listed but not read (lazy loads); model -> versions */
  versionFiles: Map<string, Set<string>>;
  environments: Map<string, Loaded<Environment>>;
  policies: Map<string, Loaded<Policy>>;
  /** policies/repository.yaml: who approves code, policy and environment changes (absent when missing or invalid) */
  repository?: Loaded<RepositoryPolicy>;
  /** every release file listed, loaded or not: existence checks use this, so one broken file does not cascade */
  present: PathSet;
  /** files that parsed but failed their schema: cross-file checks look at what they safely can */
  unvalidated: Map<string, ParsedText>;
  problems: Problem[];
  /** problems of the version manifests checked as they were loaded and not kept (LoadOptions.keepVersions 'pinned') */
  versionProblems: Problem[];
  filesChecked: number;
}

type Kind = { schema: SchemaName; key: string[] };

/** A set of paths to ask and go through (a Set is one). */
export interface PathSet extends Iterable<string> {
  has(path: string): boolean;
}

export { repositoryPolicyFile };

/** What a path is, by where it lives. `key` is the folder/file identity the content must match. */
export function classify(path: string): Kind | { ignore: true } | { problem: string } {
  const parts = path.split('/');
  const name = parts[parts.length - 1]!;
  if (name.startsWith('.') || /^README(\.[a-z]+)?$/i.test(name)) return { ignore: true };
  if (/\.yml$/.test(name)) return { problem: 'modelship reads .yaml files only; rename this file to end in .yaml' };
  if (parts[0] === 'environments' && parts.length === 2 && name.endsWith('.yaml')) return { schema: 'environment', key: [name.slice(0, -5)] };
  if (path === repositoryPolicyFile) return { schema: 'repository', key: [] };
  if (parts[0] === 'policies' && parts.length === 2 && name.endsWith('.yaml')) return { schema: 'policy', key: [name.slice(0, -5)] };
  if (parts[0] === 'models' && parts.length === 3 && name === 'model.yaml') return { schema: 'model', key: [parts[1]!] };
  if (parts[0] === 'models' && parts.length === 4 && parts[2] === 'versions' && name.endsWith('.yaml')) {
    return { schema: 'version', key: [parts[1]!, name.slice(0, -5)] };
  }
  return { problem: `not a file modelship knows; expected ${expectedLayout(parts[0]!)}` };
}

/** What the listing of a snapshot (or one folder of it) says, before anything is read. */
interface Classified {
  /** the release files other than version manifests, to be loaded */
  others: Array<{ path: string; kind: Kind }>;
  /** the version manifests listed, by model (over the size limit too) */
  versionFiles: Map<string, Set<string>>;
  /** the version manifests to load when all are (not those over the limit) */
  versions: string[];
  /** files too big to read (their problems are in `problems`) */
  tooBig: string[];
  problems: Problem[];
}

const classifiedListings = new WeakMap<readonly RepoFile[], Map<number, Classified>>();

function classified(files: readonly RepoFile[], limits: Limits): Classified {
  let byLimit = classifiedListings.get(files);
  if (!byLimit) classifiedListings.set(files, (byLimit = new Map()));
  let out = byLimit.get(limits.maxBytes);
  if (out) return out;
  out = { others: [], versionFiles: new Map(), versions: [], tooBig: [], problems: [] };
  for (const f of files) {
    const key = versionKey(f.path);
    const kind = key ? undefined : classify(f.path);
    if (kind && 'ignore' in kind) continue;
    if (kind && 'problem' in kind) {
      out.problems.push({ file: f.path, line: 0, col: 0, path: '', severity: 'warning', message: `${kind.problem}; ignored` });
      continue;
    }
    const version = key ?? (kind!.schema === 'version' ? kind!.key as [string, string] : undefined);
    if (version) {
      let set = out.versionFiles.get(version[0]);
      if (!set) out.versionFiles.set(version[0], (set = new Set()));
      set.add(version[1]);
    }
    if (f.size !== undefined && f.size > limits.maxBytes) {
      out.problems.push(oversized(f.path, f.size, limits));
      out.tooBig.push(f.path);
    } else if (version) out.versions.push(f.path);
    else out.others.push({ path: f.path, kind: kind as Kind });
  }
  byLimit.set(limits.maxBytes, out);
  return out;
}

/** Every release file listed: version manifests through versionFiles (not a path each, per snapshot), the others by path. */
function presentIn(others: Set<string>, versionFiles: Map<string, Set<string>>): PathSet {
  return {
    has(path) {
      const key = versionKey(path);
      return key ? versionFiles.get(key[0])?.has(key[1]) === true : others.has(path);
    },
    *[Symbol.iterator]() {
      yield* others;
      for (const [model, versions] of versionFiles) for (const v of versions) yield `models/${model}/versions/${v}.yaml`;
    },
  };
}

/**
 * [model, version] for a path classify() calls a version manifest (models/<model>/versions/<version>.yaml),
 * found without splitting or regular expressions: it runs for every file of the repository.
 */
function versionKey(path: string): [string, string] | undefined {
  if (!path.startsWith('models/')) return undefined;
  const slash = path.indexOf('/', 7);
  if (slash <= 7 || !path.startsWith('/versions/', slash)) return undefined;
  const at = slash + 10;
  if (path.indexOf('/', at) >= 0 || !path.endsWith('.yaml') || path.length === at + 5) return undefined;
  // A hidden file or a README is ignored (classify).
  const first = path.charCodeAt(at);
  if (first === 46 /* . */ || ((first | 32) === 114 /* r */ && 'ignore' in classify(path))) return undefined;
  return [path.slice(7, slash), path.slice(at, -5)];
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function expectedLayout(top: string): string {
  switch (top) {
    case 'environments': return 'environments/<environment>.yaml';
    case 'policies': return 'policies/<environment>.yaml or policies/repository.yaml';
    default: return 'models/<model>/model.yaml or models/<model>/versions/<version>.yaml';
  }
}

export interface LoadOptions {
  limits?: Limits;
  /** 'all' reads every version manifest (validate); 'pinned' only those environments pin (check, sync) */
  versions?: 'all' | 'pinned';
  /** with 'pinned': version files read too though pinned nowhere (check: those the change adds or edits) */
  alsoRead?: readonly string[];
  /** from how many documents on a worker thread shares the parsing (default parallel.ts's threshold) */
  parallelThreshold?: number;
  /** version files that loaded cleanly before (validate-cache.ts): their data is taken from here, not parsed again */
  cache?: ValidateCache;
  /**
   * The files `cache` does not keep (environments, policies; model cards too without a cache) that
   * loaded cleanly earlier in this run, by schema and SHA-256 of their bytes: the base, head and
   * fork point of a pull request share most of them, and the same bytes load the same way. In
   * memory only.
   */
  memo?: Map<string, unknown>;
  /**
   * With versions 'all': 'all' keeps every manifest in `versions` (default); 'pinned' checks
   * each of the others (check.ts checkVersion) as soon as it is loaded and keeps only its
   * problems, so a year of history is never in memory at once (validate).
   */
  keepVersions?: 'all' | 'pinned';
}

/**
 * Files are read and loaded a batch at a time, the next batch read while this one is loaded (at
 * a revision through one `git cat-file --batch`, Snapshot.hold): what a batch reads and parses
 * dies young, so neither the heap nor the buffers outside it grow with history. (Read 2048 at a
 * time, the files' buffers lived long enough to be promoted and then waited for a full
 * collection: ~40 MB more at a year of history.)
 */
const batchSize = 128;

function lazyParsed(file: string, bytes: Buffer, data: unknown): ParsedText {
  // The text is decoded only if a position is asked for: thousands of clean files never are.
  let locate: ParsedText['locate'] | undefined;
  return { file, data, problems: [], locate: (path, key) => (locate ??= lazyLocator(file, bytes.toString('utf8')))(path, key) };
}

/** Loads and schema-checks the release files of a snapshot. Never throws for bad content: problems are collected. */
export async function loadRepository(snapshot: Snapshot, options: LoadOptions = {}): Promise<LoadedRepository> {
  const limits = options.limits ?? defaultLimits;
  const repo: LoadedRepository = {
    label: snapshot.label, models: new Map(), versions: new Map(), versionFiles: new Map(),
    environments: new Map(), policies: new Map(), present: new Set(), unvalidated: new Map(), problems: [], versionProblems: [], filesChecked: 0,
  };
  const wanted: Array<{ path: string; kind: Kind }> = [];
  // Loading only what is pinned, the version files (nearly all of a repository of hundreds of
  // models) are only noted; the pinned ones are picked after the environments are read.
  const pinnedOnly = options.versions === 'pinned';
  const tooBig = new Set<string>();
  const others = new Set<string>();
  // A folder listed once for several snapshots (check's base, head and fork point share models/)
  // is also classified once: its version files are the same Sets in each.
  for (const part of snapshot.parts ? await snapshot.parts() : [await snapshot.list()]) {
    const listed = classified(part, limits);
    for (const p of listed.others) others.add(p.path);
    for (const [model, versions] of listed.versionFiles) {
      const mine = repo.versionFiles.get(model);
      repo.versionFiles.set(model, mine ? new Set([...mine, ...versions]) : versions);
    }
    repo.problems.push(...listed.problems);
    for (const p of listed.tooBig) tooBig.add(p);
    wanted.push(...listed.others);
    if (!pinnedOnly) for (const path of listed.versions) wanted.push({ path, kind: { schema: 'version', key: versionKey(path)! } });
  }
  repo.present = presentIn(others, repo.versionFiles);

  const streamed = options.versions !== 'pinned' && options.keepVersions === 'pinned';
  const first = options.versions === 'pinned' || streamed ? wanted.filter((w) => w.kind.schema !== 'version') : wanted;
  await readAndLoad(snapshot, first, limits, repo, options.parallelThreshold, options.cache, undefined, options.memo);
  if (options.versions === 'pinned' || streamed) {
    const pinned = new Set<string>(options.alsoRead ?? []);
    for (const env of repo.environments.values()) {
      for (const [model, d] of Object.entries(env.data.models)) {
        for (const v of [d.version, d.canary?.version, d.shadow?.version]) if (v) pinned.add(`models/${model}/versions/${v}.yaml`);
      }
    }
    // In listing order, as the other files (git's order of paths is their byte order).
    const versions = streamed ? wanted.filter((w) => w.kind.schema === 'version')
      : [...pinned].filter((p) => repo.present.has(p) && !tooBig.has(p)).sort(byteOrder).flatMap((path) => {
        const key = versionKey(path);
        return key ? [{ path, kind: { schema: 'version' as const, key } }] : [];
      });
    await readAndLoad(snapshot, versions, limits, repo, options.parallelThreshold, options.cache, streamed ? (path) => pinned.has(path) : undefined, options.memo);
  }
  return repo;
}

/**
 * Reads and loads `items` a batch at a time. `keep`: which version manifests stay in
 * repo.versions; the others are checked here (checkVersion) and only their problems kept.
 */
async function readAndLoad(snapshot: Snapshot, items: Array<{ path: string; kind: Kind }>, limits: Limits, repo: LoadedRepository, parallelThreshold?: number, cache?: ValidateCache, keep?: (path: string) => boolean, memo?: Map<string, unknown>) {
  // Whether a worker pays is decided at the first batch: how many of its files the cache did not
  // have, as a share of all the files to load.
  let worker: LoaderWorker | undefined;
  let decided = false;
  const workerFor = (batchFiles: number, toParse: number) => {
    if (!decided) worker = LoaderWorker.start(Math.round((toParse / Math.max(batchFiles, 1)) * items.length), limits, parallelThreshold);
    decided = true;
    return worker;
  };
  // Sizes the listing left out (a git revision's) are learned now, for the files read only: one
  // over the limit is reported and never read.
  const sizes = snapshot.sizes && items.length ? await snapshot.sizes(items.map((i) => i.path)) : undefined;
  if (sizes) {
    for (const i of items) if (sizes.get(i.path)! > limits.maxBytes) repo.problems.push(oversized(i.path, sizes.get(i.path)!, limits));
    items = items.filter((i) => !(sizes.get(i.path)! > limits.maxBytes));
  }
  const release = snapshot.hold?.();
  const read = (at: number) => {
    const reading = snapshot.read(items.slice(at, at + batchSize).map((i) => i.path), limits.maxBytes);
    reading.catch(() => undefined); // awaited below, unless loading the batch before it threw
    return reading;
  };
  try {
    let next = items.length ? read(0) : undefined;
    for (let at = 0; next; at += batchSize) {
      const contents = await next;
      next = at + batchSize < items.length ? read(at + batchSize) : undefined;
      await loadBatch(items.slice(at, at + batchSize), contents, limits, repo, workerFor, cache, keep, memo);
    }
  } finally {
    release?.();
    worker?.close();
  }
}

async function loadBatch(items: Array<{ path: string; kind: Kind }>, contents: Map<string, Buffer>, limits: Limits, repo: LoadedRepository, workerFor: (batchFiles: number, toParse: number) => LoaderWorker | undefined, cache?: ValidateCache, keep?: (path: string) => boolean, memo?: Map<string, unknown>) {
  const results = new Map<string, ReturnType<typeof loadDocument>>();
  // Version manifests: the same digest as registry/manifest.ts manifestDigest (SHA-256 of the exact bytes),
  // which is also the cache's key.
  const digests = new Map<string, string>();
  for (const { path, kind } of items) {
    const bytes = contents.get(path);
    if (!bytes || (kind.schema !== 'version' && !memo && !(cache && kind.schema === 'model'))) continue;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    digests.set(path, sha256);
    const key = cacheKey(kind.schema, sha256);
    const data = key && cache ? cache.get(key) : memo?.get(`${kind.schema} ${sha256}`);
    if (data !== undefined) results.set(path, { loaded: { file: path, data, parsed: lazyParsed(path, bytes, data) }, problems: [] });
  }
  const jobs = items.flatMap(({ path, kind }) => (contents.has(path) && !results.has(path) ? [{ path, bytes: contents.get(path)!, schema: kind.schema }] : []));
  const split = workerFor(items.length, jobs.length)?.split(jobs);
  for (const job of split?.mine ?? jobs) results.set(job.path, loadDocument(job.path, job.bytes, job.schema, limits));
  if (split) {
    // A worker that failed (its heap cap, a crash) costs time, never an answer: its share is loaded here.
    const clean = await split.theirs.catch(() => new Map<string, unknown>());
    for (const job of jobs.slice(split.mine.length)) {
      // A clean document's data is enough (its locator re-parses lazily); anything else is loaded here for its positions.
      results.set(job.path, clean.has(job.path)
        ? { loaded: { file: job.path, data: clean.get(job.path), parsed: lazyParsed(job.path, job.bytes, clean.get(job.path)) }, problems: [] }
        : loadDocument(job.path, job.bytes, job.schema, limits));
    }
  }
  for (const { path, kind } of items) {
    const result = results.get(path);
    if (!result) continue;
    repo.filesChecked++;
    repo.problems.push(...result.problems);
    if (!result.loaded) {
      if (result.parsed) repo.unvalidated.set(path, result.parsed);
      continue;
    }
    if (kind.schema !== 'version' && result.problems.length === 0 && digests.has(path)) {
      // each file in one place: the validate cache for what it keeps, the run's memo for the rest
      const key = cacheKey(kind.schema, digests.get(path)!);
      if (key && cache) cache.put(key, result.loaded.data);
      else memo?.set(`${kind.schema} ${digests.get(path)}`, result.loaded.data);
    }
    switch (kind.schema) {
      case 'model': repo.models.set(kind.key[0]!, result.loaded as Loaded<ModelCard>); break;
      case 'environment': repo.environments.set(kind.key[0]!, result.loaded as Loaded<Environment>); break;
      case 'policy': repo.policies.set(kind.key[0]!, result.loaded as Loaded<Policy>); break;
      case 'repository': repo.repository = result.loaded as Loaded<RepositoryPolicy>; break;
      case 'version': {
        const [model, version] = kind.key as [string, string];
        const sha256 = digests.get(path);
        if (sha256) {
          result.loaded.sha256 = sha256;
          // Only a file with no problem at all is remembered: a warning must be reported every run.
          if (cache && result.problems.length === 0) cache.put(sha256, result.loaded.data);
        }
        if (keep && !keep(path)) {
          repo.versionProblems.push(...checkVersion(repo, model, version, result.loaded as Loaded<VersionManifest>));
          break;
        }
        let byVersion = repo.versions.get(model);
        if (!byVersion) repo.versions.set(model, (byVersion = new Map()));
        byVersion.set(version, result.loaded as Loaded<VersionManifest>);
        break;
      }
    }
  }
}

/**
 * The validate cache's key for a file that loaded cleanly: a version manifest's is the SHA-256 of
 * its bytes (the digest register records); a model card's, that digest after "model " (the same
 * bytes validated as a manifest say nothing of them as a card). Model cards change seldom and
 * there are hundreds; environments and policies change with nearly every commit, so they are not
 * kept (LoadOptions.memo shares them within a run).
 */
function cacheKey(schema: SchemaName, sha256: string): string | undefined {
  return schema === 'version' ? sha256 : schema === 'model' ? `model ${sha256}` : undefined;
}

/**
 * Parses one YAML or JSON document and validates it against a schema.
 * `loaded` is set only when the document is free of errors.
 */
export function loadDocument<T>(file: string, bytes: Uint8Array, schema: SchemaName, limits: Limits = defaultLimits):
  { loaded?: Loaded<T>; parsed?: ParsedText; problems: Problem[] } {
  const text = decodeText(file, bytes, limits);
  if (typeof text !== 'string') return { problems: [text] };
  const isJson = file.endsWith('.json');
  let parsed = isJson ? parseJson(file, text, limits) : parseYaml(file, text, limits);
  if (parsed.problems.length) return { problems: parsed.problems };
  let problems = validateAgainst(schema, parsed);
  if (problems.length && !isJson) {
    // Positions come from the document model; the fast parser's data cannot point at lines.
    parsed = parseYamlPrecisely(file, text, limits);
    problems = parsed.problems.length ? parsed.problems : validateAgainst(schema, parsed);
  }
  if (!isJson) problems.push(...schemaComment(file, text, schema));
  const errors = problems.filter((p) => p.severity === 'error');
  return errors.length ? { parsed, problems } : { loaded: { file, data: parsed.data as T, parsed }, problems };
}

/**
 * Reads one document against its schema, or throws a ValidationError whose problems name the
 * file, line, column, field path, what was expected and what was found. `what` opens the
 * message (e.g. "policies/production.yaml at 1a2b3c4d5e6f").
 */
export function readDocument<T>(file: string, bytes: Uint8Array, schema: SchemaName, what = file): Loaded<T> {
  const { loaded, problems } = loadDocument<T>(file, bytes, schema);
  if (!loaded) throw new ValidationError(problems, `${what}: ${ValidationError.summarize(problems)}`);
  return loaded;
}

/** The `# yaml-language-server: $schema=` line that lets editors check the file as it is typed. */
export function schemaCommentFor(file: string, schema: SchemaName): string {
  const depth = file.split('/').length - 1;
  return `# yaml-language-server: $schema=${'../'.repeat(depth)}src/config/schemas/${schemaFileName(schema)}`;
}

function schemaComment(file: string, text: string, schema: SchemaName): Problem[] {
  const expected = schemaCommentFor(file, schema);
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0).trimEnd();
  if (firstLine === expected) return [];
  return [{
    file, line: 1, col: 1, path: '', severity: 'warning',
    message: `the first line should be "${expected}" so editors check this file as it is typed`,
    expected, found: firstLine.startsWith('#') ? firstLine : 'no schema comment',
  }];
}

function oversized(file: string, size: number, limits: Limits): Problem {
  return oversizedProblem(file, size, limits.maxBytes);
}

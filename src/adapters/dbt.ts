// Reads a dbt manifest.json (schema v11 from dbt Core 1.7, v12 from 1.8–1.11) into the small
// index the features gate needs: per model, its checksums, contract, columns and deprecation.
// The production dbt job publishes the manifest on S3 or in the repository; loading it is the
// only I/O here, and it is kept apart from parsing so the gate can be tested with plain data.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { DbtManifestError, ExternalError } from '../errors.js';
import { getObjectBytes, parseS3Uri, s3Client, type S3Client } from './s3/store.js';
import type { DbtColumn, DbtConstraint, DbtIndex, DbtNode } from '../model/dbt.js';

/** The schema versions we read, and the dbt Core releases that write them (for messages). */
const supported: Record<number, string> = { 11: 'dbt Core 1.7', 12: 'dbt Core 1.8–1.11' };
const older: Record<number, string> = { 4: '1.0', 5: '1.1', 6: '1.2', 7: '1.3', 8: '1.4', 9: '1.5', 10: '1.6' };
const supportedText = 'v11 (dbt Core 1.7) and v12 (dbt Core 1.8–1.11)';

export { DbtManifestError };

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);
const strOrNum = (x: unknown): string | undefined => (typeof x === 'number' ? String(x) : str(x));

/**
 * Parses manifest text into an index. `only` limits the index to those unique_ids (a big
 * project has thousands of nodes; the gate needs a handful). Throws DbtManifestError.
 */
export function parseDbtManifest(text: string, opts: { location?: string; sha256?: string; only?: Iterable<string> } = {}): DbtIndex {
  const where = opts.location ?? 'dbt manifest';
  const fail = (why: string) => new DbtManifestError(`${where}: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw fail(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc) || !isObject(doc.metadata)) throw fail('not a dbt manifest: expected an object with metadata.dbt_schema_version');
  const schemaUri = doc.metadata.dbt_schema_version;
  if (typeof schemaUri !== 'string') throw fail('not a dbt manifest: metadata.dbt_schema_version is missing');
  const m = /\/dbt\/([a-z_-]+)\/v(\d+)\.json$/.exec(schemaUri);
  if (!m) throw fail(`not a dbt manifest: unrecognised metadata.dbt_schema_version ${JSON.stringify(schemaUri)}`);
  if (m[1] !== 'manifest') throw fail(`a dbt ${m[1]} artifact (${schemaUri}), not manifest.json`);
  const version = Number(m[2]);
  if (!supported[version]) {
    const found = older[version] ? `v${version} (written by dbt Core ${older[version]})` : version > 12 ? `v${version}, newer than this modelship knows` : `v${version}`;
    throw fail(`unsupported dbt manifest schema ${found}; modelship reads ${supportedText}`);
  }
  if (!isObject(doc.nodes)) throw fail('not a dbt manifest: "nodes" is missing or not an object');
  const disabled = doc.disabled ?? {};
  if (!isObject(disabled)) throw fail('not a dbt manifest: "disabled" is not an object');

  const wanted = opts.only ? new Set(opts.only) : undefined;
  const meta = doc.metadata;
  const quoting = isObject(meta.quoting) ? meta.quoting.column : undefined;
  const index: DbtIndex = {
    ...(opts.location ? { location: opts.location } : {}),
    ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
    metadata: {
      schemaVersion: version,
      ...optional('dbtVersion', str(meta.dbt_version)),
      ...optional('generatedAt', str(meta.generated_at)),
      ...optional('adapterType', str(meta.adapter_type)),
      ...optional('projectName', str(meta.project_name)),
      ...(typeof quoting === 'boolean' ? { quoteColumns: quoting } : {}),
    },
    nodes: new Map(),
    modelIds: [],
  };

  for (const [id, raw] of Object.entries(doc.nodes)) {
    if (!isObject(raw)) throw fail(`node ${id} is not an object`);
    if (raw.resource_type === 'model') {
      index.modelIds.push(id);
      if (!wanted || wanted.has(id)) index.nodes.set(id, modelNode(id, raw, false));
    }
  }
  // dbt lists disabled resources by unique_id, each with its (possibly several) definitions.
  for (const [id, defs] of Object.entries(disabled)) {
    const raw = Array.isArray(defs) ? defs.find((d) => isObject(d) && d.resource_type === 'model') : undefined;
    if (!isObject(raw)) continue;
    index.modelIds.push(id);
    if ((!wanted || wanted.has(id)) && !index.nodes.has(id)) index.nodes.set(id, modelNode(id, raw, true));
  }
  // Generic not_null tests are separate nodes attached to the model they test.
  for (const raw of Object.values(doc.nodes) as Json[]) {
    if (raw.resource_type !== 'test' || !isObject(raw.test_metadata) || raw.test_metadata.name !== 'not_null') continue;
    const node = index.nodes.get(String(raw.attached_node));
    const column = str(raw.column_name);
    if (node && column) node.notNullTests.push(column);
  }
  return index;
}

function modelNode(id: string, n: Json, disabled: boolean): DbtNode {
  const config = isObject(n.config) ? n.config : {};
  const contract = isObject(n.contract) ? n.contract : isObject(config.contract) ? config.contract : {};
  const checksum = isObject(n.checksum) ? str(n.checksum.checksum) : undefined;
  const columns: Record<string, DbtColumn> = {};
  for (const [key, c] of Object.entries(isObject(n.columns) ? n.columns : {})) {
    if (!isObject(c)) continue;
    const name = str(c.name) ?? key;
    columns[name] = { name, ...optional('dataType', str(c.data_type)), constraints: constraints(c.constraints), quoted: c.quote === true };
  }
  return {
    uniqueId: id,
    resourceType: 'model',
    name: str(n.name) ?? id.split('.').pop()!,
    ...optional('packageName', str(n.package_name)),
    ...optional('database', str(n.database)),
    ...optional('schema', str(n.schema)),
    ...optional('alias', str(n.alias)),
    ...optional('relationName', str(n.relation_name)),
    ...optional('materialized', str(config.materialized)),
    ...optional('checksum', checksum),
    contract: { enforced: contract.enforced === true, ...optional('checksum', str(contract.checksum)) },
    columns,
    constraints: constraints(n.constraints),
    notNullTests: [],
    ...optional('version', strOrNum(n.version)),
    ...optional('latestVersion', strOrNum(n.latest_version)),
    ...optional('deprecationDate', str(n.deprecation_date)),
    disabled: disabled || config.enabled === false,
  };
}

function constraints(x: unknown): DbtConstraint[] {
  if (!Array.isArray(x)) return [];
  return x.filter(isObject).filter((c) => typeof c.type === 'string').map((c) => ({
    type: c.type as string,
    ...optional('name', str(c.name)),
    ...optional('expression', str(c.expression)),
    ...(Array.isArray(c.columns) ? { columns: c.columns.filter((s): s is string => typeof s === 'string') } : {}),
  }));
}

function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

export interface LoadedManifest {
  location: string;
  text: string;
  sha256: string;
  bytes: number;
}

export interface LoadOptions {
  /** the repository root that relative locations are read from */
  root: string;
  /** the S3 client for s3:// locations; default: one built like the artifact store's */
  s3?: S3Client;
  /** refuse larger files (default 256 MiB; a JavaScript string holds at most ~512 M characters) */
  maxBytes?: number;
  /** S3 read timeout in ms (default 120 s) */
  timeoutMs?: number;
}

const defaultMaxBytes = 256 * 1024 * 1024;

/**
 * Reads a manifest from a repository-relative path, an absolute path, or s3://bucket/key.
 * Returns its text and sha256; throws ExternalError naming the location.
 */
export async function loadDbtManifest(location: string, opts: LoadOptions): Promise<LoadedManifest> {
  const maxBytes = opts.maxBytes ?? defaultMaxBytes;
  const body = location.startsWith('s3://') ? await readS3(location, opts, maxBytes) : await readLocal(location, opts.root, maxBytes);
  return { location, text: body.toString('utf8'), sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length };
}

const operation = (location: string) => `read the dbt manifest ${location}`;
const tooLarge = (system: 's3' | 'filesystem', location: string, size: number, max: number) =>
  new ExternalError(system, operation(location), `${size} bytes, more than the ${max} modelship reads`, { retryable: false });

async function readLocal(location: string, root: string, maxBytes: number): Promise<Buffer> {
  const path = isAbsolute(location) ? location : resolve(root, location);
  try {
    const { size } = await stat(path);
    if (size > maxBytes) throw tooLarge('filesystem', location, size, maxBytes);
    return await readFile(path);
  } catch (e) {
    if (e instanceof ExternalError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `no such file (${path})` : `${code ?? 'error'}: ${(e as Error).message}`;
    throw new ExternalError('filesystem', operation(location), why, {
      cause: e, retryable: false,
      hint: 'the features gate reads the manifest named by gates.features.manifest in the policy; dbt writes it to target/manifest.json',
    });
  }
}

async function readS3(location: string, opts: LoadOptions, maxBytes: number): Promise<Buffer> {
  let loc;
  try {
    loc = parseS3Uri(location);
  } catch (e) {
    throw new ExternalError('s3', operation(location), 'not an s3://bucket/key URI', { cause: e, retryable: false });
  }
  const client = opts.s3 ?? s3Client();
  try {
    return await getObjectBytes(client, loc, {
      operation: operation(location), timeoutMs: opts.timeoutMs ?? 120_000, maxBytes,
      tooLarge: (size) => tooLarge('s3', location, size, maxBytes),
      notFoundHint: 'the production dbt job should publish manifest.json there after each run; check gates.features.manifest in the policy',
    });
  } finally {
    if (!opts.s3) client.destroy();
  }
}

/**
 * Loads and parses in one step, for the check runner: the index, or the reason there is none
 * (which the features gate reports as a failure).
 */
export async function readDbtIndex(location: string, opts: LoadOptions & { only?: Iterable<string> }): Promise<DbtIndex | { error: string }> {
  try {
    const loaded = await loadDbtManifest(location, opts);
    return parseDbtManifest(loaded.text, { location, sha256: loaded.sha256, ...(opts.only ? { only: opts.only } : {}) });
  } catch (e) {
    if (e instanceof ExternalError || e instanceof DbtManifestError) return { error: e.message };
    throw e;
  }
}

// Generates a large release repository from the real example content: N model folders, M version
// manifests each (artifacts at their content addresses), and environments pinning every model.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseDocument } from 'yaml';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const templateModel = 'fraud-detector';
const templateVersion = '2026.11.13-1';

export interface RepoShape {
  models: number;
  versions: number;
  /** staging and production come from the example; further ones copy production */
  environments: string[];
}

export interface GeneratedRepo {
  files: number;
  bytes: number;
}

/** Writes the repository into `dir` (environments/, models/, policies/). */
export function generateRepo(dir: string, shape: RepoShape): GeneratedRepo {
  const out = { files: 0, bytes: 0 };
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
    out.files++;
    out.bytes += Buffer.byteLength(text);
  };

  const models = modelNames(shape.models);
  const versions = Array.from({ length: shape.versions }, (_, i) => versionName(i));
  const card = readExample(`models/${templateModel}/model.yaml`);
  const manifest = manifestTemplate(readExample(`models/${templateModel}/versions/${templateVersion}.yaml`));
  for (const model of models) {
    write(`models/${model}/model.yaml`, replaceOnce(card, `\nname: ${templateModel}\n`, `\nname: ${model}\n`));
    for (const version of versions) {
      const sha256 = createHash('sha256').update(artifactBody(model, version, manifest.size)).digest('hex');
      write(`models/${model}/versions/${version}.yaml`, manifest(model, version, sha256));
    }
  }

  // Each environment pins every model, each to a different recent version.
  shape.environments.forEach((env, i) => {
    const pinned = versions[Math.max(0, versions.length - 1 - i)]!;
    write(`environments/${env}.yaml`, environmentFile(env, models, pinned));
    write(`policies/${env}.yaml`, policyFile(env, shape.environments));
  });
  // Who owns code, policies and environments: the example's, as it is.
  write('policies/repository.yaml', readExample('policies/repository.yaml'));
  return out;
}

/**
 * The generated models' names, in order: fraud-detector-01 … -30, or -001 … -600. The number is
 * zero-padded to the width of the count (at least two digits), so any count works and the names
 * sort as text in the same order as by number.
 */
export function modelNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => modelName(i + 1, count));
}

/** The name of the `n`th (from 1) of `count` generated models. */
export function modelName(n: number, count: number): string {
  if (!Number.isInteger(n) || n < 1 || n > count) throw new Error(`model number ${n} is outside 1..${count}`);
  return `${templateModel}-${String(n).padStart(Math.max(2, String(count).length), '0')}`;
}

/** 2025.01.01-1, 2025.01.02-1, ...: one registered version a day. */
function versionName(i: number): string {
  const d = new Date(Date.UTC(2025, 0, 1 + i));
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}-1`;
}

function readExample(rel: string): string {
  return readFileSync(join(projectRoot, rel), 'utf8');
}

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`the example content changed: expected ${JSON.stringify(from)} exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/**
 * The example manifest with its model, version and artifact digest as slots. The artifact URI
 * keeps its content address <registry>/<model>/<sha256>/<file>; the report URI follows the model.
 */
function manifestTemplate(text: string): ((model: string, version: string, sha256: string) => string) & { size: number } {
  const example = parse(text) as { artifact: { sha256: string; uri: string; size: number } };
  let t = replaceOnce(text, `\nmodel: ${templateModel}\n`, '\nmodel: {{model}}\n');
  t = replaceOnce(t, `\nversion: ${templateVersion}\n`, '\nversion: {{version}}\n');
  t = t.replaceAll(example.artifact.sha256, '{{sha256}}').replaceAll(`/${templateModel}/`, '/{{model}}/');
  if (!t.includes('/{{model}}/{{sha256}}/')) throw new Error(`the example artifact URI is not at its content address: ${example.artifact.uri}`);
  const pieces = t.split(/(\{\{(?:model|version|sha256)\}\})/);
  return Object.assign((model: string, version: string, sha256: string) => {
    const slots: Record<string, string> = { '{{model}}': model, '{{version}}': version, '{{sha256}}': sha256 };
    return pieces.map((p) => slots[p] ?? p).join('');
  }, { size: example.artifact.size });
}

/**
 * A generated version's artifact: `size` bytes of "<model>@<version>" repeated, so its SHA-256
 * (the manifest's artifact.sha256) is real and the bench can store the object it names.
 */
export function artifactBody(model: string, version: string, size: number): Buffer {
  return Buffer.alloc(size, `${model}@${version}`);
}

/** An environment file: the example's settings (production's for new ones), every model pinned. */
function environmentFile(env: string, models: string[], version: string): string {
  const examples = readdirSync(join(projectRoot, 'environments')).map((f) => f.replace(/\.yaml$/, ''));
  const doc = parseDocument(readExample(`environments/${examples.includes(env) ? env : 'production'}.yaml`));
  const entry = (doc.getIn(['models', templateModel]) as { toJSON(): Record<string, unknown> } | undefined)?.toJSON();
  if (!entry) throw new Error(`the example environment does not deploy ${templateModel}`);
  if (!examples.includes(env)) {
    doc.set('name', env);
    if (doc.hasIn(['kubernetes', 'cluster'])) doc.setIn(['kubernetes', 'cluster'], `acme-eks-${env}`);
    if (doc.hasIn(['snowflake', 'database'])) doc.setIn(['snowflake', 'database'], `ML_${env.toUpperCase().replace(/-/g, '_')}`);
  }
  // fresh objects per model: shared ones would be written as YAML anchors and aliases
  doc.set('models', doc.createNode(Object.fromEntries(models.map((m) => [m, { ...structuredClone(entry), version }]))));
  return doc.toString({ lineWidth: 0 });
}

/** A policy: the example's (production's for new environments), promoted from an environment that exists. */
function policyFile(env: string, environments: string[]): string {
  const examples = readdirSync(join(projectRoot, 'policies')).map((f) => f.replace(/\.yaml$/, ''));
  const doc = parseDocument(readExample(`policies/${examples.includes(env) ? env : 'production'}.yaml`));
  doc.set('environment', env);
  const from = doc.getIn(['promotion', 'from']);
  if (typeof from === 'string' && (from === env || !environments.includes(from))) doc.setIn(['promotion', 'from'], environments[0]);
  return doc.toString({ lineWidth: 0 });
}

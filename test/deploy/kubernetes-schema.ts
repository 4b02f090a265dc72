// Validates Kubernetes objects against the OpenAPI definitions of the minimum supported
// Kubernetes version (test/fixtures/kubernetes/openapi-v1.25.0.json, extracted from Kubernetes'
// own api/openapi-spec/swagger.json by tools/kubernetes/extract-openapi.mjs), strictly: a field
// the API does not define fails, as `kubectl apply --validate=strict` (server-side field
// validation, on by default from 1.25) refuses it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../helpers/cli.js';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);
const fixture = JSON.parse(readFileSync(new URL('../fixtures/kubernetes/openapi-v1.25.0.json', import.meta.url), 'utf8')) as {
  kubernetesVersion: string; kinds: Record<string, string>; definitions: Record<string, unknown>;
};
export const kubernetesVersion = fixture.kubernetesVersion;

/** Swagger 2 -> JSON Schema as the API server reads it: closed objects, int-or-string, no custom formats. */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (o.format === 'int-or-string') return { anyOf: [{ type: 'string' }, { type: 'integer' }] }; // IntOrString
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'format' && v !== 'date-time') continue; // int32, int64, byte: the types say enough here
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strict(s)])) : strict(v);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const { default: Ajv } = require('ajv') as typeof import('ajv');
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv, ['date-time']);
ajv.addSchema({ $id: 'k8s', definitions: strict(fixture.definitions) as object });
const validators = new Map<string, ValidateFunction>();

export interface KubeObject { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }
/** A rendered object, read freely by the tests. */
export type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The problems of one object, each as `<path>: <what>`; [] when it is valid for Kubernetes 1.25. */
export function problems(obj: KubeObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const definition = fixture.kinds[key];
  if (!definition) return [`apiVersion ${obj.apiVersion} kind ${obj.kind}: not a kind these schemas cover (${Object.keys(fixture.kinds).join(', ')})`];
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile({ $ref: `k8s#/definitions/${definition}` });
    validators.set(key, validate);
  }
  if (validate(obj)) return [];
  return (validate.errors ?? []).filter((e) => e.keyword !== 'anyOf').map(describe);
}

function describe(e: ErrorObject): string {
  const at = e.instancePath.replace(/\//g, '.').replace(/^\./, '') || '(top)';
  if (e.keyword === 'additionalProperties') return `${at}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  return `${at}: ${e.message}`;
}

/** `kubectl kustomize <dir>`: the objects `kubectl apply -k` would send. */
export function render(dir: string): Manifest[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', join(projectRoot, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`kubectl kustomize ${dir} failed (kubectl >= 1.27 must be on PATH): ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
  return parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean);
}


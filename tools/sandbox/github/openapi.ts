// The slice of GitHub's OpenAPI description the stand-in serves (openapi-subset.json, made by
// extract-openapi.mjs): route matching, examples, and request/response validation with ajv.
// Validators are compiled per operation on first use, so starting the server costs nothing.

import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: object;
}

export interface Operation {
  id: string;
  method: string;
  /** the OpenAPI path template, e.g. /repos/{owner}/{repo}/pulls/{pull_number} */
  path: string;
  documentation_url: string;
  parameters: Parameter[];
  requestBody?: { required: boolean; schema: object };
  responses: Record<string, { schema?: object; examples?: Record<string, { $ref?: string; value?: unknown }> }>;
}

interface Subset {
  info: { source: string; version: string; openapi: string };
  operations: Record<string, Omit<Operation, 'id'>>;
  components: { schemas: Record<string, object>; examples: Record<string, { value: unknown }> };
}

/** Reached the same way from src/ and from dist/: the JSON stays in src/. */
const subsetFile = new URL('./openapi-subset.json', import.meta.url);

let loaded: { subset: Subset; operations: Operation[] } | undefined;

function load(): { subset: Subset; operations: Operation[] } {
  if (!loaded) {
    const subset = JSON.parse(readFileSync(subsetFile, 'utf8')) as Subset;
    const operations = Object.entries(subset.operations).map(([id, op]) => ({ id, ...op }));
    loaded = { subset, operations };
  }
  return loaded;
}

/** The version of @octokit/openapi the subset was extracted from. */
export function openapiVersion(): string {
  return load().subset.info.version;
}

export function operation(id: string): Operation {
  const op = load().operations.find((o) => o.id === id);
  if (!op) throw new Error(`operation ${id} is not in openapi-subset.json; add it to extract-openapi.mjs`);
  return op;
}

export function operations(): Operation[] {
  return load().operations;
}

/** A deep copy of a components.examples value, e.g. example('pull-request'). */
export function example(name: string): any {
  const e = load().subset.components.examples[name];
  if (!e) throw new Error(`example ${name} is not in openapi-subset.json`);
  return structuredClone(e.value);
}

/** A deep copy of the first example of an operation's response with this status. */
export function responseExample(operationId: string, status: string): any {
  const examples = operation(operationId).responses[status]?.examples ?? {};
  const first = examples.default ?? Object.values(examples)[0];
  if (!first) throw new Error(`${operationId} has no example for status ${status}`);
  return first.$ref ? example(first.$ref.split('/').pop()!) : structuredClone(first.value);
}

interface Route {
  op: Operation;
  segments: string[];
  literals: number;
}

let routes: Route[] | undefined;

/** The operation whose method and path template match, with its decoded path parameters. */
export function matchRoute(method: string, pathname: string): { op: Operation; params: Record<string, string> } | undefined {
  routes ??= operations()
    .map((op) => {
      const segments = op.path.split('/');
      return { op, segments, literals: segments.filter((s) => !s.startsWith('{')).length };
    })
    .sort((a, b) => b.literals - a.literals); // /issues/comments/{id} before /issues/{number}/...
  const parts = pathname.split('/');
  for (const r of routes) {
    if (r.op.method !== method || r.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const s = r.segments[i]!;
      const p = parts[i]!;
      if (s.startsWith('{')) {
        let value: string;
        try {
          value = decodeURIComponent(p);
        } catch {
          return undefined; // a malformed escape can match nothing
        }
        ok = value !== '';
        params[s.slice(1, -1)] = value;
      } else ok = s === p;
    }
    if (ok) return { op: r.op, params };
  }
  return undefined;
}

// --- validation ---

const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const SUBSET_ID = 'github-openapi-subset';

/** Rewrites `#/components/...` so a schema copied out of the subset still resolves its $refs. */
function rooted(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rooted);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) =>
    [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? SUBSET_ID + v : rooted(v)]));
}

function newAjv(extra: { coerceTypes?: boolean; useDefaults?: boolean }): Ajv {
  // strictRequired is off: GitHub writes `anyOf: [{required: [x]}]` with x defined beside it.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, inlineRefs: false, validateSchema: false, ...extra });
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv) => void;
  addFormats(ajv);
  // Formats GitHub uses that ajv-formats does not know.
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('repo.nwo', /^[\w.-]+\/[\w.-]+$/);
  // GitHub's description gives some uri fields (a deployment status's target_url, log_url,
  // environment_url) the default "" — what GitHub returns when they were not set — so the empty
  // string passes as a uri; anything else must still be one.
  const uri = ajv.formats.uri as ((x: string) => boolean) | RegExp | { validate: ((x: string) => boolean) | RegExp };
  const isUri = (x: string) => {
    const v = typeof uri === 'function' || uri instanceof RegExp ? uri : uri.validate;
    return typeof v === 'function' ? v(x) : v.test(x);
  };
  ajv.addFormat('uri', { type: 'string', validate: (x: string) => x === '' || isUri(x) });
  ajv.addVocabulary(['info', 'operations', 'components']); // the subset's top level, never validated
  ajv.addSchema({ $id: SUBSET_ID, ...load().subset });
  return ajv;
}

let plainAjv: Ajv | undefined;
let coercingAjv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function validator(key: string, make: () => ValidateFunction): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = make();
    compiled.set(key, v);
  }
  return v;
}

/** One field that failed validation, GitHub style. */
export interface FieldError {
  resource: string;
  field: string;
  code: 'missing_field' | 'invalid';
  message: string;
}

/**
 * Validates path and query parameters; query values arrive as strings and are coerced to the
 * schema's types, and defaults are filled in (so handlers see per_page: 30). Mutates `values`.
 */
export function validateParams(op: Operation, values: { path: Record<string, unknown>; query: Record<string, unknown> }): FieldError[] {
  const v = validator(`${op.id} params`, () => {
    const group = (where: 'path' | 'query') => {
      const ps = op.parameters.filter((p) => p.in === where);
      return {
        type: 'object',
        properties: Object.fromEntries(ps.map((p) => [p.name, rooted(p.schema)])),
        required: ps.filter((p) => p.required).map((p) => p.name),
      };
    };
    coercingAjv ??= newAjv({ coerceTypes: true, useDefaults: true });
    return coercingAjv.compile({ type: 'object', properties: { path: group('path'), query: group('query') } });
  });
  return v(values) ? [] : fieldErrors(op, v.errors ?? [], values, 1);
}

export function validateBody(op: Operation, body: unknown): FieldError[] {
  if (!op.requestBody) return [];
  const v = validator(`${op.id} body`, () => {
    plainAjv ??= newAjv({});
    return plainAjv.compile({ $ref: `${SUBSET_ID}#/operations/${esc(op.id)}/requestBody/schema` });
  });
  return v(body) ? [] : fieldErrors(op, v.errors ?? [], body, 0);
}

/** The problems of a response body against the operation's schema for that status, as text. */
export function validateResponse(op: Operation, status: number, body: unknown): string | undefined {
  if (!op.responses[String(status)]?.schema) return undefined;
  const v = validator(`${op.id} ${status}`, () => {
    plainAjv ??= newAjv({});
    return plainAjv.compile({ $ref: `${SUBSET_ID}#/operations/${esc(op.id)}/responses/${status}/schema` });
  });
  if (v(body)) return undefined;
  return (v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

/** The resource name GitHub puts in its validation errors. */
function resourceOf(op: Operation): string {
  if (op.id.endsWith('-comment') || op.id === 'issues/list-comments') return 'IssueComment';
  if (op.id.startsWith('repos/create-deployment-status')) return 'DeploymentStatus';
  if (op.id.includes('deployment')) return 'Deployment';
  const byTag: Record<string, string> = { pulls: 'PullRequest', issues: 'Issue', checks: 'CheckRun', teams: 'Team', repos: 'Repository' };
  return byTag[op.id.split('/')[0]!] ?? 'Resource';
}

function fieldErrors(op: Operation, errors: ErrorObject[], data: unknown, skip: number): FieldError[] {
  // The failures of anyOf/oneOf alternatives are noise when a concrete failure is also reported.
  const concrete = errors.filter((e) => !['anyOf', 'oneOf', 'if'].includes(e.keyword));
  const chosen = concrete.length ? concrete : errors;
  const out: FieldError[] = [];
  for (const e of chosen) {
    const path = e.instancePath.split('/').slice(1 + skip).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (e.keyword === 'required') {
      const field = [...path, (e.params as { missingProperty: string }).missingProperty].join('.');
      out.push({ resource: resourceOf(op), field, code: 'missing_field', message: `"${field}" wasn't supplied.` });
      continue;
    }
    const field = path.join('.');
    const value = JSON.stringify(valueAt(data, e.instancePath)) ?? 'undefined';
    const what = e.keyword === 'type' ? `is not of type ${JSON.stringify((e.params as { type: unknown }).type)}`
      : e.keyword === 'enum' ? `is not one of ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)}`
        : e.message ?? 'is invalid';
    out.push({ resource: resourceOf(op), field, code: 'invalid', message: `For '${field || 'body'}', ${value} ${what}.` });
  }
  return dedupe(out);
}

function valueAt(data: unknown, pointer: string): unknown {
  let node = data;
  for (const p of pointer.split('/').slice(1)) node = (node as Record<string, unknown> | undefined)?.[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => !seen.has(e.message) && seen.add(e.message));
}

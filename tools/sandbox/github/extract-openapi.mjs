// Extracts the operations the GitHub stand-in (server.ts) serves from GitHub's OpenAPI
// description into openapi-subset.json, small enough to commit.
//
// Source: the npm package @octokit/openapi (GitHub's github/rest-api-description plus
// Octokit's extensions), file generated/api.github.com.json. To regenerate:
//   npm pack @octokit/openapi@23.0.2 && mkdir -p /tmp/oa && tar -xzf octokit-openapi-23.0.2.tgz -C /tmp/oa
//   node tools/sandbox/github/extract-openapi.mjs /tmp/oa/package/generated/api.github.com.json
// Add an operationId to OPERATIONS below to make it known to the stand-in (it answers 501
// until server handlers implement it). Run by hand only; nothing imports this file.
//
// What the output holds, per operation: method, path, parameters ($refs to
// components.parameters resolved inline), the request body schema, every response's schema
// (components.responses resolved inline) and the success responses' named examples; plus each
// components.schemas / components.examples entry reached from those, still as
// `$ref: '#/components/...'`. Schemas are rewritten so ajv can compile them strictly:
// annotations (description, example, x-*, ...) are dropped, and OpenAPI 3.0's
// `nullable: true` becomes a JSON Schema null alternative (see nullable() and oneOf() below).
// GitHub examples that fail their own schemas are completed (EXAMPLE_FIXES below).

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OPERATIONS = [
  'repos/get', 'repos/get-commit', 'repos/list-pull-requests-associated-with-commit',
  'pulls/create', 'pulls/get', 'pulls/list', 'pulls/update', 'pulls/merge',
  'pulls/request-reviewers', 'pulls/list-reviews', 'pulls/list-files',
  'issues/create', 'issues/update', 'issues/list-for-repo',
  'issues/create-comment', 'issues/update-comment', 'issues/list-comments',
  'checks/create', 'checks/update', 'checks/list-for-ref',
  'teams/list-members-in-org', 'teams/get-membership-for-user-in-org',
  // who a personal token belongs to (rollback --break-glass names the person from the token)
  'users/get-authenticated',
  'repos/create-deployment', 'repos/create-deployment-status', 'repos/list-deployments',
  // GitHub App authentication (modelship serve): the app itself with a JWT, the installation of
  // a repository, and an installation access token.
  'apps/get-authenticated', 'apps/get-repo-installation', 'apps/create-installation-access-token',
];

// GitHub's own examples that fail their own schemas (as of 23.0.2): the missing required
// properties are added so the stand-in can build valid responses from them. A fix that is no
// longer needed is reported; one whose parent is gone stops the extraction.
const EXAMPLE_FIXES = [
  ['full-repository-default-response', '/language', null],
  ['full-repository-default-response', '/source/language', null],
  ['pull-request', '/requested_teams/0/type', 'organization'],
  ['pull-request-simple-items', '/0/requested_teams/0/type', 'organization'],
  ['pull-request-review-request', '/requested_teams/0/type', 'organization'],
  ['commit', '/files/0/sha', 'bbcd538c8e72b8c175046e27cc8f907076331401'],
  ['commit', '/files/0/contents_url', 'https://api.github.com/repos/octocat/Hello-World/contents/file1.txt?ref=6dcb09b5b57875f334f61aebed695e2e4193db5e'],
];

// Keywords of the OpenAPI 3.0 Schema Object that validate (kept); everything else is an
// annotation and is dropped. An unexpected keyword stops the extraction so it gets a decision.
const VALIDATION = new Set([
  'type', 'enum', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minItems', 'maxItems', 'uniqueItems',
  'minProperties', 'maxProperties', 'required', 'properties', 'additionalProperties', 'items',
  'allOf', 'anyOf', 'oneOf', 'not', 'default', '$ref',
]);
// `discriminator` (OpenAPI) only tells a reader which oneOf branch to try first: the oneOf still
// decides validity, so it is dropped like the annotations (GET /user: private-user | public-user).
const ANNOTATIONS = new Set(['title', 'description', 'example', 'examples', 'externalDocs', 'deprecated', 'readOnly', 'writeOnly', 'xml', 'discriminator']);

const source = process.argv[2];
if (!source) {
  console.error('usage: node tools/sandbox/github/extract-openapi.mjs /path/to/api.github.com.json');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(source, 'utf8'));
const out = join(dirname(fileURLToPath(import.meta.url)), 'openapi-subset.json');

const pending = []; // '#/components/schemas/x' or '#/components/examples/x' still to copy
const copied = { schemas: {}, examples: {} };

function resolve(ref) {
  const parts = ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = doc;
  for (const p of parts) {
    node = node?.[p];
    if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  }
  return node;
}

function want(ref) {
  const m = /^#\/components\/(schemas|examples)\/([^/]+)$/.exec(ref);
  if (!m) throw new Error(`unexpected $ref ${ref}`);
  if (!(m[2] in copied[m[1]]) && !pending.includes(ref)) pending.push(ref);
}

/** A schema with annotations dropped, nullable rewritten and its $refs queued for copying. */
function schema(s) {
  if (typeof s === 'boolean') return s;
  if (s.$ref) {
    const extra = Object.keys(s).filter((k) => k !== '$ref' && !ANNOTATIONS.has(k));
    if (extra.length) throw new Error(`$ref with sibling keywords ${extra.join(', ')}`);
    want(s.$ref);
    return { $ref: s.$ref };
  }
  const r = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable') continue;
    if (ANNOTATIONS.has(k) || k.startsWith('x-')) continue;
    if (!VALIDATION.has(k)) throw new Error(`schema keyword ${k} needs a decision: ${JSON.stringify(s).slice(0, 200)}`);
    if (k === 'properties') r[k] = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, schema(p)]));
    else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && typeof v === 'object')) r[k] = schema(v);
    else if (k === 'allOf' || k === 'anyOf') r[k] = v.map(schema);
    else if (k === 'oneOf') r[k] = oneOf(v);
    else r[k] = v;
  }
  return s.nullable === true ? nullable(r) : r;
}

/**
 * OpenAPI 3.0 `nullable: true` as JSON Schema. With a plain `type`, null joins the type (and
 * the enum, which would otherwise still reject it); anything else gets an anyOf alternative.
 */
function nullable(r) {
  if (typeof r.type === 'string' && !r.allOf && !r.anyOf && !r.oneOf) {
    const n = { ...r, type: [r.type, 'null'] };
    if (n.enum && !n.enum.includes(null)) n.enum = [...n.enum, null];
    return n;
  }
  return { anyOf: [r, { type: 'null' }] };
}

/**
 * A oneOf whose alternatives are each nullable would match null several times and so reject
 * it (GitHub's validation-error `value` is such a case): null moves out of the alternatives
 * and onto the oneOf as a whole.
 */
function oneOf(alternatives) {
  const nullables = alternatives.filter((a) => a && a.nullable === true).length;
  if (nullables < 2) return alternatives.map(schema);
  return [{ anyOf: [{ oneOf: alternatives.map((a) => schema({ ...a, nullable: false })) }, { type: 'null' }] }];
}

/** Examples are data: only their own $refs (if any) are followed. */
function example(e) {
  if (e.$ref) {
    want(e.$ref);
    return { $ref: e.$ref };
  }
  return { value: e.value };
}

function parameter(p) {
  const q = p.$ref ? resolve(p.$ref) : p;
  const r = { name: q.name, in: q.in, schema: schema(q.schema) };
  if (q.required) r.required = true;
  return r;
}

function response(res, success) {
  const r = res.$ref ? resolve(res.$ref) : res;
  const out = {};
  const json = r.content?.['application/json'];
  if (json?.schema) out.schema = schema(json.schema);
  if (success && json?.examples) {
    out.examples = Object.fromEntries(Object.entries(json.examples).map(([name, e]) => [name, example(e)]));
  }
  return out;
}

const index = new Map();
for (const [path, item] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (op && op.operationId) index.set(op.operationId, { path, method, op, shared: item.parameters ?? [] });
  }
}

const operations = {};
for (const id of OPERATIONS) {
  const found = index.get(id);
  if (!found) throw new Error(`operation ${id} is not in ${source}`);
  const { path, method, op, shared } = found;
  const entry = {
    method: method.toUpperCase(),
    path,
    documentation_url: op.externalDocs?.url ?? 'https://docs.github.com/rest',
    parameters: [...shared, ...(op.parameters ?? [])].map(parameter),
  };
  const body = op.requestBody?.content?.['application/json'];
  if (op.requestBody && !body) throw new Error(`${id}: request body is not JSON`);
  if (body) entry.requestBody = { required: op.requestBody.required === true, schema: schema(body.schema) };
  entry.responses = Object.fromEntries(Object.entries(op.responses).map(([code, res]) => [code, response(res, /^2/.test(code))]));
  operations[id] = entry;
}

while (pending.length) {
  const ref = pending.shift();
  const [, kind, name] = /^#\/components\/(schemas|examples)\/([^/]+)$/.exec(ref);
  const target = resolve(ref);
  copied[kind][name] = kind === 'schemas' ? schema(target) : example(target);
}

for (const [name, pointer, value] of EXAMPLE_FIXES) {
  const parts = pointer.slice(1).split('/');
  const key = parts.pop();
  let node = copied.examples[name]?.value;
  for (const p of parts) node = node?.[p];
  if (!node || typeof node !== 'object') throw new Error(`example fix ${name}${pointer}: the parent is gone`);
  if (key in node) console.log(`example fix ${name}${pointer} is no longer needed`);
  else node[key] = value;
}

const sorted = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
const subset = {
  info: {
    source: '@octokit/openapi generated/api.github.com.json',
    version: doc.info.version,
    openapi: doc.openapi,
    generator: 'tools/sandbox/github/extract-openapi.mjs',
  },
  operations,
  components: { schemas: sorted(copied.schemas), examples: sorted(copied.examples) },
};
// One property per line so a regeneration reads as a diff.
const text = JSON.stringify(subset, null, 1) + '\n';
writeFileSync(out, text);
console.log(`${out}: ${OPERATIONS.length} operations, ${Object.keys(copied.schemas).length} schemas, ` +
  `${Object.keys(copied.examples).length} examples, ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB`);

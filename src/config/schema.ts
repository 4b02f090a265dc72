// The JSON Schemas of every file modelship reads, compiled once, and the translation of a
// schema violation into a Problem a person can act on: where, what was expected, what was found.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Problem } from '../errors.js';
import type { ParsedText, PathSegment } from './yaml.js';

export type SchemaName = 'model' | 'version' | 'environment' | 'policy' | 'repository' | 'run-metadata' | 'validation-report' | 'deployment-record' | 'trust-root';

const schemaFiles: Record<SchemaName | 'common', string> = {
  common: 'common.schema.json',
  model: 'model.schema.json',
  version: 'version.schema.json',
  environment: 'environment.schema.json',
  policy: 'policy.schema.json',
  repository: 'repository.schema.json',
  'run-metadata': 'run-metadata.schema.json',
  'validation-report': 'validation-report.schema.json',
  'deployment-record': 'deployment-record.schema.json',
  'trust-root': 'trust-root.schema.json',
};

/** Where the schema files live: src/config/schemas, reached the same way from src/ and from dist/. */
export const schemaDir = new URL('../../src/config/schemas/', import.meta.url);

/** The file name of a schema, as the `# yaml-language-server: $schema=` comment names it. */
export function schemaFileName(name: SchemaName): string {
  return schemaFiles[name];
}

let compiled: Map<SchemaName, ValidateFunction> | undefined;

/**
 * The validators: precompiled at build time into dist/config/validators.generated.cjs (ajv's
 * standalone code; compiling eight schemas costs ~0.25 s per process, a quarter of a large
 * validate), else compiled here (tests run from src/).
 */
function validators(): Map<SchemaName, ValidateFunction> {
  if (compiled) return compiled;
  compiled = new Map();
  const generated = fileURLToPath(new URL('./validators.generated.cjs', import.meta.url));
  if (existsSync(generated)) {
    const mod = createRequire(import.meta.url)(generated) as Record<string, ValidateFunction>;
    for (const name of Object.keys(schemaFiles)) if (name !== 'common') compiled.set(name as SchemaName, mod[exportName(name)]!);
    return compiled;
  }
  const ajv = schemaCompiler(false);
  for (const [name, file] of Object.entries(schemaFiles)) {
    if (name !== 'common') compiled.set(name as SchemaName, ajv.getSchema(file)!);
  }
  return compiled;
}

/** An Ajv holding every schema; with `standalone`, set up to emit code (see build-validators.ts). */
export function schemaCompiler(standalone: boolean): Ajv2020 {
  // Loaded here, not at the top: with the precompiled validators, commands never need ajv itself
  // (tens of milliseconds of start-up for every command that reads a file).
  const require = createRequire(import.meta.url);
  const { Ajv2020, _ } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormatsModule = require('ajv-formats') as typeof import('ajv-formats');
  const ajv = new Ajv2020({
    allErrors: true, strict: true, allowUnionTypes: true, verbose: true, discriminator: true,
    ...(standalone ? { code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } } : {}),
  });
  // ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
  const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  for (const file of Object.values(schemaFiles)) {
    ajv.addSchema(JSON.parse(readFileSync(new URL(file, schemaDir), 'utf8')) as object);
  }
  return ajv;
}

/** The export name of a schema's validator in the generated module. */
export function exportName(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Schema file names by export name, for the generator. */
export function standaloneExports(): Record<string, string> {
  return Object.fromEntries(Object.entries(schemaFiles).filter(([n]) => n !== 'common').map(([n, f]) => [exportName(n), f]));
}

/** Validates parsed data against a schema; returns every violation as a positioned Problem. */
export function validateAgainst(name: SchemaName, parsed: ParsedText): Problem[] {
  const validate = validators().get(name)!;
  if (parsed.data === null || parsed.data === undefined) {
    return [{
      file: parsed.file, line: 1, col: 1, path: '', severity: 'error',
      message: 'the file is empty; expected a mapping', expected: 'a mapping', found: 'nothing',
    }];
  }
  if (validate(parsed.data)) return [];
  return explain(validate.errors ?? [], parsed);
}

/** Turns ajv's errors into one Problem each, dropping the noise that composite keywords add. */
function explain(errors: ErrorObject[], parsed: ParsedText): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  // A propertyNames failure arrives twice: the inner reason and a wrapper; keep the inner one.
  const relevant = errors.filter((e) => e.keyword !== 'propertyNames' && e.keyword !== 'oneOf' && e.keyword !== 'if');
  for (const e of relevant) {
    const p = toProblem(e, parsed);
    const id = `${p.line}:${p.col}:${p.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      problems.push(p);
    }
  }
  return problems;
}

function toProblem(e: ErrorObject, parsed: ParsedText): Problem {
  const segments = pointerToPath(e.instancePath, parsed.data);
  const params = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const expectedText = typeof parent['x-expected'] === 'string' ? (parent['x-expected'] as string) : undefined;
  let path = segments;
  let atKey = false;
  let message: string;
  let expected: string | undefined;
  let found: string | undefined;

  switch (e.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      message = `missing required key "${missing}"`;
      expected = `key "${missing}"`;
      found = 'nothing';
      path = [...segments, missing];
      return positioned(parsed, segments, false, path, message, expected, found);
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties ?? {}) as object);
      const suggestion = closest(key, allowed);
      message = `unknown key "${key}"` + (suggestion ? ` (did you mean "${suggestion}"?)` : '') +
        (allowed.length ? `; expected one of: ${allowed.join(', ')}` : '');
      expected = allowed.length ? `one of: ${allowed.join(', ')}` : 'no further keys';
      found = `"${key}"`;
      path = [...segments, key];
      atKey = true;
      break;
    }
    case 'type': {
      expected = article(String(params.type));
      found = describe(e.data);
      message = `expected ${expected}, found ${found}`;
      break;
    }
    case 'enum': {
      const values = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      expected = `one of ${values.join(', ')}`;
      found = describe(e.data);
      message = `expected ${expected}; found ${found}`;
      break;
    }
    case 'const': {
      expected = JSON.stringify(params.allowedValue);
      found = describe(e.data);
      message = `expected ${expected}, found ${found}`;
      break;
    }
    case 'pattern':
    case 'format': {
      if (params.propertyName !== undefined || (e as ErrorObject & { propertyName?: string }).propertyName !== undefined) {
        const name = String((e as ErrorObject & { propertyName?: string }).propertyName ?? params.propertyName);
        path = [...segments, name];
        atKey = true;
        expected = expectedText ?? `a key matching ${String(params.pattern)}`;
        found = `"${name}"`;
        message = `invalid key "${name}": expected ${expected}`;
        break;
      }
      expected = expectedText ?? (e.keyword === 'format' ? `a ${String(params.format)}` : `a string matching ${String(params.pattern)}`);
      found = describe(e.data);
      message = `expected ${expected}, found ${found}`;
      break;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[e.keyword];
      expected = `a number ${op} ${String(params.limit)}`;
      found = describe(e.data);
      message = `expected ${expected}, found ${found}`;
      break;
    }
    case 'minItems':
    case 'maxItems':
    case 'minProperties':
    case 'maxProperties':
    case 'minLength':
    case 'maxLength': {
      const what = e.keyword.endsWith('Items') ? 'items' : e.keyword.endsWith('Properties') ? 'keys' : 'characters';
      const bound = e.keyword.startsWith('min') ? 'at least' : 'at most';
      expected = `${bound} ${String(params.limit)} ${what}`;
      found = describe(e.data);
      message = `expected ${expected}, found ${found}`;
      break;
    }
    case 'uniqueItems': {
      expected = 'no repeated items';
      found = `item ${String(params.j)} repeated as item ${String(params.i)}`;
      message = `expected ${expected}; ${found}`;
      break;
    }
    case 'discriminator': {
      const tag = String(params.tag);
      const options = discriminatorValues(parent);
      expected = `"${tag}" to be one of ${options.map((o) => `"${o}"`).join(', ')}`;
      found = describe((e.data as Record<string, unknown> | undefined)?.[tag]);
      message = params.error === 'tag' && (e.data as Record<string, unknown> | undefined)?.[tag] === undefined
        ? `missing required key "${tag}" (one of ${options.join(', ')})`
        : `expected ${expected}, found ${found}`;
      path = [...segments, tag];
      break;
    }
    default:
      message = e.message ?? 'invalid value';
  }
  return positioned(parsed, path, atKey, path, message, expected, found);
}

function positioned(parsed: ParsedText, locateAt: PathSegment[], atKey: boolean, path: PathSegment[],
  message: string, expected?: string, found?: string): Problem {
  const pos = parsed.locate(locateAt, atKey);
  const p: Problem = { file: parsed.file, ...pos, path: formatPath(path), message, severity: 'error' };
  if (expected !== undefined) p.expected = expected;
  if (found !== undefined) p.found = found;
  return p;
}

/** JSON pointer to path segments, with array indices as numbers. */
export function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/** `models.fraud-detector.version`, `features[2].type`, `metrics.overall["f1.macro"]`. */
export function formatPath(path: PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A short description of a value, for "found ..." */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  const keys = Object.keys(v as object);
  return keys.length ? `a mapping with key${keys.length === 1 ? '' : 's'} ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}` : 'an empty mapping';
}

function article(type: string): string {
  const names: Record<string, string> = {
    object: 'a mapping', array: 'a list', string: 'a string', number: 'a number',
    integer: 'a whole number', boolean: 'a boolean (true or false)', null: 'an empty value',
  };
  return type.split(',').map((t) => names[t] ?? t).join(' or ');
}

function discriminatorValues(schema: Record<string, unknown>): string[] {
  const prop = (schema.discriminator as { propertyName: string } | undefined)?.propertyName ?? '';
  return ((schema.oneOf ?? []) as Array<{ properties?: Record<string, { const?: string }> }>)
    .map((s) => s.properties?.[prop]?.const)
    .filter((v): v is string => typeof v === 'string');
}

/** The allowed key nearest to a misspelled one, when it is near enough to be a typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

// The spec hash: a digest of the fields modelship owns in an object (spec, labels, annotations
// other than the hash itself and the commit), so a new commit that changes nothing for an object
// is a no-op, and a hand edit of an owned field shows as drift.

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { annotations, managerName, type LiveKubernetesObject } from '../types.js';

type Plain = Record<string, unknown>;

/**
 * Canonical JSON (RFC 8785, JCS), written by the `canonicalize` package (as audit records are).
 * What JSON cannot carry (undefined, functions, NaN, Infinity, class instances such as Date) is
 * refused first, not silently dropped or converted: a hash must not hide a value.
 */
export function canonicalJson(value: unknown): string {
  refuseWhatJsonCannotCarry(value);
  return canonicalize(value)!;
}

function refuseWhatJsonCannotCarry(value: unknown): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot carry the number ${value}`);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) refuseWhatJsonCannotCarry(v);
    return;
  }
  if (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    for (const v of Object.values(value as Plain)) if (v !== undefined) refuseWhatJsonCannotCarry(v);
    return;
  }
  throw new TypeError(`canonical JSON cannot carry a value of type ${typeof value === 'object' ? (value as object).constructor?.name ?? 'object' : typeof value}`);
}

/** What the hash covers: labels, annotations without the spec hash and the commit, spec. */
export function hashedContent(obj: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Plain }): Plain {
  const ann = { ...obj.metadata.annotations };
  delete ann[annotations.specHash];
  delete ann[annotations.commit];
  return { labels: obj.metadata.labels ?? {}, annotations: ann, spec: obj.spec ?? {} };
}

/** sha256 (hex) of the canonical JSON of what modelship owns in the object. */
export function specHash(obj: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Plain }): string {
  return createHash('sha256').update(canonicalJson(hashedContent(obj))).digest('hex');
}

/**
 * The spec hash of a live object, over the fields modelship's server-side applies own
 * (managedFields of manager "modelship", operation Apply). The API server and admission webhooks
 * add defaults and other managers add fields; those are not modelship's and must not count as
 * drift. A live object without that record (an older server, a stand-in) is hashed over its
 * spec and the labels and annotations modelship writes.
 */
export function liveSpecHash(live: LiveKubernetesObject): string {
  return specHash(ownedByModelship(live));
}

/** The part of a live object modelship owns: metadata.labels, metadata.annotations and spec. */
export function ownedByModelship(live: LiveKubernetesObject): { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: Plain } {
  const entry = live.metadata.managedFields?.find((e) => e.manager === managerName && e.operation === 'Apply');
  const fields = isPlain(entry?.fieldsV1) ? entry.fieldsV1 : undefined;
  if (fields) {
    const meta = isPlain(fields['f:metadata']) ? fields['f:metadata'] : {};
    return {
      metadata: {
        labels: (project(live.metadata.labels ?? {}, meta['f:labels']) ?? {}) as Record<string, string>,
        annotations: (project(live.metadata.annotations ?? {}, meta['f:annotations']) ?? {}) as Record<string, string>,
      },
      spec: (project(live.spec ?? {}, fields['f:spec']) ?? {}) as Plain,
    };
  }
  const pick = (m: Record<string, string> | undefined, keep: (k: string) => boolean) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => keep(k)));
  return {
    metadata: {
      labels: pick(live.metadata.labels, (k) => renderedMetadataKeys.labels.has(k) || k.startsWith('modelship.io/')),
      annotations: pick(live.metadata.annotations, (k) => renderedMetadataKeys.annotations.has(k) || k.startsWith('modelship.io/')),
    },
    spec: live.spec ?? {},
  };
}

/** Labels and annotations outside modelship.io/ that the Kubernetes renderer writes. */
export const renderedMetadataKeys = {
  labels: new Set(['app.kubernetes.io/managed-by', 'networking.kserve.io/visibility']),
  annotations: new Set(['serving.kserve.io/deploymentMode']),
};

/**
 * The part of `value` a fieldsV1 node names: `f:<field>` for map fields, `k:{...}` for items of
 * associative lists, `v:<json>` for items of sets; a node with no children (or only ".") owns the
 * whole value, which is how atomic lists and leaves appear.
 */
function project(value: unknown, node: unknown): unknown {
  if (!isPlain(node)) return undefined;
  const children = Object.keys(node).filter((k) => k !== '.');
  if (children.length === 0) return value;
  if (Array.isArray(value)) {
    return value.filter((item) => children.some((k) => itemMatches(item, k))).map((item) => {
      const k = children.find((c) => itemMatches(item, c))!;
      return k.startsWith('k:') ? project(item, node[k]) : item;
    });
  }
  if (!isPlain(value)) return value;
  const out: Plain = {};
  for (const k of children) {
    if (!k.startsWith('f:')) continue;
    const name = k.slice(2);
    if (value[name] === undefined) continue;
    out[name] = project(value[name], node[k]);
  }
  return out;
}

function itemMatches(item: unknown, key: string): boolean {
  if (key.startsWith('v:')) return canonicalJson(JSON.parse(key.slice(2))) === canonicalJson(item);
  if (!key.startsWith('k:') || !isPlain(item)) return false;
  const want = JSON.parse(key.slice(2)) as Plain;
  return Object.entries(want).every(([f, v]) => canonicalJson(item[f] ?? null) === canonicalJson(v));
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Field paths and managedFields for the Kubernetes stand-in: the part of server-side apply it
// models. Ownership is tracked per (manager, operation) at the granularity of leaf fields, with
// maps granular and lists atomic (what a CRD without x-kubernetes-list-type gets from the real
// structured-merge-diff); an empty map is owned as a leaf. Plain data in, plain data out.

export type Path = readonly string[];
type Obj = Record<string, unknown>;

export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  /** RFC 3339, seconds */
  time: string;
  /** owned leaf paths, keyed by pathKey */
  fields: Map<string, Path>;
}

export interface FieldConflict {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  /** the path the other manager owns */
  path: Path;
}

/** metadata fields no manager owns: the server sets them */
const serverMetadata = new Set([
  'name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink',
]);

export function isMap(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export const pathKey = (p: Path): string => JSON.stringify(p);

/** `.spec.predictor.model.storageUri`, the way the API server names fields in conflicts */
export function pathText(p: Path): string {
  return p.map((s) => `.${s}`).join('');
}

/** one path is the other or an ancestor of it */
export function overlaps(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function getAt(obj: unknown, path: Path): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (!isMap(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

export function setAt(obj: Obj, path: Path, value: unknown): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    if (!isMap(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Obj;
  }
  cur[path[path.length - 1]!] = value;
}

/** Removes the field and then every ancestor map left empty, down to (not including) depth 1. */
export function deleteAt(obj: Obj, path: Path, keep: (p: Path) => boolean): void {
  const parent = getAt(obj, path.slice(0, -1));
  if (!isMap(parent)) return;
  delete parent[path[path.length - 1]!];
  for (let depth = path.length - 1; depth > 1; depth--) {
    const p = path.slice(0, depth);
    const v = getAt(obj, p);
    if (!isMap(v) || Object.keys(v).length > 0 || keep(p)) break;
    const up = getAt(obj, p.slice(0, -1)) as Obj;
    delete up[p[p.length - 1]!];
  }
}

/** The leaf paths of the fields a manager can own in an object (not apiVersion/kind/status/server metadata). */
export function ownedLeaves(obj: Obj): Path[] {
  const out: Path[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status' || v === undefined) continue;
    if (k === 'metadata' && isMap(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (!serverMetadata.has(mk) && mv !== undefined) leaves(mv, ['metadata', mk], out);
      }
      continue;
    }
    leaves(v, [k], out);
  }
  return out;
}

function leaves(v: unknown, prefix: string[], out: Path[]): void {
  if (isMap(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) if (x !== undefined) leaves(x, [...prefix, k], out);
  } else {
    out.push(prefix);
  }
}

/** Leaf paths whose values differ between two objects (present in either), over the ownable fields. */
export function changedLeaves(before: Obj | undefined, after: Obj): Path[] {
  const seen = new Map<string, Path>();
  for (const p of ownedLeaves(after)) seen.set(pathKey(p), p);
  if (before) for (const p of ownedLeaves(before)) seen.set(pathKey(p), p);
  return [...seen.values()].filter((p) => !deepEqual(getAt(before, p), getAt(after, p)));
}

/** The object with metadata and status removed: what metadata.generation tracks. */
export function generationContent(obj: Obj): Obj {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/** managedFields as the API server renders them (fieldsV1: nested `f:` keys). */
export function renderManagedFields(entries: ManagerEntry[]): Obj[] {
  return entries.map((e) => {
    const fieldsV1: Obj = {};
    for (const p of e.fields.values()) {
      let cur = fieldsV1;
      for (const seg of p) {
        const k = `f:${seg}`;
        if (!isMap(cur[k])) cur[k] = {};
        cur = cur[k] as Obj;
      }
    }
    return { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, time: e.time, fieldsType: 'FieldsV1', fieldsV1 };
  });
}

export type ApplyOutcome =
  | { ok: true; object: Obj; managers: ManagerEntry[] }
  | { ok: false; conflicts: FieldConflict[] };

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined: the object is new).
 * Without force, a field another manager owns whose live value differs from the applied one is a
 * conflict and nothing changes; with force, the applier takes those fields. Fields the applier
 * owned before and no longer sets are removed unless another manager still owns them.
 */
export function serverSideApply(args: {
  live: Obj | undefined;
  managers: ManagerEntry[];
  applied: Obj;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
}): ApplyOutcome {
  const { live, applied, manager, force } = args;
  const mine = (e: ManagerEntry) => e.manager === manager && e.operation === 'Apply';
  const wanted = ownedLeaves(applied);
  const conflicts: FieldConflict[] = [];
  const conflicting = new Map<ManagerEntry, Set<string>>();
  for (const p of wanted) {
    const same = deepEqual(getAt(live, p), getAt(applied, p));
    if (same) continue;
    for (const e of args.managers) {
      if (mine(e)) continue;
      for (const [k, q] of e.fields) {
        if (!overlaps(p, q)) continue;
        if (!conflicting.has(e)) conflicting.set(e, new Set());
        if (!conflicting.get(e)!.has(k)) {
          conflicting.get(e)!.add(k);
          conflicts.push({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, path: q });
        }
      }
    }
  }
  if (conflicts.length && !force) return { ok: false, conflicts };

  const object = clone(live) ?? {};
  const managers = args.managers.map((e) => ({ ...e, fields: new Map(e.fields) }));
  if (force) {
    for (const [orig, keys] of conflicting) {
      const e = managers[args.managers.indexOf(orig)]!;
      for (const k of keys) e.fields.delete(k);
    }
  }
  let entry = managers.find(mine);
  const previous = entry ? [...entry.fields.values()] : [];
  if (!entry) {
    entry = { manager, operation: 'Apply', apiVersion: args.apiVersion, time: args.now, fields: new Map() };
    managers.push(entry);
  }
  entry.fields = new Map(wanted.map((p) => [pathKey(p), p]));
  entry.apiVersion = args.apiVersion;
  entry.time = args.now;

  for (const p of wanted) {
    const v = getAt(applied, p);
    if (isMap(v) && Object.keys(v).length === 0 && isMap(getAt(object, p))) continue; // {} merges
    setAt(object, p, clone(v));
  }
  const ownedByAnyone = (p: Path) => managers.some((e) => [...e.fields.values()].some((q) => overlaps(p, q)));
  for (const p of previous) {
    if (entry.fields.has(pathKey(p))) continue;
    if (wanted.some((w) => overlaps(w, p))) continue; // now owned at another granularity
    if (ownedByAnyone(p)) continue;
    deleteAt(object, p, ownedByAnyone);
  }
  return { ok: true, object, managers: managers.filter((e) => e.fields.size > 0) };
}

/** An Update (create, PUT, merge patch) by `manager`: it takes every field it changed, from everyone. */
export function recordUpdate(args: {
  before: Obj | undefined;
  after: Obj;
  managers: ManagerEntry[];
  manager: string;
  apiVersion: string;
  now: string;
}): ManagerEntry[] {
  const changed = changedLeaves(args.before, args.after);
  if (!changed.length) return args.managers;
  const managers = args.managers.map((e) => ({ ...e, fields: new Map(e.fields) }));
  for (const e of managers) {
    for (const [k, q] of e.fields) if (changed.some((p) => overlaps(p, q))) e.fields.delete(k);
  }
  let entry = managers.find((e) => e.manager === args.manager && e.operation === 'Update');
  if (!entry) {
    entry = { manager: args.manager, operation: 'Update', apiVersion: args.apiVersion, time: args.now, fields: new Map() };
    managers.push(entry);
  }
  entry.time = args.now;
  for (const p of changed) if (getAt(args.after, p) !== undefined) entry.fields.set(pathKey(p), p);
  return managers.filter((e) => e.fields.size > 0);
}

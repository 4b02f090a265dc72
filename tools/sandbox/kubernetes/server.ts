// A loopback stand-in of the Kubernetes API server, for the tests and the demo (`npm run demo`): no real
// kube-apiserver can run on these machines (no Debian package, no container runtime). The real
// client (@kubernetes/client-node) and kubectl talk to it over plain HTTP or HTTPS.
//
// What it does, the way kube-apiserver does it:
// - discovery: GET /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>, /version, for
//   v1 namespaces/services/configmaps, serving.kserve.io/v1beta1 inferenceservices,
//   gateway.networking.k8s.io/v1 httproutes and coordination.k8s.io/v1 leases;
// - storage per (group, resource, namespace, name); GET, LIST (labelSelector: =, ==, !=, exists,
//   !key, in, notin; fieldSelector on metadata.name/namespace), POST (409 AlreadyExists),
//   PUT (409 on a stale metadata.resourceVersion, 404 when absent), DELETE, the /status
//   subresource (GET, PUT, merge patch), `dryRun=All`, server-side printing (Table) for kubectl;
// - server-side apply (PATCH application/apply-patch+yaml, fieldManager required, `force`):
//   merges the applied fields, tracks managedFields per manager and operation at leaf-field
//   granularity (maps granular, lists atomic), answers 409 Conflict with a Status naming the
//   other manager and each field (details.causes FieldManagerConflict) when another manager owns
//   a field the applier sets to a different value and force is not true; removes fields the
//   applier stopped setting when no one else owns them; a no-op apply writes nothing;
// - merge patch (application/merge-patch+json) and PUT/POST are recorded as "Update" operations
//   of their fieldManager (default: the User-Agent's product name), taking the fields they change;
// - metadata: uid, creationTimestamp, resourceVersion (one counter, bumped on every real write),
//   generation (1 at creation, +1 when anything outside metadata and status changes, as for CRs);
//   name and label syntax are validated (422 Invalid); writes into a missing namespace are 404;
// - a toy KServe controller: some time after an InferenceService's generation changes it writes
//   status (observedGeneration copied from the child object as KServe does, so it is not the
//   InferenceService's generation; deploymentMode; conditions IngressReady/PredictorReady/Ready,
//   modelStatus, components.predictor revisions and traffic split by canaryTrafficPercent in
//   serverless mode; no revisions or traffic for the raw mode; see controller.ts); it plays
//   KServe 0.16 (Standard / Knative) or 0.15 (RawDeployment / Serverless only); objects can be
//   made stuck (failed model load, or a rollout that never finishes) or scaled (an HPA event);
//   a toy Gateway controller accepts every HTTPRoute parent unless it uses a refused filter type,
//   and reports ResolvedRefs=False for a backend Service that does not exist;
// - bearer-token auth (401), plain HTTP or HTTPS with a given certificate (tls.ts makes a
//   self-signed one), fault injection and added latency per request, a request log with each
//   request's authorization attributes as RBAC would see them (authorization.ts).
//
// What it does NOT do: client certificates, authorization/RBAC (every authenticated caller may
// do anything; the attributes are only recorded), watch, pagination (limit/continue are ignored: one page), strategic merge patch
// (treated as a JSON merge patch), JSON patch (415), apply on the status subresource, field
// ownership inside lists (x-kubernetes-list-type map/set), managedFields for status writes,
// schema validation, defaulting or pruning of CRD fields (render-time validation against the real
// KServe CRD lives elsewhere), finalizers, graceful deletion, garbage collection of owned objects
// (deleting a namespace drops its objects at once), admission webhooks, protobuf, aggregated
// discovery (kubectl falls back to the legacy documents), OpenAPI documents, events, and any real
// serving: nothing runs, status is what the toy controllers write. It keeps metadata.generation
// for every kind (the CR rule), where kube-apiserver leaves some built-in kinds without one.
// Note that kubectl (client-go) sends a bearer token only over TLS: against plain HTTP, run the
// stand-in with `token: null`, or give it a certificate.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { inferenceServiceStatus, httpRouteStatus, isRawDeployment, type Failure, type KServeVersion, type RevisionState } from './controller.js';
import {
  clone, deepEqual, generationContent, isMap, pathText, recordUpdate, renderManagedFields, serverSideApply,
  type FieldConflict, type ManagerEntry,
} from './fields.js';
import { requestAttributes, type AuthorizationCheck } from './authorization.js';
import {
  apiGroupDoc, apiGroupList, apiResourceList, apiVersionOf, apiVersions, findByKind, findByPlural, type ResourceType,
} from './resources.js';
import { matches, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import { toTable, wantsTable } from './table.js';

type Obj = Record<string, any>;

/** One request as received, for tests to inspect (e.g. count writes). */
export interface KubeRequest {
  method: string;
  /** the URL path, without the query */
  path: string;
  query: Record<string, string>;
  contentType?: string;
  accept?: string;
  userAgent?: string;
  /** parsed JSON/YAML body, or the raw text when it did not parse */
  body?: unknown;
  /** the status code answered (set once answered) */
  status?: number;
  /** what RBAC would be asked about this request, as kube-apiserver derives it (authorization.ts) */
  authorization: AuthorizationCheck[];
}

/** An injected failure: the status code, and optionally the Status message and a Retry-After. */
export interface Fault {
  status: number;
  message?: string;
  retryAfterSeconds?: number;
}

export interface KubernetesStandInOptions {
  /** the bearer token every request must carry; default `modelship-sandbox-token`; null: no auth */
  token?: string | null;
  /** namespaces that exist from the start, besides `default` and `kube-system` */
  namespaces?: string[];
  controller?: {
    /** default true; false: status is never written (objects never become ready) */
    enabled?: boolean;
    /** how long after a spec change the controller writes status; default 0 (the next tick) */
    delayMs?: number;
    /** a failure message for objects that should fail by content (e.g. a storageUri) */
    failWhen?: (obj: Obj) => string | undefined;
    /** which KServe to play: '0.16' (default; Standard / Knative and the legacy names) or '0.15' (RawDeployment / Serverless only) */
    kserveVersion?: KServeVersion;
    /** HTTPRoute filter types the toy gateway refuses (Accepted=False, UnsupportedValue), e.g. ['RequestMirror'] */
    unsupportedFilters?: string[];
  };
  /** answer this request with an error instead (after auth): a status code or a Fault */
  fail?: (req: KubeRequest) => number | Fault | undefined;
  /** delay this request by that many milliseconds before answering */
  latencyMs?: (req: KubeRequest) => number | undefined;
  /** the server's clock; default Date.now */
  now?: () => Date;
  port?: number;
  /** serve HTTPS with this key and certificate (PEM); default plain HTTP. kubectl sends a bearer
   *  token only over TLS, so checking auth against kubectl needs this (see tls.ts) */
  tls?: { key: string; cert: string };
}

export interface StandInController {
  enabled: boolean;
  delayMs: number;
  failWhen: ((obj: Obj) => string | undefined) | undefined;
  /** makes this object stuck: a failed model load (default) or a rollout that never finishes */
  stick(namespace: string, name: string, message: string, mode?: Failure['mode']): void;
  unstick(namespace: string, name: string): void;
  /**
   * An autoscaler event: the HPA writes the predictor Deployment's replicas, which bumps the
   * Deployment's generation; KServe copies it into the InferenceService's status.observedGeneration
   * while the InferenceService's own generation stays (raw mode; Knative's autoscaler writes no
   * Service spec, so serverless is left alone).
   */
  scale(namespace: string, name: string): void;
  kserveVersion: KServeVersion;
  unsupportedFilters: string[];
  /** resolves once no status write is pending */
  idle(): Promise<void>;
}

export interface KubernetesStandIn {
  /** http://127.0.0.1:PORT (https:// with the tls option) */
  url: string;
  port: number;
  /** the token to send (undefined when auth is off) */
  token: string | undefined;
  /** every request received, in order */
  requests: KubeRequest[];
  /** the requests that wrote or tried to write (not GET) */
  writes(): KubeRequest[];
  fail: KubernetesStandInOptions['fail'];
  latencyMs: KubernetesStandInOptions['latencyMs'];
  controller: StandInController;
  /** the stored object (a copy), without going through HTTP */
  get(apiVersion: string, kind: string, namespace: string, name: string): Obj | undefined;
  list(apiVersion: string, kind: string, namespace?: string): Obj[];
  /** stores an object directly, as an Update by `manager` (seeding "someone else's" objects) */
  put(obj: Obj, manager?: string): Obj;
  createNamespace(name: string): void;
  stop(): Promise<void>;
}

interface Stored {
  type: ResourceType;
  object: Obj;
  managers: ManagerEntry[];
}

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Obj, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

const reasons: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
  500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function qualifiedKey(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) return 'prefix part must be a lowercase RFC 1123 subdomain';
  if (name.length > 63 || !labelName.test(name)) return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)";
  return undefined;
}

function validate(type: ResourceType, obj: Obj): string[] {
  const errs: string[] = [];
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || !name) errs.push('metadata.name: Required value: name or generateName is required');
  else if (name.length > 253 || !dns1123Subdomain.test(name)) {
    errs.push(`metadata.name: Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
  }
  for (const [field, isLabels] of [['labels', true], ['annotations', false]] as const) {
    const m = obj.metadata?.[field];
    if (m === undefined || m === null) continue;
    if (!isMap(m)) {
      errs.push(`metadata.${field}: Invalid value: must be a map of strings`);
      continue;
    }
    for (const [k, v] of Object.entries(m)) {
      const bad = qualifiedKey(k);
      if (bad) errs.push(`metadata.${field}: Invalid value: ${JSON.stringify(k)}: ${bad}`);
      if (typeof v !== 'string') errs.push(`metadata.${field}.${k}: Invalid value: must be a string`);
      else if (isLabels && (v.length > 63 || !labelValue.test(v))) {
        errs.push(`metadata.labels: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`);
      }
    }
  }
  if (type.kind === 'Lease' && obj.spec?.leaseDurationSeconds !== undefined && !(Number.isInteger(obj.spec.leaseDurationSeconds) && obj.spec.leaseDurationSeconds > 0)) {
    errs.push('spec.leaseDurationSeconds: Invalid value: must be greater than 0');
  }
  return errs;
}

function resourceName(t: ResourceType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return clone(patch);
  const out: Obj = isMap(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function startKubernetesStandIn(options: KubernetesStandInOptions = {}): Promise<KubernetesStandIn> {
  const token = options.token === null ? undefined : (options.token ?? 'modelship-sandbox-token');
  const now = options.now ?? (() => new Date());
  const store = new Map<string, Stored>();
  const revisions = new Map<string, RevisionState>();
  const failures = new Map<string, Failure>();
  const pending = new Map<string, NodeJS.Timeout>();
  const requests: KubeRequest[] = [];
  let resourceVersion = 1000;
  let serverAddress = '127.0.0.1:0';

  const keyOf = (t: ResourceType, ns: string | undefined, name: string) => `${t.group}|${t.plural}|${t.namespaced ? ns ?? '' : ''}|${name}`;
  const nsType = findByPlural('', 'v1', 'namespaces')!;

  const controller: StandInController = {
    enabled: options.controller?.enabled ?? true,
    delayMs: options.controller?.delayMs ?? 0,
    failWhen: options.controller?.failWhen,
    stick(namespace, name, message, mode = 'failed') {
      failures.set(`${namespace}/${name}`, { mode, message });
      rescheduleNamed(namespace, name);
    },
    unstick(namespace, name) {
      failures.delete(`${namespace}/${name}`);
      rescheduleNamed(namespace, name);
    },
    kserveVersion: options.controller?.kserveVersion ?? '0.16',
    unsupportedFilters: options.controller?.unsupportedFilters ?? [],
    scale(namespace, name) {
      for (const [key, s] of store) {
        if (s.type.kind !== 'InferenceService' || s.object.metadata.namespace !== namespace || s.object.metadata.name !== name) continue;
        const r = revisions.get(key);
        if (r?.child && isRawDeployment(s.object, r.deploymentMode)) r.child = { ...r.child, generation: r.child.generation + 1 };
        schedule(key);
      }
    },
    async idle() {
      while (pending.size) await new Promise((r) => setTimeout(r, 2));
    },
  };

  function rescheduleNamed(namespace: string, name: string): void {
    for (const [key, s] of store) {
      if (s.object.metadata.namespace === namespace && s.object.metadata.name === name) schedule(key);
    }
  }

  function schedule(key: string): void {
    const s = store.get(key);
    if (!s || !controller.enabled) return;
    if (s.type.kind !== 'InferenceService' && s.type.kind !== 'HTTPRoute') return;
    clearTimeout(pending.get(key));
    pending.set(key, setTimeout(() => {
      pending.delete(key);
      reconcile(key);
    }, controller.delayMs));
  }

  function reconcile(key: string): void {
    const s = store.get(key);
    if (!s || !controller.enabled) return;
    const obj = s.object;
    const id = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const byContent = controller.failWhen?.(clone(obj));
    const failure = failures.get(id) ?? (byContent ? { mode: 'failed' as const, message: byContent } : undefined);
    const time = rfc3339(now());
    let status: Obj;
    if (s.type.kind === 'InferenceService') {
      const r = inferenceServiceStatus(obj, revisions.get(key) ?? { revision: 0 }, failure, time, controller.kserveVersion);
      revisions.set(key, r.state);
      status = r.status;
    } else {
      status = httpRouteStatus(obj, failure, time, { unsupportedFilters: controller.unsupportedFilters, serviceExists });
    }
    if (deepEqual(withoutTimes(obj.status), withoutTimes(status))) return;
    const next: Obj = { ...clone(obj), status };
    next.metadata.resourceVersion = String(++resourceVersion);
    store.set(key, { ...s, object: next });
  }

  /**
   * A Service exists when stored, or when KServe raw mode would have made it: `<isvc>-predictor`
   * in front of a Standard-mode InferenceService (the Services themselves are not stored).
   */
  function serviceExists(namespace: string, name: string): boolean {
    for (const [key, s] of store) {
      if (s.object.metadata.namespace !== namespace) continue;
      if (s.type.kind === 'Service' && s.object.metadata.name === name) return true;
      if (s.type.kind === 'InferenceService' && `${s.object.metadata.name}-predictor` === name && isRawDeployment(s.object, revisions.get(key)?.deploymentMode, controller.kserveVersion)) return true;
    }
    return false;
  }

  /** Gateways watch Services: routes in a namespace are looked at again when its InferenceServices come and go. */
  function scheduleRoutes(namespace: string | undefined): void {
    for (const [key, s] of store) if (s.type.kind === 'HTTPRoute' && s.object.metadata.namespace === namespace) schedule(key);
  }

  function withoutTimes(v: unknown): unknown {
    return JSON.parse(JSON.stringify(v ?? null, (k, x) => (k === 'lastTransitionTime' || k === 'time' ? undefined : x)));
  }

  /** Stores `after` (already merged) if it differs from `before`; sets server metadata; returns what is stored. */
  function commit(type: ResourceType, key: string, before: Stored | undefined, after: Obj, managers: ManagerEntry[], dryRun: boolean): Obj {
    const obj = clone(after);
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    if (before) {
      obj.metadata.uid = before.object.metadata.uid;
      obj.metadata.creationTimestamp = before.object.metadata.creationTimestamp;
      obj.metadata.generation = before.object.metadata.generation ?? 1;
      obj.metadata.resourceVersion = before.object.metadata.resourceVersion;
      if (!deepEqual(generationContent(before.object), generationContent(obj))) obj.metadata.generation += 1;
    } else {
      obj.metadata.uid = randomUUID();
      obj.metadata.creationTimestamp = rfc3339(now());
      obj.metadata.generation = 1;
    }
    if (!type.namespaced) delete obj.metadata.namespace;
    obj.metadata.managedFields = renderManagedFields(managers);
    if (before) {
      const strip = (o: Obj) => ({ ...o, metadata: { ...o.metadata, managedFields: undefined } });
      const sameOwners = before.managers.length === managers.length && before.managers.every((e, i) => {
        const m = managers[i]!;
        return e.manager === m.manager && e.operation === m.operation && e.apiVersion === m.apiVersion
          && e.fields.size === m.fields.size && [...e.fields.keys()].every((k) => m.fields.has(k));
      });
      if (sameOwners && deepEqual(strip(before.object), strip(obj))) return clone(before.object);
    }
    if (dryRun) return obj;
    obj.metadata.resourceVersion = String(++resourceVersion);
    store.set(key, { type, object: obj, managers });
    if (!before || before.object.metadata.generation !== obj.metadata.generation) schedule(key);
    if (!before && (type.kind === 'InferenceService' || type.kind === 'Service')) scheduleRoutes(obj.metadata.namespace);
    return clone(obj);
  }

  function requireNamespace(type: ResourceType, ns: string | undefined): void {
    if (!type.namespaced) return;
    if (!ns) throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    if (!store.has(keyOf(nsType, undefined, ns))) throw new HttpError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  }

  function notFound(type: ResourceType, name: string): HttpError {
    return new HttpError(404, 'NotFound', `${resourceName(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
  }

  function checkBody(type: ResourceType, body: unknown, ns: string | undefined, name: string | undefined): Obj {
    if (!isMap(body)) throw new HttpError(400, 'BadRequest', 'the body of the request was in an unknown format');
    const obj = body as Obj;
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(type)) {
      throw new HttpError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(type)})`);
    }
    if (obj.kind !== undefined && obj.kind !== type.kind) {
      throw new HttpError(400, 'BadRequest', `the kind in the data (${obj.kind}) does not match the expected kind (${type.kind})`);
    }
    if (!isMap(obj.metadata)) obj.metadata = {};
    if (type.kind === 'Lease') {
      // MicroTime decodes with Go's RFC3339Micro layout: exactly six fractional digits
      for (const f of ['acquireTime', 'renewTime']) {
        const v = obj.spec?.[f];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(v)) {
          throw new HttpError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC3339Micro`);
        }
      }
    }
    if (type.namespaced) {
      if (obj.metadata.namespace === undefined) obj.metadata.namespace = ns;
      else if (obj.metadata.namespace !== ns) throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (name !== undefined) {
      if (obj.metadata.name === undefined) obj.metadata.name = name;
      else if (obj.metadata.name !== name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    }
    if (!obj.metadata.name && typeof obj.metadata.generateName === 'string') {
      obj.metadata.name = obj.metadata.generateName + randomUUID().slice(0, 5);
    }
    const errs = validate(type, obj);
    if (errs.length) {
      const n = obj.metadata.name ?? '';
      throw new HttpError(422, 'Invalid', `${type.kind}${type.group ? `.${type.group}` : ''} ${JSON.stringify(n)} is invalid: ${errs.join(', ')}`,
        { name: n, group: type.group, kind: type.kind, causes: errs.map((e) => ({ reason: 'FieldValueInvalid', message: e, field: e.split(':')[0] })) });
    }
    return obj;
  }

  function conflictError(type: ResourceType, name: string, conflicts: FieldConflict[]): HttpError {
    const who = (c: FieldConflict) => `"${c.manager}"${c.operation === 'Update' ? ` using ${c.apiVersion}` : ''}`;
    const groups = new Map<string, FieldConflict[]>();
    for (const c of conflicts) groups.set(who(c), [...(groups.get(who(c)) ?? []), c]);
    const parts = [...groups].map(([w, cs]) => cs.length === 1
      ? `conflict with ${w}: ${pathText(cs[0]!.path)}`
      : `conflicts with ${w}:\n${cs.map((c) => `- ${pathText(c.path)}`).join('\n')}`);
    const n = conflicts.length;
    return new HttpError(409, 'Conflict', `Apply failed with ${n} conflict${n === 1 ? '' : 's'}: ${parts.join('\n')}`, {
      name, group: type.group, kind: type.plural,
      causes: conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with ${who(c)}`, field: pathText(c.path) })),
    });
  }

  function defaultManager(req: IncomingMessage): string {
    const ua = req.headers['user-agent'] ?? 'unknown';
    return ua.split('/')[0]!.trim() || 'unknown';
  }

  async function handle(req: IncomingMessage, entry: KubeRequest, rawBody: string): Promise<{ code: number; body: unknown }> {
    const method = entry.method;
    const parts = entry.path.split('/').filter(Boolean).map(decodeURIComponent);
    if (entry.path === '/version') {
      return { code: 200, body: { major: '1', minor: '32', gitVersion: 'v1.32.0-modelship-sandbox', platform: 'linux/amd64' } };
    }
    if (entry.path === '/healthz' || entry.path === '/readyz' || entry.path === '/livez') return { code: 200, body: 'ok' };
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (parts[0] === 'api') {
      group = '';
      version = parts[1];
      rest = parts.slice(2);
      if (!version) return { code: 200, body: apiVersions(serverAddress) };
    } else if (parts[0] === 'apis') {
      if (!parts[1]) return { code: 200, body: apiGroupList() };
      group = parts[1];
      version = parts[2];
      rest = parts.slice(3);
      if (!version) {
        const doc = apiGroupDoc(group);
        if (!doc) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
        return { code: 200, body: doc };
      }
    } else {
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (!rest.length) {
      const doc = apiResourceList(group, version);
      if (!doc) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      return { code: 200, body: doc };
    }
    if (rest[0] === 'watch' || entry.query.watch === 'true' || entry.query.watch === '1') {
      throw new HttpError(405, 'MethodNotAllowed', 'the modelship sandbox API server does not support watch');
    }
    let ns: string | undefined;
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && findByPlural(group, version, rest[2]!)) {
      [, ns, plural, name, sub] = rest as [string, string, string, string?, string?];
    } else {
      [plural, name, sub] = rest as [string, string?, string?];
    }
    const type = findByPlural(group, version, plural);
    if (!type || (ns !== undefined && !type.namespaced) || (sub !== undefined && sub !== 'status')) {
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (type.namespaced && ns === undefined && !(method === 'GET' && name === undefined)) {
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const dryRun = entry.query.dryRun === 'All';
    const ct = (entry.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const parseBody = (): unknown => {
      if (!rawBody) throw new HttpError(400, 'BadRequest', 'the request body is empty');
      try {
        return ct === 'application/apply-patch+yaml' || ct === 'application/yaml' ? decodeYaml(rawBody) : JSON.parse(rawBody);
      } catch (e) {
        throw new HttpError(400, 'BadRequest', `the body of the request could not be decoded: ${(e as Error).message}`);
      }
    };
    const rv = () => String(resourceVersion);

    if (name === undefined) {
      if (method === 'GET') {
        let labelReqs;
        let fieldReqs;
        try {
          labelReqs = parseLabelSelector(entry.query.labelSelector);
          fieldReqs = parseFieldSelector(entry.query.fieldSelector);
        } catch (e) {
          if (e instanceof SelectorError) throw new HttpError(400, 'BadRequest', e.message);
          throw e;
        }
        const items = [...store.values()]
          .filter((s) => s.type === type && (ns === undefined || s.object.metadata.namespace === ns))
          .map((s) => s.object)
          .filter((o) => matches(labelReqs, o.metadata.labels))
          .filter((o) => fieldReqs.every((f) => {
            const actual = f.field === 'metadata.name' ? o.metadata.name : o.metadata.namespace ?? '';
            return f.op === 'eq' ? actual === f.value : actual !== f.value;
          }))
          .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`))
          .map((o) => clone(o));
        if (wantsTable(entry.accept)) return { code: 200, body: toTable(type.kind, items, rv(), now().getTime()) };
        return { code: 200, body: { apiVersion: apiVersionOf(type), kind: `${type.kind}List`, metadata: { resourceVersion: rv() }, items } };
      }
      if (method === 'POST') {
        requireNamespace(type, ns);
        const obj = checkBody(type, parseBody(), ns, undefined);
        const key = keyOf(type, ns, obj.metadata.name);
        if (store.has(key)) {
          throw new HttpError(409, 'AlreadyExists', `${resourceName(type)} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, group: type.group, kind: type.plural });
        }
        const { status: _ignored, ...content } = obj;
        if (type.kind === 'Namespace') content.status = { phase: 'Active' };
        const fresh = { ...content, metadata: { ...content.metadata, resourceVersion: undefined } };
        const managers = recordUpdate({ before: undefined, after: fresh, managers: [], manager: entry.query.fieldManager ?? defaultManager(req), apiVersion: apiVersionOf(type), now: rfc3339(now()) });
        return { code: 201, body: commit(type, key, undefined, fresh, managers, dryRun) };
      }
      throw new HttpError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method} collection)`);
    }

    const key = keyOf(type, ns, name);
    const stored = store.get(key);
    if (method === 'GET') {
      if (!stored) throw notFound(type, name);
      if (wantsTable(entry.accept)) return { code: 200, body: toTable(type.kind, [clone(stored.object)], stored.object.metadata.resourceVersion, now().getTime()) };
      return { code: 200, body: clone(stored.object) };
    }
    if (method === 'DELETE') {
      if (!stored) throw notFound(type, name);
      if (!dryRun) {
        store.delete(key);
        clearTimeout(pending.get(key));
        pending.delete(key);
        revisions.delete(key);
        resourceVersion++;
        if (type.kind === 'InferenceService' || type.kind === 'Service') scheduleRoutes(ns);
        if (type === nsType) {
          for (const [k, s] of store) if (s.type.namespaced && s.object.metadata.namespace === name) store.delete(k);
        }
      }
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: type.group, kind: type.plural, uid: stored.object.metadata.uid } } };
    }
    const manager = entry.query.fieldManager;
    const time = rfc3339(now());
    const apiVersion = apiVersionOf(type);
    if (sub === 'status') {
      if (!stored) throw notFound(type, name);
      let status: unknown;
      if (method === 'PUT') {
        const obj = checkBody(type, parseBody(), ns, name);
        if (obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== stored.object.metadata.resourceVersion) throw staleError(type, name);
        status = obj.status;
      } else if (method === 'PATCH' && (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json')) {
        status = (mergePatch(stored.object, parseBody()) as Obj).status;
      } else {
        throw new HttpError(415, 'UnsupportedMediaType', `the stand-in supports PUT and merge patch on the status subresource, not ${method} ${ct}`);
      }
      const next: Obj = { ...clone(stored.object), status };
      if (deepEqual(next, stored.object)) return { code: 200, body: clone(stored.object) };
      if (!dryRun) {
        next.metadata.resourceVersion = String(++resourceVersion);
        store.set(key, { ...stored, object: next });
      }
      return { code: 200, body: clone(next) };
    }
    if (method === 'PUT') {
      if (!stored) throw notFound(type, name);
      const obj = checkBody(type, parseBody(), ns, name);
      if (obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== stored.object.metadata.resourceVersion) throw staleError(type, name);
      const next: Obj = { ...obj, status: stored.object.status };
      if (next.status === undefined) delete next.status;
      const managers = recordUpdate({ before: stored.object, after: next, managers: stored.managers, manager: manager ?? defaultManager(req), apiVersion, now: time });
      return { code: 200, body: commit(type, key, stored, next, managers, dryRun) };
    }
    if (method === 'PATCH') {
      if (ct === 'application/apply-patch+yaml') {
        if (!manager) throw new HttpError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml requests must pass a fieldManager query parameter');
        const force = entry.query.force === 'true';
        requireNamespace(type, ns);
        const applied = checkBody(type, parseBody(), ns, name);
        if (applied.metadata.resourceVersion !== undefined && stored && applied.metadata.resourceVersion !== stored.object.metadata.resourceVersion) throw staleError(type, name);
        if (applied.metadata.resourceVersion !== undefined && !stored) throw notFound(type, name);
        // an apply that creates is authorized for `create` as well (authorization.ts, patch.go)
        if (!stored) entry.authorization.push({ ...entry.authorization[0]!, verb: 'create' });
        const outcome = serverSideApply({ live: stored?.object, managers: stored?.managers ?? [], applied, manager, force, apiVersion, now: time });
        if (!outcome.ok) throw conflictError(type, name, outcome.conflicts);
        const merged: Obj = outcome.object;
        if (!isMap(merged.metadata)) merged.metadata = {};
        merged.metadata.name = name;
        if (type.namespaced) merged.metadata.namespace = ns;
        if (type.kind === 'Namespace' && !merged.status) merged.status = { phase: 'Active' };
        return { code: stored ? 200 : 201, body: commit(type, key, stored, merged, outcome.managers, dryRun) };
      }
      if (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json') {
        if (!stored) throw notFound(type, name);
        const patch = parseBody();
        if (!isMap(patch)) throw new HttpError(400, 'BadRequest', 'a merge patch must be a JSON object');
        const { status: _s, ...patchWithoutStatus } = patch;
        const next = mergePatch(stored.object, patchWithoutStatus) as Obj;
        checkBody(type, next, ns, name);
        const managers = recordUpdate({ before: stored.object, after: next, managers: stored.managers, manager: manager ?? defaultManager(req), apiVersion, now: time });
        return { code: 200, body: commit(type, key, stored, next, managers, dryRun) };
      }
      throw new HttpError(415, 'UnsupportedMediaType', `the stand-in does not support the patch type ${ct || '(none)'}`);
    }
    throw new HttpError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
  }

  function staleError(type: ResourceType, name: string): HttpError {
    return new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceName(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: type.group, kind: type.plural });
  }

  function send(res: ServerResponse, entry: KubeRequest, code: number, body: unknown, headers: Record<string, string> = {}): void {
    entry.status = code;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  const listener: RequestListener = (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const rawBody = await readBody(req);
      const entry: KubeRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        ...(req.headers.accept ? { accept: req.headers.accept } : {}),
        ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
        authorization: [requestAttributes(req.method ?? 'GET', url.pathname, Object.fromEntries(url.searchParams))],
      };
      if (rawBody) {
        try {
          entry.body = entry.contentType?.includes('yaml') ? decodeYaml(rawBody) : JSON.parse(rawBody);
        } catch {
          entry.body = rawBody;
        }
      }
      requests.push(entry);
      try {
        const delay = stand.latencyMs?.(entry);
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
          throw new HttpError(401, 'Unauthorized', 'Unauthorized');
        }
        const injected = stand.fail?.(entry);
        if (injected !== undefined) {
          const f: Fault = typeof injected === 'number' ? { status: injected } : injected;
          const reason = reasons[f.status] ?? 'Unknown';
          const retryAfter = f.retryAfterSeconds ?? (f.status === 429 ? 1 : undefined);
          throw new HttpError(f.status, reason, f.message ?? `injected fault: ${f.status} ${reason}`, retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : undefined, retryAfter);
        }
        const { code, body } = await handle(req, entry, rawBody);
        send(res, entry, code, body);
      } catch (e) {
        if (e instanceof HttpError) {
          send(res, entry, e.code, statusBody(e.code, e.reason, e.message, e.details), e.retryAfterSeconds !== undefined ? { 'Retry-After': String(e.retryAfterSeconds) } : {});
        } else {
          send(res, entry, 500, statusBody(500, 'InternalError', `sandbox API server error: ${(e as Error).stack ?? e}`));
        }
      }
    })();
  };
  const server: Server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createServer(listener);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;

  const seedManager = 'sandbox';
  const stand: KubernetesStandIn = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    token,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET'),
    fail: options.fail,
    latencyMs: options.latencyMs,
    controller,
    get(apiVersion, kind, namespace, name) {
      const t = findByKind(apiVersion, kind);
      if (!t) return undefined;
      return clone(store.get(keyOf(t, namespace, name))?.object);
    },
    list(apiVersion, kind, namespace) {
      const t = findByKind(apiVersion, kind);
      return [...store.values()].filter((s) => s.type === t && (namespace === undefined || s.object.metadata.namespace === namespace)).map((s) => clone(s.object));
    },
    put(obj, manager = seedManager) {
      const t = findByKind(obj.apiVersion, obj.kind);
      if (!t) throw new Error(`the stand-in does not serve ${obj.apiVersion} ${obj.kind}`);
      const ns = obj.metadata?.namespace;
      requireNamespace(t, ns);
      const body = checkBody(t, clone(obj), ns, obj.metadata?.name);
      const key = keyOf(t, ns, body.metadata.name);
      const before = store.get(key);
      const managers = recordUpdate({ before: before?.object, after: body, managers: before?.managers ?? [], manager, apiVersion: apiVersionOf(t), now: rfc3339(now()) });
      return commit(t, key, before, { ...body, metadata: { ...body.metadata, resourceVersion: undefined } }, managers, false);
    },
    createNamespace(name) {
      if (store.has(keyOf(nsType, undefined, name))) return;
      stand.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    },
    async stop() {
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  for (const ns of ['default', 'kube-system', ...(options.namespaces ?? [])]) stand.createNamespace(ns);
  return stand;
}

/**
 * A YAML body (an apply patch). client-node sends JSON, which is YAML too: the API server decodes
 * both alike (sigs.k8s.io/yaml turns YAML into JSON before decoding), so a body that parses as
 * JSON is taken as it is, and only other text goes through the YAML parser (which took ~1 ms per
 * apply, twice per request, in a first sync of 3,000 objects).
 */
function decodeYaml(raw: string): unknown {
  if (/^\s*[{[]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      // not JSON after all (YAML flow style): the YAML parser says what is wrong
    }
  }
  return parseYaml(raw);
}

// The Kubernetes target: a thin adapter over @kubernetes/client-node. It lists the objects
// modelship manages in one environment (by label), applies rendered objects with server-side
// apply as field manager `modelship` (never forcing unless the caller says so), reads and deletes
// them. Failures become ExternalError('kubernetes', …) with `retryable` set for what a retry can
// fix (429, 5xx, timeouts, refused connections); a 409 names the field manager that owns the
// contested fields. Retries themselves live in apply.ts. Every call has a timeout.

import {
  ApiException, createConfiguration, KubeConfig, KubernetesObjectApi, PatchStrategy, ServerConfiguration,
  type Configuration, type KubernetesObject as ClientObject, type RequestContext, type SecurityAuthentication,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ExternalError } from '../../errors.js';
import { labels, managerName, type KubernetesObject, type LiveKubernetesObject } from '../../sync/types.js';

/** Where the cluster is and who we are. */
export type KubeConnection =
  /** the pod's service account (KUBERNETES_SERVICE_HOST/PORT, /var/run/secrets/kubernetes.io/serviceaccount) */
  | { kind: 'in-cluster' }
  /** a kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster) and optionally a context in it */
  | { kind: 'kubeconfig'; path?: string; context?: string }
  /** an API server URL and a bearer token; plain http is allowed (loopback stand-ins) */
  | { kind: 'server'; server: string; token: string; caData?: string; skipTLSVerify?: boolean };

/** The kinds modelship manages; listManaged reads each. */
export const managedKinds = [
  { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
] as const;

export const defaultTimeoutMs = 30_000;

/** Where a cluster records its name for modelship (see KubernetesTarget.clusterIdentity). */
export const clusterIdentityConfigMap = { namespace: 'kube-public', name: 'modelship-cluster' } as const;

export function loadKubeConfig(connection?: KubeConnection): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (!connection) {
      kc.loadFromDefault();
    } else if (connection.kind === 'in-cluster') {
      if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
        throw new ExternalError('kubernetes', 'load in-cluster config', 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set', {
          hint: 'in-cluster configuration only works inside a pod; use a kubeconfig (KUBECONFIG) elsewhere',
        });
      }
      kc.loadFromCluster();
    } else if (connection.kind === 'kubeconfig') {
      if (connection.path) kc.loadFromFile(connection.path);
      else {
        // With no kubeconfig at all, client-node quietly falls back to http://localhost and every
        // request then fails with "HTTP protocol is not allowed when skipTLSVerify is not set".
        const fallback = join(homedir(), '.kube', 'config');
        if (!process.env.KUBECONFIG && !existsSync(fallback)) {
          throw new ExternalError('kubernetes', 'load cluster configuration',
            `no Kubernetes context: KUBECONFIG is not set and ${fallback} does not exist; set KUBECONFIG to a kubeconfig (MODELSHIP_KUBE_CONTEXT names a context in it), or MODELSHIP_KUBE_SERVER and MODELSHIP_KUBE_TOKEN for one API server`);
        }
        kc.loadFromDefault();
      }
      if (connection.context) kc.setCurrentContext(connection.context);
    } else {
      kc.loadFromOptions({
        clusters: [{
          name: 'modelship', server: connection.server,
          skipTLSVerify: connection.skipTLSVerify ?? connection.server.startsWith('http:'),
          ...(connection.caData ? { caData: connection.caData } : {}),
        }],
        users: [{ name: 'modelship', token: connection.token }],
        contexts: [{ name: 'modelship', cluster: 'modelship', user: 'modelship' }],
        currentContext: 'modelship',
      });
    }
  } catch (e) {
    if (e instanceof ExternalError) throw e;
    throw new ExternalError('kubernetes', 'load cluster configuration', (e as Error).message, { cause: e });
  }
  if (!kc.getCurrentCluster()) {
    throw new ExternalError('kubernetes', 'load cluster configuration', `no current cluster (context ${JSON.stringify(kc.getCurrentContext())})`, {
      hint: 'set KUBECONFIG or pass a kubeconfig context that names a cluster',
    });
  }
  return kc;
}

/**
 * A client configuration for `kc` whose every request is aborted after `timeoutMs`.
 * (KubeConfig.makeApiClient has no per-request timeout; this adds one as middleware.)
 */
export function apiConfiguration(kc: KubeConfig, timeoutMs = defaultTimeoutMs): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ExternalError('kubernetes', 'configure client', 'no current cluster in the kubeconfig');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: reusingConnections(kc) },
    promiseMiddleware: [{
      pre: async (ctx) => {
        ctx.setHeaderParam('User-Agent', `${managerName}`);
        ctx.setSignal(AbortSignal.timeout(timeoutMs));
        return ctx;
      },
      post: async (rsp) => rsp,
    }],
  });
}

/**
 * The kubeconfig's authentication, with one connection pool per client. client-node 2.x builds a
 * new undici Agent for every request (KubeConfig.applySecurityAuthentication → createDispatcher),
 * so every request opened a new TCP (and TLS) connection: 6,000 connects in a first sync of
 * 4,800 objects. The dispatcher holds only the TLS material of the kubeconfig's cluster and user
 * (headers such as a bearer token are still set per request), so the first one is kept and reused.
 * A user whose credentials come from an exec plugin may get rotated client certificates: that
 * user keeps a dispatcher per request, as client-node makes it.
 */
function reusingConnections(kc: KubeConfig): SecurityAuthentication {
  let shared: ReturnType<RequestContext['getDispatcher']>;
  const reuse = !kc.getCurrentUser()?.exec;
  return {
    getName: () => kc.getName(),
    async applySecurityAuthentication(ctx: RequestContext) {
      await kc.applySecurityAuthentication(ctx);
      if (!reuse) return;
      const made = ctx.getDispatcher();
      if (!made) return;
      if (shared) ctx.setDispatcher(shared);
      else shared = made;
    },
  };
}

/** A Kubernetes `Status` body, as far as modelship reads it. */
interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ type?: string; message?: string; field?: string }>; retryAfterSeconds?: number };
}

function statusBody(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return body ? { message: body } : undefined;
    }
  }
  return body && typeof body === 'object' ? (body as StatusBody) : undefined;
}

const retryableNetworkCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** The field managers named in a server-side apply conflict, with the fields each owns. */
export function conflictOwners(status: StatusBody | undefined): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const c of status?.details?.causes ?? []) {
    if (c.type !== 'FieldManagerConflict') continue;
    const m = /conflict with "([^"]+)"/.exec(c.message ?? '');
    const who = m?.[1] ?? c.message ?? 'another field manager';
    owners.set(who, [...(owners.get(who) ?? []), ...(c.field ? [c.field] : [])]);
  }
  if (!owners.size && status?.message) {
    for (const m of status.message.matchAll(/conflicts? with "([^"]+)"(?: using [^:]+)?:\s*((?:\n?- )?[^\n]+(?:\n- [^\n]+)*)/g)) {
      const fields = m[2]!.split('\n').map((f) => f.replace(/^- /, '').trim()).filter(Boolean);
      owners.set(m[1]!, [...(owners.get(m[1]!) ?? []), ...fields]);
    }
  }
  return owners;
}

/** Maps anything client-node throws to an ExternalError('kubernetes', operation, …). */
export function kubernetesError(operation: string, e: unknown, timeoutMs = defaultTimeoutMs): ExternalError {
  if (e instanceof ExternalError) return e;
  if (e instanceof ApiException) {
    const code = e.code;
    const status = statusBody(e.body);
    const message = status?.message ?? `HTTP ${code}`;
    if (code === 409) {
      const owners = conflictOwners(status);
      if (owners.size) {
        const who = [...owners].map(([m, fields]) => `"${m}" owns ${fields.join(', ') || 'fields modelship sets'}`).join('; ');
        return new ExternalError('kubernetes', operation, `conflict with another field manager: ${who}`, {
          status: code, retryable: false, cause: e,
          hint: `these fields were changed outside modelship (by ${[...owners.keys()].map((m) => `"${m}"`).join(', ')}); modelship applies without force. Undo that change or hand the fields back, or let policy allow forcing`,
        });
      }
      return new ExternalError('kubernetes', operation, message, { status: code, retryable: false, cause: e });
    }
    const retryable = code === 429 || code >= 500;
    const hints: Record<number, string> = {
      401: 'the API server refused the credentials: check the token or kubeconfig',
      403: 'the credentials lack permission (RBAC) for this operation',
      404: 'not found: is the namespace there, and the CRD installed?',
      422: 'the API server rejected the object as invalid',
      429: `the API server is throttling requests${status?.details?.retryAfterSeconds ? `; retry after ${status.details.retryAfterSeconds} s` : ''}`,
    };
    const hint = hints[code];
    return new ExternalError('kubernetes', operation, message, { status: code, retryable, cause: e, ...(hint ? { hint } : {}) });
  }
  const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string; name?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.cause?.name === 'TimeoutError') {
    return new ExternalError('kubernetes', operation, `no answer within ${timeoutMs} ms`, { retryable: true, cause: e });
  }
  if (err?.name === 'AbortError') return new ExternalError('kubernetes', operation, 'request aborted', { retryable: true, cause: e });
  const netCode = err?.cause?.code ?? err?.code;
  if (netCode && retryableNetworkCodes.has(netCode)) {
    return new ExternalError('kubernetes', operation, `${netCode}: ${err.cause?.message ?? err.message ?? ''}`.trim(), { retryable: true, cause: e });
  }
  const cause = err?.cause ? `: ${[err.cause.code, err.cause.message].filter(Boolean).join(' ')}` : '';
  const text = `${err?.message ?? String(e)}${cause}`;
  if (netCode && /CERT|SELF_SIGNED|TLS|SSL/.test(netCode)) {
    return new ExternalError('kubernetes', operation, text, {
      retryable: false, cause: e, hint: 'the API server\'s certificate is not trusted: give the cluster CA (certificate-authority-data in the kubeconfig, or caData)',
    });
  }
  if (/Unrecognized API version and kind/.test(text)) {
    return new ExternalError('kubernetes', operation, text, { retryable: false, cause: e, hint: 'the API server does not serve this kind: is its CRD installed (KServe, Gateway API)?' });
  }
  return new ExternalError('kubernetes', operation, text, { retryable: false, cause: e });
}

type ObjectRef = { apiVersion: string; kind: string; metadata: { name: string; namespace: string } };

const describe = (o: ObjectRef) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`;

/** Plain JSON (no Dates, no class instances), as LiveKubernetesObject. */
function toLive(o: unknown, fallback?: { apiVersion: string; kind: string }): LiveKubernetesObject {
  const plain = JSON.parse(JSON.stringify(o)) as LiveKubernetesObject;
  if (fallback) {
    plain.apiVersion ??= fallback.apiVersion;
    plain.kind ??= fallback.kind;
  }
  return plain;
}

function isNotFound(e: unknown): boolean {
  return e instanceof ApiException && e.code === 404;
}

/** A kind the server does not serve (its CRD is not installed): there can be none of it. */
function isUnserved(e: unknown): boolean {
  if (/Unrecognized API version and kind/.test((e as Error)?.message ?? '')) return true;
  return e instanceof ApiException && e.code === 404 && /Failed to fetch resource metadata/.test(e.message);
}

export interface KubernetesTargetOptions {
  /** per request; default 30 s */
  timeoutMs?: number;
  /** default `modelship` */
  fieldManager?: string;
}

export class KubernetesTarget {
  private readonly api: KubernetesObjectApi;
  private readonly timeoutMs: number;
  private readonly fieldManager: string;

  constructor(kc: KubeConfig, options: KubernetesTargetOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.fieldManager = options.fieldManager ?? managerName;
    this.api = new KubernetesObjectApi(apiConfiguration(kc, this.timeoutMs));
  }

  static connect(connection?: KubeConnection, options?: KubernetesTargetOptions): KubernetesTarget {
    return new KubernetesTarget(loadKubeConfig(connection), options);
  }

  /**
   * Every object of the kinds modelship manages (InferenceServices, HTTPRoutes) in `namespace`,
   * whoever manages them: the planner takes those labelled managed-by=modelship and
   * environment=<environment> as this environment's, and refuses to touch any other object with
   * a name it wants (another environment's, or one modelship does not manage). A kind the cluster
   * does not serve (no Gateway API installed) contributes nothing.
   */
  async listManaged(namespace: string, _environment: string): Promise<LiveKubernetesObject[]> {
    const out: LiveKubernetesObject[] = [];
    for (const k of managedKinds) {
      try {
        const list = await this.api.list(k.apiVersion, k.kind, namespace);
        for (const item of list.items) out.push(toLive(item, k));
      } catch (e) {
        if (isUnserved(e)) continue;
        throw kubernetesError(`list ${k.kind} in ${namespace}`, e, this.timeoutMs);
      }
    }
    return out;
  }

  /**
   * The cluster's name as its administrators recorded it: ConfigMap kube-public/modelship-cluster,
   * key `name` (deploy/ creates it; only cluster admins can write kube-public). Undefined when the
   * ConfigMap is not there. The same read works from a kubeconfig and from inside a pod, unlike a
   * kubeconfig context name; sync compares it with the environment's kubernetes.cluster.
   */
  async clusterIdentity(): Promise<string | undefined> {
    try {
      const cm = await this.api.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: clusterIdentityConfigMap.name, namespace: clusterIdentityConfigMap.namespace } }) as { data?: Record<string, string> };
      return cm.data?.name?.trim() || undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw kubernetesError(`read ConfigMap ${clusterIdentityConfigMap.namespace}/${clusterIdentityConfigMap.name} (the cluster's identity)`, e, this.timeoutMs);
    }
  }

  /**
   * Server-side apply as field manager `modelship`. Without `force` (the default) a field owned
   * by another manager with a different value fails with a 409 naming that manager; only policy
   * may ask for force. `dryRun` asks the server to validate and merge without persisting.
   */
  async apply(obj: KubernetesObject, options: { force?: boolean; dryRun?: boolean } = {}): Promise<LiveKubernetesObject> {
    try {
      const result = await this.api.patch(
        obj as unknown as ClientObject, undefined, options.dryRun ? 'All' : undefined, this.fieldManager,
        options.force === true, PatchStrategy.ServerSideApply,
      );
      return toLive(result, obj);
    } catch (e) {
      throw kubernetesError(`apply ${describe(obj)}`, e, this.timeoutMs);
    }
  }

  /** Every object of one kind in `namespace` (sync's readiness rounds with many objects pending). */
  async list(ref: { apiVersion: string; kind: string; namespace: string }): Promise<LiveKubernetesObject[]> {
    try {
      const list = await this.api.list(ref.apiVersion, ref.kind, ref.namespace);
      return list.items.map((item) => toLive(item, ref));
    } catch (e) {
      throw kubernetesError(`list ${ref.kind} in ${ref.namespace}`, e, this.timeoutMs);
    }
  }

  /** The live object, or undefined when it does not exist. */
  async get(ref: ObjectRef): Promise<LiveKubernetesObject | undefined> {
    try {
      return toLive(await this.api.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.metadata.name, namespace: ref.metadata.namespace } }), ref);
    } catch (e) {
      if (isNotFound(e) && !isUnserved(e)) return undefined;
      throw kubernetesError(`get ${describe(ref)}`, e, this.timeoutMs);
    }
  }

  /** Deletes the object. Idempotent: an object already gone is not an error (a re-run after a crash converges). */
  async remove(ref: ObjectRef): Promise<void> {
    try {
      await this.api.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.metadata.name, namespace: ref.metadata.namespace } });
    } catch (e) {
      if (isNotFound(e) && !isUnserved(e)) return;
      throw kubernetesError(`delete ${describe(ref)}`, e, this.timeoutMs);
    }
  }
}

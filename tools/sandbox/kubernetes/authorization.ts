// What RBAC sees of a request: the stand-in does not authorize (every authenticated caller may do
// anything), but it records each request's authorization attributes the way kube-apiserver
// derives them, so a test can compare what a client did with what a Role grants.
//
// The rules are kube-apiserver's RequestInfoFactory.NewRequestInfo
// (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go):
// - a path under /api/<version> or /apis/<group>/<version> with a resource is a resource request;
//   anything else (/version, /healthz, /api, /apis, /apis/<group>[/<version>] discovery) is a
//   non-resource request, verb = the lowercased method (get, post ...), authorized by path: the
//   system:discovery and system:public-info-viewer ClusterRoles grant discovery to every
//   authenticated user, so a namespaced Role is never asked for it;
// - /namespaces/<ns>/<resource>[/<name>[/<subresource>]], /<resource>[/<name>[/<subresource>]];
//   a leading /watch/ segment (deprecated) makes the verb watch;
// - verb from the method: POST create, GET and HEAD get (list without a name; watch with
//   ?watch=true or 1), PUT update, PATCH patch, DELETE delete (deletecollection without a name);
// - namespaces/<name> itself is the resource "namespaces" named <name>.
// One request may need more than one check: a server-side apply (PATCH, application/apply-patch+yaml)
// of an object that does not exist creates it, and the patch handler then also asks for `create`
// on the same resource and name (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go,
// createAuthorizerAttributes with Verb "create", used for apply patches only). server.ts adds
// that second check when an apply creates.

export interface AuthorizationCheck {
  /** false: a non-resource request, authorized by path (discovery, /version) */
  resourceRequest: boolean;
  verb: string;
  /** '' for the core group */
  apiGroup: string;
  apiVersion: string;
  /** plural resource, e.g. inferenceservices */
  resource: string;
  subresource: string;
  /** '' for a cluster-scoped request or a list across namespaces */
  namespace: string;
  name: string;
  path: string;
}

/** The attributes kube-apiserver's authorizer is asked about for this request (requestinfo.go). */
export function requestAttributes(method: string, path: string, query: Record<string, string>): AuthorizationCheck {
  const m = method.toUpperCase();
  const nonResource: AuthorizationCheck = {
    resourceRequest: false, verb: m.toLowerCase(), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path,
  };
  const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  let apiGroup: string;
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    apiGroup = '';
    apiVersion = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    apiGroup = parts[1]!;
    apiVersion = parts[2]!;
    rest = parts.slice(3);
  } else {
    return nonResource;
  }
  if (!rest.length) return nonResource; // /api/v1, /apis/<g>/<v>: discovery
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let verb: string;
  switch (m) {
    case 'POST': verb = 'create'; break;
    case 'GET': case 'HEAD': verb = 'get'; break;
    case 'PUT': verb = 'update'; break;
    case 'PATCH': verb = 'patch'; break;
    case 'DELETE': verb = 'delete'; break;
    default: verb = '';
  }
  let namespace = '';
  if (rest[0] === 'namespaces') {
    if (rest.length > 1) {
      namespace = rest[1]!;
      // namespaces/<ns> alone is the namespace object itself
      if (rest.length > 2) rest = rest.slice(2);
    }
  }
  const [resource = '', name = '', subresource = ''] = rest[0] === 'namespaces' && rest.length === 2 ? ['namespaces', rest[1]!] : rest;
  if (watchPrefix) verb = 'watch';
  else if (verb === 'get' && !name) verb = query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
  else if (verb === 'delete' && !name) verb = 'deletecollection';
  return { resourceRequest: true, verb, apiGroup, apiVersion, resource, subresource, namespace, name, path };
}

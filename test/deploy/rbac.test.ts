// The agent's Kubernetes permissions (deploy/kubernetes, rendered for production) are exactly what
// it uses: the Kubernetes stand-in records every request as RBAC sees it (verb, API group,
// resource, namespace, name: tools/sandbox/kubernetes/authorization.ts, after kube-apiserver's
// requestinfo.go), the agent's Kubernetes work runs against it (sync creating, changing and
// deleting objects (a canary's InferenceService, a model's route when it stops serving online), the HTTPRoute's weights, the environment's Lease acquired, renewed and
// released, the cluster identity read, a plan), and the recorded checks are compared with the
// Roles bound to the agent's ServiceAccount, both ways.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { KubeConfig } from '@kubernetes/client-node';
import { EnvironmentLease } from '../../src/adapters/kubernetes/lease.js';
import type { AuthorizationCheck } from '../../tools/sandbox/kubernetes/authorization.js';
import { requestAttributes } from '../../tools/sandbox/kubernetes/authorization.js';
import { stage } from '../helpers/stage.js';
import { appInfo, statusOf, until, world } from '../helpers/agent.js';
import { render, type Manifest } from './kubernetes-schema.js';

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
interface Grant { namespace: string; role: string; rule: Rule }

/** The rules of every Role bound (in its namespace) to ServiceAccount modelship/modelship. */
function grants(objects: Manifest[]): Grant[] {
  const out: Grant[] = [];
  for (const b of objects.filter((o) => o.kind === 'RoleBinding')) {
    if (!b.subjects.some((s: { kind: string; name: string; namespace: string }) => s.kind === 'ServiceAccount' && s.name === 'modelship' && s.namespace === 'modelship')) continue;
    const role = objects.find((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name && o.metadata.namespace === b.metadata.namespace);
    if (!role) throw new Error(`RoleBinding ${b.metadata.namespace}/${b.metadata.name} names a Role that is not there`);
    for (const rule of role.rules) out.push({ namespace: b.metadata.namespace, role: role.metadata.name, rule });
  }
  if (objects.some((o) => o.kind === 'ClusterRoleBinding')) throw new Error('the agent must not be bound cluster-wide');
  return out;
}

const resourceOf = (c: AuthorizationCheck) => (c.subresource ? `${c.resource}/${c.subresource}` : c.resource);
const allows = (g: Grant, c: AuthorizationCheck) => g.namespace === c.namespace && g.rule.apiGroups.includes(c.apiGroup)
  && g.rule.resources.includes(resourceOf(c)) && g.rule.verbs.includes(c.verb)
  && (!g.rule.resourceNames?.length || g.rule.resourceNames.includes(c.name));
const label = (ns: string, group: string, resource: string, verb: string, name?: string) =>
  `${verb} ${group || 'core'}/${resource}${name ? ` ${name}` : ''} in ${ns}`;

/** What the Roles allow that nothing used, and what was used that they do not allow; [] and [] when exact. */
export function compare(used: AuthorizationCheck[], granted: Grant[]): { missing: string[]; extra: string[] } {
  const missing = [...new Set(used.filter((c) => !granted.some((g) => allows(g, c)))
    .map((c) => `${label(c.namespace, c.apiGroup, resourceOf(c), c.verb, c.name)} (${c.path})`))].sort();
  const extra: string[] = [];
  for (const g of granted) {
    for (const group of g.rule.apiGroups) for (const resource of g.rule.resources) for (const verb of g.rule.verbs) {
      const names = g.rule.resourceNames?.length ? g.rule.resourceNames : [undefined];
      for (const name of names) {
        const one: Grant = { ...g, rule: { apiGroups: [group], resources: [resource], verbs: [verb], ...(name ? { resourceNames: [name] } : {}) } };
        if (!used.some((c) => allows(one, c))) extra.push(`${label(g.namespace, group, resource, verb, name)} (Role ${g.role})`);
      }
    }
  }
  return { missing, extra: extra.sort() };
}

t.test('the Roles of the production overlay grant exactly the verbs and resources the agent uses', async (t) => {
  const s = await stage(t);
  s.kube.createNamespace('kube-public');
  s.kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'modelship-cluster', namespace: 'kube-public' }, data: { name: 'acme-eks-prod' } });
  const file = join(s.root, 'environments/production.yaml');
  const original = readFileSync(file, 'utf8');
  const stable = '    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n';
  const synced = (r: { code: number | null; stdout: string; stderr: string }, what: string) => t.equal(r.code, 0, r.code === 0 ? what : `${what}: ${r.stdout}${r.stderr}`);

  // a sync on an empty cluster: every object created by server-side apply, the lease taken and given back
  const first = await s.cli('sync', '--env', 'production');
  synced(first, 'sync on an empty cluster');
  // a canary (raw mode: a second InferenceService and the HTTPRoute's weights), then its revert (deleted)
  writeFileSync(file, original.replace(stable, `${stable}    canary: { version: 2026.11.13-1, traffic: 10 }\n`));
  s.git('commit', '-qam', 'canary');
  const canary = await s.cli('sync', '--env', 'production');
  synced(canary, 'sync of the canary');
  writeFileSync(file, original);
  s.git('commit', '-qam', 'Revert "canary"');
  const revert = await s.cli('sync', '--env', 'production');
  synced(revert, 'sync of the revert');
  // the model stops serving online: its InferenceService and HTTPRoute are deleted
  const online = '    online:\n      replicas: { min: 4, max: 20 }\n      scaleMetric: cpu          # raw mode: a HorizontalPodAutoscaler (cpu or memory)\n      scaleTarget: 70\n';
  t.ok(original.includes(online));
  writeFileSync(file, original.replace(online, ''));
  s.git('commit', '-qam', 'fraud-detector: batch scoring only');
  const pruned = await s.cli('sync', '--env', 'production');
  synced(pruned, 'sync of the batch-only model');
  t.same(s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving'), [], 'the route is gone');
  t.equal((await s.cli('plan', '--env', 'production')).code, 0);
  // the agent's leadership: acquire, renew, release
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: s.kube.url, skipTLSVerify: true }], users: [{ name: 'u', token: s.kube.token! }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  const lease = new EnvironmentLease(kc, { namespace: 'ml-serving', environment: 'production', holder: 'modelship-0', durationSeconds: 15 });
  t.match(await lease.acquire(), { acquired: true });
  await lease.renew();
  await lease.release();

  const checks = s.kube.requests.flatMap((r) => r.authorization).filter((c) => c.resourceRequest);
  const verbs = [...new Set(checks.map((c) => `${c.verb} ${c.apiGroup || 'core'}/${resourceOf(c)}`))].sort();
  t.same(verbs, [
    'create coordination.k8s.io/leases', 'create gateway.networking.k8s.io/httproutes', 'create serving.kserve.io/inferenceservices',
    'delete gateway.networking.k8s.io/httproutes', 'delete serving.kserve.io/inferenceservices', 'get coordination.k8s.io/leases', 'get core/configmaps',
    'get gateway.networking.k8s.io/httproutes', 'get serving.kserve.io/inferenceservices', 'list gateway.networking.k8s.io/httproutes',
    'list serving.kserve.io/inferenceservices', 'patch gateway.networking.k8s.io/httproutes', 'patch serving.kserve.io/inferenceservices',
    'update coordination.k8s.io/leases',
  ], 'the scenario exercised every kind of request the agent makes');
  t.same(compare(checks, grants(render('deploy/kubernetes/overlays/production'))), { missing: [], extra: [] });
});

t.test('the agent itself (two replicas, a push handed to the leader, a release on stop) needs nothing the Roles do not grant', async (t) => {
  const w = await world(t);
  w.s.kube.createNamespace('kube-public');
  w.s.kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'modelship-cluster', namespace: 'kube-public' }, data: { name: 'acme-eks-prod' } });
  const a = await w.agent({ holder: 'modelship-0', leaseDurationSeconds: 3 });
  await until('modelship-0 leads and converged', () => statusOf(a).result === 'converged');
  const b = await w.agent({ holder: 'modelship-1', leaseDurationSeconds: 3 });
  await until('modelship-1 saw the holder', () => (b.status() as any).environments.production.holder === 'modelship-0');
  const pushed = w.promote('2026.11.13-1');
  b.pushed({ installationId: appInfo.installationId, cloneUrl: w.origin, after: pushed });
  // The push reaches the leader twice (the other replica's request on the Lease, and its own fetch
  // of main): the second reconcile finds nothing to do ('unchanged'), and on a busy machine it can
  // follow the first before a poll sees 'converged'; the log keeps the first one.
  await until('the leader reconciled the push the other replica got', () => statusOf(a).commit === pushed && ['converged', 'unchanged'].includes(statusOf(a).result!));
  t.ok(w.logs.some((l) => l.includes(`production: converged at ${pushed.slice(0, 12)} in `)), 'the push was applied (writes), by the leader');
  t.match(statusOf(b), { leader: false }, 'the other replica does not lead');
  await a.stop(1000);
  await until('modelship-1 took over', () => statusOf(b).leader);
  await b.stop(1000);
  const checks = w.s.kube.requests.flatMap((r) => r.authorization).filter((c) => c.resourceRequest);
  const verbs = new Set(checks.map((c) => `${c.verb} ${c.apiGroup || 'core'}/${resourceOf(c)}`));
  for (const v of ['get coordination.k8s.io/leases', 'create coordination.k8s.io/leases', 'update coordination.k8s.io/leases', 'get core/configmaps', 'list serving.kserve.io/inferenceservices', 'patch serving.kserve.io/inferenceservices']) {
    t.ok(verbs.has(v), `the agent made ${v}`);
  }
  t.same(compare(checks, grants(render('deploy/kubernetes/overlays/production'))).missing, []);
});

t.test('the comparison names what a Role lacks and what it grants beyond use', async (t) => {
  const used = [
    requestAttributes('DELETE', '/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/a', {}),
    requestAttributes('GET', '/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices', { labelSelector: 'x' }),
    requestAttributes('PUT', '/apis/coordination.k8s.io/v1/namespaces/ml-serving/leases/modelship-staging', {}),
    requestAttributes('GET', '/apis/serving.kserve.io/v1beta1', {}), // discovery: not a resource request
  ].filter((c) => c.resourceRequest);
  const granted: Grant[] = [
    { namespace: 'ml-serving', role: 'r', rule: { apiGroups: ['serving.kserve.io'], resources: ['inferenceservices'], verbs: ['list', 'watch'] } },
    { namespace: 'ml-serving', role: 'r', rule: { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['modelship-production'], verbs: ['update'] } },
  ];
  t.same(compare(used, granted), {
    missing: [
      'delete serving.kserve.io/inferenceservices a in ml-serving (/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/a)',
      'update coordination.k8s.io/leases modelship-staging in ml-serving (/apis/coordination.k8s.io/v1/namespaces/ml-serving/leases/modelship-staging)',
    ],
    extra: [
      'update coordination.k8s.io/leases modelship-production in ml-serving (Role r)',
      'watch serving.kserve.io/inferenceservices in ml-serving (Role r)',
    ],
  });
});

t.test('request attributes follow kube-apiserver\'s rules (requestinfo.go)', async (t) => {
  const a = (method: string, path: string, query: Record<string, string> = {}) => {
    const c = requestAttributes(method, path, query);
    return c.resourceRequest ? `${c.verb} ${c.apiGroup}/${c.resource}${c.subresource ? `/${c.subresource}` : ''} ns=${c.namespace} name=${c.name}` : `non-resource ${c.verb} ${c.path}`;
  };
  t.equal(a('GET', '/api/v1/namespaces/kube-public/configmaps/modelship-cluster'), 'get /configmaps ns=kube-public name=modelship-cluster');
  t.equal(a('GET', '/apis/gateway.networking.k8s.io/v1/namespaces/ml-serving/httproutes'), 'list gateway.networking.k8s.io/httproutes ns=ml-serving name=');
  t.equal(a('GET', '/apis/gateway.networking.k8s.io/v1/namespaces/ml-serving/httproutes', { watch: 'true' }), 'watch gateway.networking.k8s.io/httproutes ns=ml-serving name=');
  t.equal(a('GET', '/apis/apps/v1/watch/namespaces/x/deployments/d'), 'watch apps/deployments ns=x name=d');
  t.equal(a('POST', '/apis/coordination.k8s.io/v1/namespaces/ml-serving/leases'), 'create coordination.k8s.io/leases ns=ml-serving name=');
  t.equal(a('PUT', '/apis/serving.kserve.io/v1beta1/namespaces/n/inferenceservices/i/status'), 'update serving.kserve.io/inferenceservices/status ns=n name=i');
  t.equal(a('PATCH', '/apis/serving.kserve.io/v1beta1/namespaces/n/inferenceservices/i'), 'patch serving.kserve.io/inferenceservices ns=n name=i');
  t.equal(a('DELETE', '/apis/serving.kserve.io/v1beta1/namespaces/n/inferenceservices'), 'deletecollection serving.kserve.io/inferenceservices ns=n name=');
  t.equal(a('GET', '/api/v1/namespaces/n'), 'get /namespaces ns=n name=n');
  t.equal(a('GET', '/apis/serving.kserve.io/v1beta1'), 'non-resource get /apis/serving.kserve.io/v1beta1');
  t.equal(a('GET', '/version'), 'non-resource get /version');
});

// The Kubernetes manifests under deploy/: rendered by `kubectl kustomize` (as `kubectl apply -k`
// renders them), every object valid for the minimum supported Kubernetes (1.25: the README's
// floor for KServe 0.15 and the Gateway API v1.0 CRDs) with no field the API does not know, and
// the Deployment shaped as the install needs it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../helpers/cli.js';
import { kubernetesVersion, problems, render, type Manifest } from './kubernetes-schema.js';

type Obj = Manifest;

const production = render('deploy/kubernetes/overlays/production');
const find = (kind: string, name: string, namespace?: string) => {
  const o = production.find((x) => x.kind === kind && x.metadata?.name === name && (namespace === undefined || x.metadata?.namespace === namespace));
  if (!o) throw new Error(`no ${kind} ${namespace ?? ''}/${name} in the production overlay`);
  return o;
};

t.test(`every object of the production overlay is valid for Kubernetes ${kubernetesVersion}, strictly`, async (t) => {
  t.equal(kubernetesVersion, 'v1.25.0');
  t.same(production.map((o) => `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`).sort(), [
    'ConfigMap modelship/modelship', 'Deployment modelship/modelship', 'Namespace /modelship', 'NetworkPolicy modelship/modelship',
    'PodDisruptionBudget modelship/modelship', 'Role kube-public/modelship-cluster-identity', 'Role ml-serving/modelship-agent',
    'RoleBinding kube-public/modelship-cluster-identity', 'RoleBinding ml-serving/modelship-agent', 'Service modelship/modelship',
    'ServiceAccount modelship/modelship',
  ]);
  for (const o of production) t.same(problems(o), [], `${o.kind} ${o.metadata?.name}`);
  const identity = parseAllDocuments(readFileSync(join(projectRoot, 'deploy/cluster-identity.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
  t.same(identity.flatMap(problems), [], 'deploy/cluster-identity.yaml');
});

t.test(`the staging overlay: valid for Kubernetes ${kubernetesVersion}, production's objects with staging's environment, namespace, Lease, role and settings`, async (t) => {
  const staging = render('deploy/kubernetes/overlays/staging');
  for (const o of staging) t.same(problems(o), [], `${o.kind} ${o.metadata?.name}`);
  const names = (objects: Obj[]) => objects.map((o) => `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`).sort();
  t.same(names(staging), names(production).map((n) => n.replace(' ml-serving/', ' ml-staging/')).sort());
  const of = (objects: Obj[], kind: string, namespace?: string) => objects.find((o) => o.kind === kind && (namespace === undefined || o.metadata?.namespace === namespace))!;
  t.same(of(staging, 'Role', 'ml-staging').rules, JSON.parse(JSON.stringify(of(production, 'Role', 'ml-serving').rules).replaceAll('modelship-production', 'modelship-staging')), 'the same verbs, on staging\'s Lease');
  t.match(of(staging, 'ConfigMap').data, { MODELSHIP_ENVIRONMENTS: 'staging', MODELSHIP_ROLES: 'agent', SNOWFLAKE_WAREHOUSE: 'SCORING_WH_XS', SNOWFLAKE_USER: 'MODELSHIP_AGENT_STAGING' });
  t.equal(of(staging, 'ServiceAccount').metadata.annotations['eks.amazonaws.com/role-arn'], 'arn:aws:iam::123456789012:role/modelship-agent-staging');
  // the namespaces of the Roles are the ones the environment files name
  for (const [overlay, env] of [[production, 'production'], [staging, 'staging']] as const) {
    const file = readFileSync(join(projectRoot, 'environments', `${env}.yaml`), 'utf8');
    const namespace = /^  namespace: (\S+)$/m.exec(file)![1];
    t.ok(overlay.some((o) => o.kind === 'Role' && o.metadata.name === 'modelship-agent' && o.metadata.namespace === namespace), `${env}: the agent's Role is in ${namespace}`);
  }
});

t.test('a misspelt or unknown field fails, naming the field and where it is', async (t) => {
  const deployment = structuredClone(find('Deployment', 'modelship'));
  deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true; // the real field is readOnlyRootFilesystem
  deployment.spec.replicas = 'two';
  t.same(problems(deployment), [
    'spec.replicas: must be integer',
    'spec.template.spec.containers.0.securityContext: unknown field "readOnlyRootFileSystem"',
  ]);
  // A field Kubernetes added after the minimum version fails too (PDB unhealthyPodEvictionPolicy: 1.26).
  const pdb = structuredClone(find('PodDisruptionBudget', 'modelship'));
  pdb.spec.unhealthyPodEvictionPolicy = 'AlwaysAllow';
  t.same(problems(pdb), ['spec: unknown field "unhealthyPodEvictionPolicy"']);
  t.same(problems({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget' }), [
    'apiVersion policy/v1beta1 kind PodDisruptionBudget: not a kind these schemas cover (v1/Namespace, v1/ServiceAccount, v1/ConfigMap, v1/Service, v1/Secret, apps/v1/Deployment, policy/v1/PodDisruptionBudget, networking.k8s.io/v1/NetworkPolicy, rbac.authorization.k8s.io/v1/Role, rbac.authorization.k8s.io/v1/RoleBinding)',
  ]);
});

t.test('the Deployment: 2 replicas on different nodes, probes, limits, a locked-down pod, writable dirs only as volumes', async (t) => {
  const d = find('Deployment', 'modelship', 'modelship');
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  t.ok(d.spec.replicas >= 2, 'two or more replicas');
  t.same(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
  t.same(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels, d.spec.selector.matchLabels);
  t.match(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  t.match(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
  t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, 'requests and a memory limit');
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
  t.same(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  t.same(c.env.find((e: { name: string }) => e.name === 'POD_NAME').valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
  const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
  const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
  t.ok(volumes[mounts['/tmp']].emptyDir && volumes[mounts['/var/lib/modelship']].emptyDir, '/tmp and the mirrors are emptyDirs');
  t.equal(volumes.github.secret.secretName, 'modelship-github');
  t.equal(volumes.snowflake.secret.secretName, 'modelship-snowflake');
  t.same([volumes.github.secret.defaultMode, volumes.snowflake.secret.defaultMode], [0o440, 0o440], 'keys readable by the pod\'s group only');
  for (const [name, path] of [['MODELSHIP_GITHUB_PRIVATE_KEY_FILE', '/etc/modelship/github/'], ['MODELSHIP_WEBHOOK_SECRET_FILE', '/etc/modelship/github/'], ['SNOWFLAKE_PRIVATE_KEY_PATH', '/etc/modelship/snowflake/']]) {
    t.ok(c.env.find((e: { name: string }) => e.name === name).value.startsWith(path), `${name} is a file of a Secret volume`);
  }
  t.equal(c.image, 'ghcr.io/acmerisk/modelship:0.1.0', 'the overlay names the image');
  t.equal(pod.serviceAccountName, 'modelship');
});

t.test('the ServiceAccount carries the overlay\'s IAM role; PDB, NetworkPolicy and Service fit the pod', async (t) => {
  t.match(find('ServiceAccount', 'modelship').metadata.annotations['eks.amazonaws.com/role-arn'], /^arn:aws:iam::\d{12}:role\/modelship-agent-production$/);
  t.same(find('PodDisruptionBudget', 'modelship').spec.minAvailable, 1);
  const labels = find('Deployment', 'modelship').spec.template.metadata.labels;
  const np = find('NetworkPolicy', 'modelship');
  t.same(np.spec.podSelector.matchLabels, { 'app.kubernetes.io/name': labels['app.kubernetes.io/name'] });
  t.same(np.spec.policyTypes, ['Ingress', 'Egress']);
  t.same(np.spec.ingress, [{ ports: [{ port: 8080, protocol: 'TCP' }] }], 'in: the webhook/metrics port only');
  t.same(np.spec.egress.flatMap((r: { ports: Array<{ port: number; protocol: string }> }) => r.ports.map((p) => `${p.port}/${p.protocol}`)),
    ['53/UDP', '53/TCP', '443/TCP', '6443/TCP'], 'out: DNS, HTTPS, the API server');
  t.same(find('Service', 'modelship').spec.selector, { 'app.kubernetes.io/name': 'modelship' });
  const settings = find('ConfigMap', 'modelship', 'modelship').data;
  t.match(settings, { MODELSHIP_REPOSITORY: 'acmerisk/model-releases', MODELSHIP_ENVIRONMENTS: 'production', MODELSHIP_GITHUB_APP_ID: '123456' });
  // no secret in the ConfigMap: secrets are files of Secret volumes (the KMS key is named by its ARN, it never leaves KMS)
  t.same(Object.entries(settings).filter(([k, v]) => /SECRET|PASSWORD|TOKEN|PRIVATE/.test(k) || /BEGIN|PRIVATE KEY/.test(String(v))), []);
  t.match(settings.MODELSHIP_AUDIT_KMS_KEY, /^arn:aws:kms:/);
  // every setting the manifests give is one the product reads (a misspelt name would be ignored silently)
  const source = readdirSync(join(projectRoot, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(projectRoot, 'src', f), 'utf8')).join('\n');
  const given = [...Object.keys(settings), ...find('Deployment', 'modelship').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)];
  t.same(given.filter((name) => !source.includes(`'${name}'`) && !source.includes(`.${name}`)), [], 'no setting the code does not read');
});

#!/usr/bin/env node
// Extracts from a Kubernetes OpenAPI (swagger 2.0) document the definitions of the kinds
// deploy/kubernetes uses, with everything they reference, into the small committed fixture that
// test/deploy/manifests.test.ts validates the rendered manifests against. Descriptions and
// vendor extensions are dropped; nothing else is changed (strictness is added by the test).
//
//   node tools/kubernetes/extract-openapi.mjs SWAGGER.json test/fixtures/kubernetes/openapi-v1.25.0.json
//
// The source used: Kubernetes v1.25.0's api/openapi-spec/swagger.json as vendored by
// kubernetes-client/csharp, commit c404c00bc2604b91dd09772958be3e67c0e02cee ("Version 9.0: Based
// on Swagger 1.25", csharp.settings KUBERNETES_BRANCH=v1.25.0; info.version "v1.25.0"), whose
// kubernetes-client/gen preprocessing shortened the definition names (io.k8s.api.core.v1.PodSpec
// -> v1.PodSpec), inlined primitive models (Time as a date-time string) and turned the two
// string-serialized types into C#-friendly objects ({value: string}); those two are put back as
// Kubernetes defines them (apimachinery: Quantity {type: string}, IntOrString {type: string,
// format: int-or-string}).
import { readFileSync, writeFileSync } from 'node:fs';

const [source, out] = process.argv.slice(2);
if (!source || !out) throw new Error('usage: extract-openapi.mjs SWAGGER.json OUT.json');
const spec = JSON.parse(readFileSync(source, 'utf8'));
const kinds = [
  ['', 'v1', 'Namespace'], ['', 'v1', 'ServiceAccount'], ['', 'v1', 'ConfigMap'], ['', 'v1', 'Service'], ['', 'v1', 'Secret'],
  ['apps', 'v1', 'Deployment'], ['policy', 'v1', 'PodDisruptionBudget'], ['networking.k8s.io', 'v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io', 'v1', 'Role'], ['rbac.authorization.k8s.io', 'v1', 'RoleBinding'],
];
const roots = {};
for (const [group, version, kind] of kinds) {
  const name = Object.keys(spec.definitions).find((n) => (spec.definitions[n]['x-kubernetes-group-version-kind'] ?? [])
    .some((g) => g.group === group && g.version === version && g.kind === kind));
  if (!name) throw new Error(`no definition for ${group || 'core'}/${version} ${kind}`);
  roots[`${group ? `${group}/` : ''}${version}/${kind}`] = name;
}
const upstream = {
  'resource.Quantity': { type: 'string' },
  'intstr.IntOrString': { type: 'string', format: 'int-or-string' },
};
const definitions = {};
const strip = (node) => {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const o = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'description' || k.startsWith('x-')) continue;
    if (k === 'properties') { o[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strip(s)])); continue; }
    o[k] = strip(v);
  }
  return o;
};
const visit = (name) => {
  if (definitions[name]) return;
  const def = spec.definitions[name];
  if (!def) throw new Error(`missing definition ${name}`);
  definitions[name] = upstream[name] ?? strip(def);
  JSON.stringify(def, (k, v) => { if (k === '$ref') visit(v.replace('#/definitions/', '')); return v; });
};
for (const name of Object.values(roots)) visit(name);
writeFileSync(out, JSON.stringify({
  source: 'Kubernetes v1.25.0 api/openapi-spec/swagger.json (info.version ' + spec.info.version + '), as vendored by kubernetes-client/csharp at commit c404c00bc2604b91dd09772958be3e67c0e02cee; Apache License 2.0, The Kubernetes Authors. Subset: the kinds below and what they reference; descriptions and x- extensions removed (tools/kubernetes/extract-openapi.mjs).',
  kubernetesVersion: spec.info.version,
  kinds: roots,
  definitions: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
}, null, 1) + '\n');
console.log(`${Object.keys(definitions).length} definitions for ${Object.keys(roots).length} kinds -> ${out}`);

// package.json's `engines.node` is a promise: modelship runs on every Node it allows. So every
// installed production dependency (ours and the tool workspaces', followed through node_modules
// the way Node resolves them) must accept every one of those versions: its own `engines.node`
// must accept every Node release ours does. Content-type 3.1 and canonicalize 5.1 want Node >= 22, undici 7
// >= 20.18.1, jsep >= 20.16: the old ">=20.10" broke that promise silently. The CI script and the
// workflows must run the Node line the floor names.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import semver from 'semver';
import t from 'tap';
import { projectRoot } from './helpers/cli.js';

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  workspaces?: string[];
}

interface Installed { name: string; version: string; dir: string; node: string | undefined }

const root = realpathSync(projectRoot);
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Node's lookup: `<dir>/node_modules/<name>`, then each parent's, up to the project root. */
function resolve(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

/** Every package reachable from the roots through dependencies, optionalDependencies and peerDependencies. */
function productionTree(roots: string[]): { installed: Installed[]; missing: string[] } {
  const seen = new Map<string, Installed>();
  const missing: string[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (seen.has(dir)) continue;
    const m = readManifest(dir);
    seen.set(dir, { name: m.name ?? relative(root, dir), version: m.version ?? '?', dir, node: m.engines?.node });
    const optional = new Set([
      ...Object.keys(m.optionalDependencies ?? {}),
      ...Object.keys(m.peerDependencies ?? {}), // npm installs peers, but an unmet one is npm's concern, not ours
    ]);
    for (const name of new Set([...Object.keys(m.dependencies ?? {}), ...optional])) {
      const found = resolve(dir, name);
      if (found) queue.push(found);
      else if (!optional.has(name)) missing.push(`${name} (wanted by ${m.name ?? dir})`);
    }
  }
  return { installed: [...seen.values()], missing };
}

/**
 * A Node release `ours` allows and `theirs` refuses, if any. Exact for release versions (Node
 * ships no prereleases to users): membership changes only at the ranges' comparator versions, so
 * each of those and the first release after each is a witness for its interval. Plain
 * semver.subset would count the prereleases between "^22.12.0 || >=23" (c8, yargs) as a gap.
 */
function counterexample(ours: string, theirs: string): string | undefined {
  const bounds = [ours, theirs].flatMap((r) => new semver.Range(r).set.flat().map((c) => c.semver.version)).filter((v): v is string => typeof v === 'string' && v !== '');
  const candidates = new Set(['0.0.0', ...bounds.flatMap((v) => [v, semver.inc(v, 'patch')!].filter((c) => semver.prerelease(c) === null))]);
  return [...candidates].sort(semver.compare).find((v) => semver.satisfies(v, ours) && !semver.satisfies(v, theirs));
}

/** The packages whose `engines.node` does not accept every version `ours` allows, as messages. */
function unmet(ours: string, packages: Installed[]): string[] {
  const problems: string[] = [];
  for (const p of packages) {
    if (p.node === undefined) continue;
    const where = relative(root, p.dir) || '.';
    if (semver.validRange(p.node) === null) { problems.push(`${p.name}@${p.version} (${where}) has an engines.node range semver cannot read: "${p.node}"`); continue; }
    const refused = counterexample(ours, p.node);
    if (refused !== undefined) problems.push(`${p.name}@${p.version} (${where}) wants node "${p.node}", but package.json's engines.node "${ours}" allows versions outside it (e.g. ${refused})`);
  }
  return problems;
}

const pkg = readManifest(root);
const ours = pkg.engines?.node ?? '';
const workspaces = (pkg.workspaces ?? []).map((w) => realpathSync(join(root, w)));

t.test('engines.node is a readable range with a floor', async (t) => {
  t.ok(semver.validRange(ours), `package.json engines.node "${ours}" is a semver range`);
  t.ok(semver.minVersion(ours), 'it has a lowest version');
});

t.test('every installed production dependency accepts every Node that engines.node allows', async (t) => {
  const { installed, missing } = productionTree([root, ...workspaces]);
  t.same(missing, [], 'every production dependency is installed (run npm ci)');
  // A sanity check that the walk went deep: the tree has hundreds of packages, among them the ones
  // that raised the floor to 22.
  t.ok(installed.length > 200, `walked ${installed.length} installed packages`);
  for (const name of ['content-type', 'canonicalize', 'undici', 'jsep']) t.ok(installed.some((p) => p.name === name), `the walk reaches ${name}`);
  const problems = unmet(ours, installed);
  t.same(problems, [], problems.length > 0 ? `raise engines.node or change these dependencies:\n${problems.join('\n')}` : `all ${installed.filter((p) => p.node).length} engines.node ranges contain "${ours}"`);
});

t.test('the check itself: a floor below a dependency\'s is reported with both ranges', async (t) => {
  const fake = (name: string, node: string | undefined): Installed => ({ name, version: '1.0.0', dir: join(root, 'node_modules', name), node });
  const packages = [fake('old', '>=0.6.x'), fake('any', '*'), fake('none', undefined), fake('twentytwo', '>=22'), fake('either', '^20.19 || >=22.12'),
    fake('lines', '^20.19.0 || ^22.12.0 || >=23'), fake('bounded', '>=18 <24'), fake('gap', '^22.12.0 || >=24')];
  t.same(unmet('>=22.12', packages).map((m) => m.split('@')[0]), ['bounded', 'gap'], 'an upper bound or a gap is a problem too: >=22.12 allows 24 and 23');
  t.match(unmet('>=22.12', packages)[0], /\(e\.g\. 24\.0\.0\)$/);
  t.match(unmet('>=22.12', packages)[1], /\(e\.g\. 23\.0\.0\)$/);
  const old = unmet('>=20.10', packages);
  t.same(old.map((m) => m.split('@')[0]), ['twentytwo', 'either', 'lines', 'bounded', 'gap']);
  t.match(old[0], /twentytwo@1\.0\.0 \(node_modules\/twentytwo\) wants node ">=22", but package.json's engines.node ">=20\.10" allows versions outside it \(e\.g\. 20\.10\.0\)/);
  t.match(old[1], /\(e\.g\. 20\.10\.0\)$/);
  t.match(unmet('>=22', [fake('junk', 'not a range')])[0], /semver cannot read: "not a range"/);
});

t.test('.ci/run and the workflows run the Node line that engines.node names', async (t) => {
  const major = semver.minVersion(ours)!.major;
  const ci = readFileSync(join(root, '.ci/run'), 'utf8');
  const wanted = /^node_line=(\d+)$/m.exec(ci);
  t.equal(Number(wanted?.[1]), major, `.ci/run fetches Node ${major}`);
  const dir = join(root, '.github/workflows');
  const versions = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).flatMap((f) =>
    [...readFileSync(join(dir, f), 'utf8').matchAll(/node-version:\s*['"]?([^'"\s#]+)/g)].map((m) => ({ file: f, version: m[1]! })));
  t.ok(versions.length > 0, 'the workflows set up Node');
  for (const v of versions) t.equal(v.version, String(major), `${v.file}: node-version is ${major}, the line engines.node "${ours}" starts (its latest ${major}.x is inside the range)`);
});

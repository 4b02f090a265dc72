// No workflow in this repository holds anything a pull request could take. GitHub runs a pull
// request's own copy of a workflow on `pull_request`, so whatever a workflow may use, the pull
// request may use: a secret, a write token, an OIDC token for a cloud role. The gates are the
// `modelship serve` App's job, not a workflow's. One exception, named here: sync.yml (push to
// main and workflow_dispatch, never a pull request event) until issue #15 removes it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { projectRoot } from './helpers/cli.js';

const dir = join(projectRoot, '.github/workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
/** Workflows allowed secrets and write permissions, and why. Keep it short; remove entries when their issue lands. */
const exceptions: Record<string, string> = { 'sync.yml': 'issue #15: the in-cluster agent replaces it' };
/** Triggers that run with the base repository's secrets and a write token on behalf of a pull request. */
const privilegedTriggers = ['pull_request_target', 'workflow_run'];

type Yaml = Record<string, unknown>;
const load = (f: string) => parse(readFileSync(join(dir, f), 'utf8')) as Yaml;
const triggers = (w: Yaml): string[] => {
  const on = w.on ?? w[true as unknown as string]; // YAML 1.1 readers turn `on` into true; `yaml` keeps it a string
  return typeof on === 'string' ? [on] : Array.isArray(on) ? on.map(String) : Object.keys((on ?? {}) as Yaml);
};
/** Every string in the parsed file (comments are not in it), with where it is. */
function strings(value: unknown, path = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [...strings(k, `${path}.${k}#key`), ...strings(v, `${path}.${k}`)]);
  return [];
}
/** What a `permissions:` value grants beyond reading: ['checks: write', ...]. */
function grants(permissions: unknown): string[] {
  if (permissions === undefined) return [];
  if (typeof permissions === 'string') return permissions === 'read-all' ? [] : [permissions];
  return Object.entries(permissions as Yaml).filter(([, v]) => v !== 'read' && v !== 'none').map(([k, v]) => `${k}: ${String(v)}`);
}

t.test('the workflows are the ones this test knows: ci.yml and the sync exception; check.yml is gone', async (t) => {
  t.same(files, ['ci.yml', 'sync.yml']);
  for (const f of Object.keys(exceptions)) t.ok(files.includes(f), `${f} is still there; when it goes, drop its exception`);
});

for (const f of files.filter((x) => !(x in exceptions))) {
  t.test(`${f}: no secret, no write permission, no OIDC token, no privileged trigger`, async (t) => {
    const w = load(f);
    t.same(triggers(w).filter((x) => privilegedTriggers.includes(x)), [], 'no pull_request_target or workflow_run');
    t.same(strings(w).filter(([, s]) => /\bsecrets\s*\.|\bsecrets\s*\[/.test(s)).map(([p]) => p), [], 'no secrets.* expression');
    t.same(strings(w).filter(([p, s]) => p.endsWith('.secrets') && s === 'inherit').map(([p]) => p), [], 'no secrets: inherit');
    t.ok(w.permissions !== undefined, 'permissions set at the top (the default token may be read-write)');
    t.same(grants(w.permissions), [], 'the workflow token only reads');
    for (const [name, job] of Object.entries((w.jobs ?? {}) as Record<string, Yaml>)) {
      t.same(grants(job.permissions), [], `job ${name}: only reads (no id-token: write, no contents: write)`);
      const uses = [job.uses, ...((job.steps ?? []) as Yaml[]).map((s) => s.uses)].filter((u): u is string => typeof u === 'string');
      t.same(uses.filter((u) => !u.startsWith('./') && !/@[0-9a-f]{40}$/.test(u)), [], `job ${name}: every action pinned by commit`);
    }
  });
}

t.test('the exception, sync.yml, runs on no pull request event: its secrets stay out of reach of a pull request', async (t) => {
  const w = load('sync.yml');
  t.same(triggers(w), ['push', 'workflow_dispatch']);
  t.same((w.on as Yaml).push, { branches: ['main'] }, 'pushes to main only');
  t.match(readFileSync(join(dir, 'sync.yml'), 'utf8'), '# Runs this file from whichever ref the dispatcher picks, with the environments\' secrets: issue #15 removes this workflow', 'the dispatch trigger points to issue #15');
});

t.test('the checks above catch what they are for', async (t) => {
  const bad = parse(`
on: { pull_request_target: {}, push: {} }
permissions: { contents: read }
jobs:
  x:
    permissions: { id-token: write, contents: read }
    steps:
      - uses: actions/checkout@v4
      - run: echo \${{ secrets.TOKEN }}
        env: { A: "\${{ secrets['B'] }}" }
`) as Yaml;
  t.same(triggers(bad).filter((x) => privilegedTriggers.includes(x)), ['pull_request_target']);
  t.same(strings(bad).filter(([, s]) => /\bsecrets\s*\.|\bsecrets\s*\[/.test(s)).map(([p]) => p), ['.jobs.x.steps[1].run', '.jobs.x.steps[1].env.A']);
  const job = (bad.jobs as Record<string, Yaml>).x!;
  t.same(grants(job.permissions), ['id-token: write']);
  t.same(grants('write-all'), ['write-all']);
  t.same(grants({ checks: 'write', contents: 'read' }), ['checks: write']);
});

// No workflow in this repository holds anything a pull request could take, or a deploy
// credential at all. GitHub runs a pull request's own copy of a workflow on `pull_request`, so
// whatever a workflow may use, the pull request may use: a secret, a write token, an OIDC token
// for a cloud role. The gates are the `modelship serve` App's job; deploying is the in-cluster
// agent's (it pulls from main; its credentials never leave the cluster, issue #15), so no
// workflow, whatever its trigger, has a secret, a write permission, an OIDC token, a deployment
// environment or a cloud-credential action. There are no exceptions.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { projectRoot } from './helpers/cli.js';

const dir = join(projectRoot, '.github/workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
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

/** Actions that fetch cloud or cluster credentials: a workflow has no business deploying. */
const credentialActions = /^(aws-actions\/configure-aws-credentials|azure\/login|google-github-actions\/auth|azure\/k8s-set-context|snowflakedb\/)/;
/** Names of deploy credentials modelship's agent uses (in the cluster): none belongs in a workflow. */
const credentialNames = /\b(SNOWFLAKE_PRIVATE_KEY(_PATH)?|SNOWFLAKE_PASSWORD|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_ROLE_ARN|MODELSHIP_KUBE_TOKEN|KUBECONFIG|MODELSHIP_AUDIT_KMS_KEY|role-to-assume)\b/;

t.test('the workflows are the ones this test knows: ci.yml only (check.yml and sync.yml are gone)', async (t) => {
  t.same(files, ['ci.yml']);
});

for (const f of files) {
  t.test(`${f}: no secret, no write permission, no OIDC token, no deployment environment, no credential, no privileged trigger`, async (t) => {
    const w = load(f);
    t.same(triggers(w).filter((x) => privilegedTriggers.includes(x)), [], 'no pull_request_target or workflow_run');
    t.same(strings(w).filter(([, s]) => /\bsecrets\s*\.|\bsecrets\s*\[/.test(s)).map(([p]) => p), [], 'no secrets.* expression');
    t.same(strings(w).filter(([p, s]) => p.endsWith('.secrets') && s === 'inherit').map(([p]) => p), [], 'no secrets: inherit');
    t.ok(w.permissions !== undefined, 'permissions set at the top (the default token may be read-write)');
    t.same(grants(w.permissions), [], 'the workflow token only reads');
    for (const [name, job] of Object.entries((w.jobs ?? {}) as Record<string, Yaml>)) {
      t.same(grants(job.permissions), [], `job ${name}: only reads (no id-token: write, no contents: write)`);
      t.equal(job.environment, undefined, `job ${name}: no deployment environment (they carry environment secrets)`);
      const uses = [job.uses, ...((job.steps ?? []) as Yaml[]).map((s) => s.uses)].filter((u): u is string => typeof u === 'string');
      t.same(uses.filter((u) => !u.startsWith('./') && !/@[0-9a-f]{40}$/.test(u)), [], `job ${name}: every action pinned by commit`);
      t.same(uses.filter((u) => credentialActions.test(u)), [], `job ${name}: no action that fetches cloud credentials`);
    }
    t.same(strings(w).filter(([, s]) => credentialNames.test(s)).map(([p]) => p), [], 'no deploy credential named anywhere');
  });
}

t.test('the checks above catch what they are for', async (t) => {
  const bad = parse(`
on: { pull_request_target: {}, push: {}, workflow_dispatch: {} }
permissions: { contents: read }
jobs:
  x:
    permissions: { id-token: write, contents: read }
    environment: production
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@0123456789abcdef0123456789abcdef01234567
        with: { role-to-assume: "\${{ vars.ROLE }}" }
      - run: echo \${{ secrets.TOKEN }}
        env: { A: "\${{ secrets['B'] }}", SNOWFLAKE_PRIVATE_KEY_PATH: /tmp/key }
`) as Yaml;
  t.same(triggers(bad).filter((x) => privilegedTriggers.includes(x)), ['pull_request_target']);
  t.same(strings(bad).filter(([, s]) => /\bsecrets\s*\.|\bsecrets\s*\[/.test(s)).map(([p]) => p), ['.jobs.x.steps[2].run', '.jobs.x.steps[2].env.A']);
  const job = (bad.jobs as Record<string, Yaml>).x!;
  t.equal(job.environment, 'production');
  t.same(((job.steps ?? []) as Yaml[]).map((s) => s.uses).filter((u): u is string => typeof u === 'string' && credentialActions.test(u)), ['aws-actions/configure-aws-credentials@0123456789abcdef0123456789abcdef01234567']);
  t.same(strings(bad).filter(([, s]) => credentialNames.test(s)).map(([p]) => p), ['.jobs.x.steps[1].with.role-to-assume#key', '.jobs.x.steps[2].env.SNOWFLAKE_PRIVATE_KEY_PATH#key']);
  t.same(grants(job.permissions), ['id-token: write']);
  t.same(grants('write-all'), ['write-all']);
  t.same(grants({ checks: 'write', contents: 'read' }), ['checks: write']);
});

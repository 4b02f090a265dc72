// `modelship validate` through the CLI: exit codes, text and JSON output, --rev without a checkout.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadDesiredState } from '../../src/config/state.js';
import { ValidationError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

t.test('the example repository validates: exit 0', async (t) => {
  const r = await runCli(['validate']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^working tree: 12 files valid\n$/);
  t.equal(r.stderr, '');
});

t.test('all problems, then a summary, exit 1; --json gives the same as data', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const env = join(repo.root, 'environments/staging.yaml');
  writeFileSync(env, readFileSync(env, 'utf8').replace('mode: serverless', 'mode: serverles').replace('version: 2026.11.13-1', 'version: 2026.12.01-1'));
  const policy = join(repo.root, 'policies/production.yaml');
  writeFileSync(policy, readFileSync(policy, 'utf8').replace('soak: 48h', 'soak: two days'));
  const r = await runCli(['validate', '-C', repo.root]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.same(r.stderr.trimEnd().split('\n'), [
    'environments/staging.yaml:8:9  kubernetes.mode  expected one of "serverless", "raw"; found the string "serverles"',
    'environments/staging.yaml:16:14  models.fraud-detector.version  version "2026.12.01-1" of fraud-detector is not registered; expected a registered version of fraud-detector (2026.10.30-1, 2026.11.06-1, 2026.11.13-1), found "2026.12.01-1"',
    'policies/production.yaml:8:9  promotion.soak  expected a duration such as 90s, 15m, 48h, 7d or 1h30m, found the string "two days"',
    'working tree: 3 problems in 2 files (12 files checked)',
  ]);
  const j = await runCli(['validate', '-C', repo.root, '--json']);
  t.equal(j.code, 1);
  const out = JSON.parse(j.stdout);
  t.equal(out.ok, false);
  t.equal(out.errors, 3);
  t.same(out.problems[2], {
    file: 'policies/production.yaml', line: 8, col: 9, path: 'promotion.soak', severity: 'error',
    message: 'expected a duration such as 90s, 15m, 48h, 7d or 1h30m, found the string "two days"',
    expected: 'a duration such as 90s, 15m, 48h, 7d or 1h30m', found: 'the string "two days"',
  });
});

t.test('--rev reads a commit from git, not the working tree', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const good = repo.git('rev-parse', 'HEAD').trim();
  const env = join(repo.root, 'environments/production.yaml');
  writeFileSync(env, readFileSync(env, 'utf8').replace('mode: raw', 'mode: rawr'));
  repo.git('commit', '-qam', 'break production');
  writeFileSync(env, readFileSync(env, 'utf8').replace('mode: rawr', 'mode: raw'));

  const head = await runCli(['validate', '-C', repo.root, '--rev', 'HEAD']);
  t.equal(head.code, 1);
  t.match(head.stderr, /environments\/production\.yaml:9:9  kubernetes\.mode  expected one of "serverless", "raw"; found the string "rawr"/);
  t.match(head.stderr, /HEAD \([0-9a-f]{12}\): 1 problem in 1 file/);
  const tree = await runCli(['validate', '-C', repo.root]);
  t.equal(tree.code, 0, 'the working tree is fixed');
  const old = await runCli(['validate', '-C', repo.root, '--rev', good.slice(0, 8)]);
  t.equal(old.code, 0, old.stderr);
  t.match(old.stdout, new RegExp(`^${good.slice(0, 8)} \\(${good.slice(0, 12)}\\): 12 files valid`));

  const missing = await runCli(['validate', '-C', repo.root, '--rev', 'no-such-branch']);
  t.equal(missing.code, 3);
  t.match(missing.stderr, /^error: git: resolve revision "no-such-branch": no such commit, branch or tag$/m);
});

t.test('base and head can be loaded side by side', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  repo.git('checkout', '-qb', 'promote/staging');
  const env = join(repo.root, 'environments/staging.yaml');
  writeFileSync(env, readFileSync(env, 'utf8').replace('version: 2026.11.13-1', 'version: 2026.11.06-1'));
  repo.git('commit', '-qam', 'roll staging back');
  repo.git('checkout', '-q', 'main');
  const [base, head] = await Promise.all([loadDesiredState(repo.root, 'main'), loadDesiredState(repo.root, 'promote/staging')]);
  t.equal(base.environments.get('staging')!.data.models['fraud-detector']!.version, '2026.11.13-1');
  t.equal(head.environments.get('staging')!.data.models['fraud-detector']!.version, '2026.11.06-1');
  t.same([...head.versions.get('fraud-detector')!.keys()].sort(), ['2026.11.06-1'], 'only pinned versions are read (both environments pin 2026.11.06-1)');
  writeFileSync(env, 'name: [');
  await t.rejects(loadDesiredState(repo.root), ValidationError, 'the working tree is invalid');
});

t.test('the command line: help, version, usage errors', async (t) => {
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  for (const c of ['validate', 'register', 'promote']) t.match(help.stdout, new RegExp(`^  ${c}`, 'm'));
  t.match(help.stdout, /Exit codes: 0 ok, 1 a check failed \(or a sync did not converge\), 2 usage error, 3 an external system failed, 4 another agent holds the environment.s lease/);
  const sub = await runCli(['promote', '--help']);
  t.match(sub.stdout, /--canary <percent>/);
  const version = await runCli(['--version']);
  t.equal(version.stdout.trim(), pkg.version);
  const unknown = await runCli(['validate', '--strict']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /error: unknown option '--strict'/);
  const command = await runCli(['deploy']);
  t.equal(command.code, 2);
  t.match(command.stderr, /error: unknown command 'deploy'/);
});

t.test('an unknown command is a usage error even with --help, with a suggestion', async (t) => {
  const cases: Array<[string[], string]> = [
    [['nosuchcommand', '--help'], "error: unknown command 'nosuchcommand'\n(run with --help for usage)\n"],
    [['-C', '.', 'valdate', '-h'], "error: unknown command 'valdate'\n(Did you mean validate?)\n(run with --help for usage)\n"],
    [['help', 'promot'], "error: unknown command 'promot'\n(Did you mean promote?)\n(run with --help for usage)\n"],
    [['canary', 'wach', '--help'], "error: unknown command 'wach'\n(Did you mean watch?)\n(run with --help for usage)\n"],
  ];
  for (const [args, stderr] of cases) {
    const r = await runCli(args);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.stderr, stderr, args.join(' '));
    t.equal(r.stdout, '', args.join(' '));
  }
  for (const args of [['--help'], ['help', 'validate'], ['canary', 'watch', '--help']]) {
    const r = await runCli(args);
    t.equal(r.code, 0, args.join(' '));
    t.match(r.stdout, /^Usage: modelship /, args.join(' '));
  }
});

t.test('the repository policy is required, strict, and "repository" names no environment', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const file = join(repo.root, 'policies/repository.yaml');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('releaseBranch: main', 'releaseBranch: main\nreleaseBrunch: lax').replace('  default:\n    owners: ["@acmerisk/ml-platform"]\n', '  default:\n    owners: [ml-platform]\n'));
  const bad = await runCli(['validate', '-C', repo.root]);
  t.equal(bad.code, 1);
  t.same(bad.stderr.trimEnd().split('\n'), [
    'policies/repository.yaml:6:1  releaseBrunch  unknown key "releaseBrunch" (did you mean "releaseBranch"?); expected one of: releaseBranch, description, code, policies, environments',
    'policies/repository.yaml:16:14  code.default.owners[0]  expected a GitHub team as @org/team-slug, found the string "ml-platform"',
    'working tree: 2 problems in 1 file (12 files checked)',
  ]);

  rmSync(file);
  const missing = await runCli(['validate', '-C', repo.root]);
  t.equal(missing.code, 1);
  t.same(missing.stderr.trimEnd().split('\n'), [
    'policies/repository.yaml  the repository policy is missing: without it, changes to code, workflows, policies and environment targets have no owner; expected policies/repository.yaml with releaseBranch, code.default.owners, policies.owners and environments.owners, found no such file',
    'working tree: 1 problem in 1 file (11 files checked)',
  ]);

  writeFileSync(file, text);
  writeFileSync(join(repo.root, 'environments/repository.yaml'), readFileSync(join(repo.root, 'environments/staging.yaml'), 'utf8').replace('name: staging', 'name: repository'));
  const reserved = await runCli(['validate', '-C', repo.root]);
  t.equal(reserved.code, 1);
  t.match(reserved.stderr, /^environments\/repository\.yaml {2}"repository" cannot name an environment: policies\/repository\.yaml is the repository policy; expected another environment name, found "repository"$/m);
});

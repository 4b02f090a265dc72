// The README's command examples are this file's output: each scenario runs the built CLI on a
// fresh copy of the example repository and the README block must match it. UPDATE_GOLDEN=1
// rewrites the blocks. Dates are fixed so commit ids are stable.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli, type CliResult } from './helpers/cli.js';
import { readmeExample } from './helpers/golden.js';
import { makeReleaseRepo } from './helpers/repo.js';
import { makeRun } from './helpers/runs.js';
import { startTestS3, type TestS3 } from './helpers/s3.js';

for (const k of ['GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE']) process.env[k] = '2026-11-20T09:00:00Z';
process.env.SOURCE_DATE_EPOCH = String(Date.parse('2026-11-20T09:00:00Z') / 1000);

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3();
});
t.teardown(() => s3.stop());

/** What a user sees in a terminal: the command, stdout and stderr, and the exit code when it is not 0. */
function transcript(command: string, r: CliResult, tidy: (s: string) => string = (s) => s): string {
  const out = tidy(r.stdout + r.stderr).trimEnd();
  return `$ ${command}\n${out}${r.code === 0 ? '' : `\n$ echo $?\n${r.code}`}`;
}

t.test('validate: every problem in one run, then a summary', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const edit = (file: string, from: string, to: string) => {
    const path = join(repo.root, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
  };
  edit('environments/production.yaml', 'version: 2026.11.06-1', 'version: 2026.11.30-1');
  edit('environments/production.yaml', 'replicas: { min: 4, max: 20 }', 'replica: { min: 4, max: 20 }');
  edit('policies/production.yaml', 'count: 2', 'count: two');
  const r = await runCli(['validate', '-C', repo.root]);
  t.equal(r.code, 1);
  readmeExample(t, 'validate', transcript('modelship validate', r));
});

t.test('register, then promote', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const run = makeRun();
  const reg = await runCli(['register', run.dir, '-C', repo.root], { env: { ...s3.env } });
  t.equal(reg.code, 0, reg.stderr);
  readmeExample(t, 'register', transcript('modelship register ./runs/fraud-detector-run-8812', reg, (s) => s.replaceAll(run.dir, './runs/fraud-detector-run-8812')));
  const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '--reason', 'weekly retrain', '-C', repo.root]);
  t.equal(p.code, 0, p.stderr);
  readmeExample(t, 'promote', transcript('modelship promote fraud-detector@2026.11.20-1 --to staging --reason "weekly retrain"', p));
});

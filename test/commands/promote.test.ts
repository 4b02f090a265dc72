// `modelship promote` through the CLI against real git repositories (a bare origin and a clone).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3();
});
t.teardown(() => s3.stop());

async function registered(t: Test) {
  const repo = makeReleaseRepo({ reuse: true }); // a copy: what is tested does not depend on when its first commit was made
  t.teardown(repo.cleanup);
  const run = makeRun();
  const r = await runCli(['register', run.dir, '-C', repo.root], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  return repo;
}

const promote = (root: string, ...args: string[]) => runCli(['promote', ...args, '-C', root]);

t.test('promote to staging: a branch from main, one commit with the pin and the new manifest', async (t) => {
  const repo = await registered(t);
  const main = repo.git('rev-parse', 'main').trim();
  const r = await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^promote\(staging\): fraud-detector 2026\.11\.13-1 → 2026\.11\.20-1\n  branch  promote\/staging\/fraud-detector-2026\.11\.20-1 from main \(checked out\)\n/);
  t.equal(repo.git('rev-parse', '--abbrev-ref', 'HEAD').trim(), 'promote/staging/fraud-detector-2026.11.20-1');
  t.equal(repo.git('rev-parse', 'HEAD~1').trim(), main, 'one commit on top of main');
  t.same(repo.git('diff', '--name-only', 'main', 'HEAD').trim().split('\n').sort(),
    ['environments/staging.yaml', 'models/fraud-detector/versions/2026.11.20-1.yaml']);
  t.equal(repo.git('diff', 'main', 'HEAD', '--', 'environments/staging.yaml').split('\n').filter((l) => /^[-+] /.test(l)).join('\n'),
    '-    version: 2026.11.13-1\n+    version: 2026.11.20-1', 'only the pin line changes');
  t.equal(repo.git('status', '--porcelain'), '', 'the working tree is clean: the manifest moved into the commit');
  const message = repo.git('log', '-1', '--format=%B');
  t.match(message, /^promote\(staging\): fraud-detector 2026\.11\.13-1 → 2026\.11\.20-1\n/);
  t.match(message, /Modelship-Environment: staging\nModelship-Model: fraud-detector\nModelship-Version: 2026\.11\.20-1\nModelship-Change: promote\n/);
  t.equal(repo.git('log', '-1', '--format=%an <%ae>').trim(), 'Ada Engineer <ada@acmerisk.example>');
  const validate = await runCli(['validate', '-C', repo.root]);
  t.equal(validate.code, 0, validate.stderr);
});

t.test('the branch starts from main even when another promotion branch is checked out', async (t) => {
  const repo = await registered(t);
  t.equal((await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging')).code, 0);
  const r = await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'production', '--canary', '5', '--json');
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.branch, 'promote/production/fraud-detector-2026.11.20-1-canary5');
  t.equal(out.change, 'canary-start');
  t.same(out.to, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 5 } });
  t.equal(repo.git('rev-parse', 'HEAD~1').trim(), repo.git('rev-parse', 'main').trim());
  t.notMatch(repo.git('diff', 'main', 'HEAD', '--', 'environments/staging.yaml'), /2026\.11\.20-1/, 'the staging change is not in the production branch');
  t.same(parse(readFileSync(join(repo.root, 'environments/production.yaml'), 'utf8')).models['fraud-detector'].canary, { version: '2026.11.20-1', traffic: 5 });
});

t.test('refusals leave no branch, no commit and an untouched working tree', async (t) => {
  const repo = await registered(t);
  const cases: Array<[string[], number, RegExp, (() => void)?]> = [
    [['fraud-detector@2026.12.24-1', '--to', 'staging'], 1, /error: fraud-detector@2026\.12\.24-1 is not registered \(no models\/fraud-detector\/versions\/2026\.12\.24-1\.yaml\)\nhint: register the training run first/],
    [['fraud-detector@2026.11.20-1', '--to', 'qa'], 1, /error: environment "qa" does not exist on origin\/main \(no environments\/qa\.yaml\)\nhint: environments: production, staging/],
    [['../etc@1', '--to', 'staging'], 2, /error: expected <model>@<version> such as fraud-detector@2026\.11\.20-1, found "\.\.\/etc@1" \("\.\.\/etc" is not a valid model name\)/],
    [['fraud-detector@2026.11.20-1', '--to', '../prod'], 2, /error: --to "\.\.\/prod" is not a valid environment name/],
    [['fraud-detector@2026.11.20-1', '--to', 'staging', '--canary', '80'], 2, /option '--canary <percent>' argument '80' is invalid\. expected a whole percentage from 1 to 50/],
    [['fraud-detector@2026.11.20-1', '--to', 'staging', '--canary', '5', '--shadow'], 2, /option '--canary <percent>' cannot be used with option '--shadow'/],
    [['fraud-detector@2026.11.13-1', '--to', 'staging'], 1, /error: fraud-detector@2026\.11\.13-1 is already the stable version in staging; nothing to promote/],
    [['chargeback-risk@2026.10.15-1', '--to', 'staging', '--canary', '10'], 1,
      /environments\/staging\.yaml:\d+:\d+  models\.chargeback-risk\.canary  a canary splits online traffic, but chargeback-risk is not served online here; expected key "online", found nothing\nerror: the promotion would leave the repository invalid/],
    [['fraud-detector@2026.11.20-1', '--to', 'staging'], 1, /error: environments\/staging\.yaml has uncommitted changes \(M\); a promotion is made from origin\/main and would not include them/,
      () => writeFileSync(join(repo.root, 'environments/staging.yaml'), readFileSync(join(repo.root, 'environments/staging.yaml'), 'utf8') + '# local note\n')],
  ];
  for (const [args, code, message, prepare] of cases) {
    prepare?.();
    const branches = repo.git('branch', '--list');
    const status = repo.git('status', '--porcelain');
    const r = await promote(repo.root, ...args);
    t.equal(r.code, code, `${args.join(' ')} exits ${code}: ${r.stderr}`);
    t.match(r.stderr, message, args.join(' '));
    t.equal(repo.git('branch', '--list'), branches, 'no branch created');
    t.equal(repo.git('status', '--porcelain'), status, 'working tree untouched');
  }
});

t.test('an existing branch needs --force; --force replaces it', async (t) => {
  const repo = await registered(t);
  t.equal((await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging')).code, 0);
  repo.git('checkout', '-q', 'main');
  const again = await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging');
  t.equal(again.code, 1);
  t.match(again.stderr, /error: branch promote\/staging\/fraud-detector-2026\.11\.20-1 already exists\nhint: delete it \(git branch -D promote\/staging\/fraud-detector-2026\.11\.20-1\) or pass --force to replace it/);
  const forced = await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging', '--force', '--reason', 'rebuilt on a newer main');
  t.equal(forced.code, 0, forced.stderr);
  t.match(repo.git('log', '-1', '--format=%B'), /Reason: rebuilt on a newer main/);
});

t.test('--open-pr without a token stops after the local commit and says how to finish', async (t) => {
  const repo = await registered(t);
  const r = await promote(repo.root, 'fraud-detector@2026.11.20-1', '--to', 'staging', '--open-pr');
  t.equal(r.code, 3);
  t.match(r.stdout, /branch  promote\/staging\/fraud-detector-2026\.11\.20-1 from main/);
  t.match(r.stderr, /GITHUB_TOKEN is not set, so the pull request was not opened\./);
  t.match(r.stderr, /git push --set-upstream origin promote\/staging\/fraud-detector-2026\.11\.20-1/);
  t.equal(repo.git('ls-remote', '--heads', 'origin', 'promote/*').trim(), '', 'nothing was pushed');
  t.ok(existsSync(join(repo.root, 'models/fraud-detector/versions/2026.11.20-1.yaml')));
});

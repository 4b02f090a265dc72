// What commands print carries data from git: a commit message can hold escape sequences (clear the
// screen, retitle the window) and bidi overrides (text that reads in another order than it is).
// Through the CLI's print boundary they come out visible, never raw; --json stays JSON with the
// same data. In-process (runCli), on a real git history with the registry in s3rver.
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours, registeredBefore } from '../helpers/clock.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(() => s3.stop());

const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });

t.test('a commit message with an escape sequence and a bidi override: shown escaped by rollback, text and JSON', async (t) => {
  dated(hours(-48));
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  t.equal((await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3.env, ...registeredBefore } })).code, 0);
  const subject = 'Merge promote\x1b[2J\x1b]0;pwned\x07 fraud-detector \u202egnp.exe\u202c';
  for (const [at, to] of [[0, 'staging'], [50, 'production']] as const) {
    dated(hours(at));
    const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', to, '-C', repo.root], { env: s3.env });
    t.equal(p.code, 0, p.stderr);
    repo.git('checkout', '-q', 'main');
    repo.git('merge', '-q', '--no-ff', '-m', to === 'production' ? subject : `Merge ${to}`, `promote/${to}/fraud-detector-2026.11.20-1`);
    repo.git('push', '-q', 'origin', 'main');
  }
  const promotion = repo.git('rev-parse', 'HEAD').trim();
  t.equal(repo.git('log', '-1', '--format=%s'), `${subject}\n`, 'git keeps the bytes as written');

  dated(hours(52));
  const r = await runCli(['rollback', '--env', 'production', '--model', 'fraud-detector', '-C', repo.root], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `\n  reverts  ${promotion.slice(0, 12)} Merge promote\\u001b[2J\\u001b]0;pwned\\u0007 fraud-detector \\u202egnp.exe\\u202c\n`);
  t.notMatch(r.stdout + r.stderr, /[\x1b\x07\u202e\u202c]/, 'no raw control character or bidi override reaches the terminal');

  const j = await runCli(['rollback', '--env', 'production', '--model', 'fraud-detector', '--json', '-C', repo.root], { env: s3.env });
  t.notMatch(j.stdout, /[\x1b\x07\u202e\u202c]/);
  t.equal((JSON.parse(j.stdout) as { plan: { commit: { subject: string } } }).plan.commit.subject, subject, 'JSON says the same data');
});

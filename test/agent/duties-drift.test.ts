// The agent's drift duty, in-process, from a bare mirror of the release repository: the real
// snowflake-sdk against the Snowflake stand-in (a scoring log drawn from the training histograms,
// some of it drifted), the retraining issue through the GitHub App's installation against the
// GitHub stand-in in App mode. Asserted: the log lines, the issue GitHub ends up holding and who
// opened it, when the duty asks to run again.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { load as parseYaml } from 'js-yaml';
import { driftDuty, driftEveryMs, type DutyContext } from '../../src/agent/duties.js';
import { connectApp } from '../../src/adapters/github/app.js';
import type { VersionManifest } from '../../src/config/types.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { projectRoot } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { appKeys } from '../helpers/webhooks.js';
import { chargebackLogSpec, fraudLogSpec, loadLog, makeRows, type Shift } from '../metrics/serving-log.js';

const manifest = (model: string, version: string) => parseYaml(readFileSync(join(projectRoot, `models/${model}/versions/${version}.yaml`), 'utf8')) as VersionManifest;
const fraud = manifest('fraud-detector', '2026.11.06-1');
const chargeback = manifest('chargeback-risk', '2026.10.15-1');
const at = '2026-11-20T00:00:00Z';
const day = { start: new Date('2026-11-19T00:00:00Z'), end: new Date(at) };
const amountsUp: Shift = { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] };
const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const keys = appKeys();
const hour = 3_600_000;

async function stage(t: Test, o: { shifts?: Record<string, Shift>; policy?: (text: string) => string } = {}) {
  const repo = makeReleaseRepo({ reuse: true }); // a copy: what is tested does not depend on when its first commit was made
  t.teardown(repo.cleanup);
  if (o.policy) {
    const file = join(repo.root, 'policies/production.yaml');
    writeFileSync(file, o.policy(readFileSync(file, 'utf8')));
    repo.git('commit', '-qam', 'production: drift schedule');
    repo.git('push', '-q', 'origin', 'main');
  }
  const mirror = join(repo.root, '..', 'mirror.git');
  execFileSync('git', ['clone', '-q', '--bare', repo.origin, mirror]);
  const snow = await startSnowflakeStandIn({
    setup: async (c) => {
      await loadLog(c, 'ANALYTICS.SCORES.FRAUD_SCORES', fraudLogSpec(fraud),
        makeRows(fraudLogSpec(fraud), { n: 4000, version: fraud.version, ...day, seed: 11, ...(o.shifts ? { shifts: o.shifts } : {}) }));
      await loadLog(c, 'ANALYTICS.SCORES.CHARGEBACK_SCORES', chargebackLogSpec(chargeback),
        makeRows(chargebackLogSpec(chargeback), { n: 4000, version: chargeback.version, ...day, seed: 12 }));
    },
  });
  t.teardown(() => snow.stop());
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', apps: [{ ...app, publicKey: keys.publicKey }] });
  t.teardown(() => gh.stop());
  const installation = await (await connectApp({ appId: app.id, privateKey: keys.privateKey, baseUrl: gh.url })).installation(app.installationId);
  const logs: string[] = [];
  const gates: string[] = [];
  const ctx: DutyContext = {
    environment: 'production', mirror, commit: repo.git('rev-parse', 'main').trim(), releaseBranch: 'main', repository: { owner: 'acmerisk', repo: 'model-releases' },
    github: { client: installation.client, token: installation.token, cloneUrl: repo.origin, login: `${app.slug}[bot]` },
    env: { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url },
    now: () => new Date(at), signal: new AbortController().signal, log: (l) => logs.push(l),
    metrics: { reconcile() {}, outOfSync() {}, lastSuccessfulSync() {}, webhook() {}, leader() {}, gate: (g, x) => gates.push(`${g} ${x}`) },
  };
  return { gh, snow, ctx, logs, gates };
}

t.test('a model past its bounds: one retraining issue opened as the App; the next run updates it', async (t) => {
  const { gh, ctx, logs, gates } = await stage(t, { shifts: { txn_amount: amountsUp } });
  const first = await driftDuty(ctx);
  t.same(first, { nextInMs: 6 * hour }, 'production\'s window is 7d: measured every 6h');
  const text = logs.join('\n');
  t.match(text, /^drift production: fraud-detector@2026\.11\.06-1: FAIL: .*txn_amount/m);
  t.match(text, /^drift production: chargeback-risk@2026\.10\.15-1: ok: /m);
  t.match(text, /^drift production: fraud-detector: retraining issue #1 opened: https:\/\/github\.com\/acmerisk\/model-releases\/issues\/1$/m);
  t.same(gates.sort(), ['drift fail', 'drift ok']);
  const issue = gh.state.issues.get(1)!;
  t.equal(issue.user, 'modelship-acme[bot]', 'opened by the App');
  t.match(issue.title, /^retrain fraud-detector: PSI \d\.\d\d on txn_amount$/);
  t.match(issue.body, /<!-- modelship:retrain production\/fraud-detector -->/);

  logs.length = 0;
  const second = await driftDuty(ctx);
  t.same(second, { nextInMs: 6 * hour });
  t.match(logs.join('\n'), /retraining issue #1 updated/);
  t.equal(gh.state.issues.size, 1, 'one issue');
  t.same(gh.requests.filter((r) => r.operationId?.startsWith('issues/')).map((r) => `${r.operationId} ${r.status}`),
    ['issues/list-for-repo 200', 'issues/create 201', 'issues/list-for-repo 200', 'issues/update 200']);
});

t.test('a measurement that fails is UNKNOWN, logged as such, never ok; no issue', async (t) => {
  const { gh, snow, ctx, logs, gates } = await stage(t);
  snow.inject({ match: /FRAUD_SCORES/, code: '000630', sqlState: '57014', message: 'Statement reached its statement or warehouse timeout of 60 second(s) and was canceled.' });
  await driftDuty(ctx);
  t.match(logs.join('\n'), /^drift production: fraud-detector@2026\.11\.06-1: UNKNOWN: not measured: the warehouse query timed out: .*timeout of 60 second\(s\)/m);
  t.notMatch(logs.join('\n'), /fraud-detector@2026\.11\.06-1: ok/);
  t.ok(gates.includes('drift unknown'));
  t.equal(gh.state.issues.size, 0);
});

t.test('no Snowflake connection: UNKNOWN with the reason, and the duty comes again on schedule', async (t) => {
  const { gh, ctx, logs, gates } = await stage(t);
  ctx.env = {};
  const r = await driftDuty(ctx);
  t.same(r, { nextInMs: 6 * hour });
  t.same(logs, ['drift production: UNKNOWN: not measured: drift is measured in the warehouse, but no Snowflake connection is configured for production (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README); next in 6h']);
  t.same(gates, ['drift unknown']);
  t.equal(gh.requests.length, 1, 'only the installation token was asked for');
});

t.test('the policy\'s gates.drift.every sets the schedule; mode: off skips with a log line', async (t) => {
  const every = await stage(t, { policy: (p) => p.replace('    window: 7d\n', '    window: 7d\n    every: 2h\n') });
  t.same(await driftDuty(every.ctx), { nextInMs: 2 * hour });
  const off = await stage(t, { policy: (p) => p.replace('  drift:\n    mode: block\n', '  drift:\n    mode: off\n') });
  t.same(await driftDuty(off.ctx), { nextInMs: 6 * hour });
  t.same(off.logs, ['drift production: not measured: policies/production.yaml sets gates.drift.mode: off; next in 6h']);
  t.equal(off.snow.queries.length, 0, 'nothing reached the warehouse');
});

t.test('a policy whose gates.drift.every is not a duration: UNKNOWN with file, line and field; nothing measured', async (t) => {
  const { ctx, logs, snow, gates } = await stage(t, { policy: (p) => p.replace('    window: 7d\n', '    window: 7d\n    every: soon\n') });
  t.same(await driftDuty(ctx), { nextInMs: 6 * hour });
  t.same(logs, [`drift production: UNKNOWN: not measured: policies/production.yaml at ${ctx.commit.slice(0, 12)} does not validate: line 34, column 12: gates.drift.every: expected a duration such as 90s, 15m, 48h, 7d or 1h30m, found the string "soon"; next in 6h`]);
  t.same(gates, ['drift unknown']);
  t.equal(snow.queries.length, 0);
});

t.test('the schedule: every, else the window capped at 6h (a day by default), never under a minute', async (t) => {
  t.equal(driftEveryMs(undefined), 6 * hour);
  t.equal(driftEveryMs({ window: '2h' }), 2 * hour, 'a short window is measured back to back: no serving data goes unmeasured');
  t.equal(driftEveryMs({ window: '7d' }), 6 * hour);
  t.equal(driftEveryMs({ window: '7d', every: '1d' }), 24 * hour);
  t.equal(driftEveryMs({ every: '1s' }), 60_000);
});

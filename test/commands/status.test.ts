// `modelship status` through the CLI after a real `modelship sync`: the real Kubernetes client
// against the Kubernetes stand-in, the real snowflake-sdk against the Snowflake stand-in (task
// catalog, TASK_HISTORY, MODELSHIP_DEPLOYMENTS and a scoring log in DuckDB), the example
// repository in a real git clone. Asserted: the rows a user sees, the JSON, the exit code.
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { promoteFraudDetector } from '../helpers/stage.js';
import { ranTasks, stage } from '../status/stage.js';

const row = (out: string, model: string) => out.split('\n').find((l) => new RegExp(`^[ !] +${model} `).test(l)) ?? '';

t.test('after a real sync: each model as main pins it, ready, last batch run, drift and deployment; exit 0', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  ranTasks(s);
  const r = await s.cli('status', '--env', 'production');
  t.equal(r.code, 0, r.stdout + r.stderr);
  const commit = s.git('rev-parse', 'HEAD').trim();
  t.match(r.stdout, new RegExp(`^production \\(main at ${commit.slice(0, 12)}\\)\\n {3}MODEL +MAIN +EKS +SNOWFLAKE +CANARY want/live +READY +LAST BATCH RUN +DRIFT +DEPLOYED +STATE\\n`));
  t.match(row(r.stdout, 'fraud-detector'), /^ {3}fraud-detector +2026\.11\.06-1 +2026\.11\.06-1 +2026\.11\.06-1 +— +ready +succeeded \d{4}-\d\d-\d\d \d\d:\d\dZ +ok PSI 0\.\d\d \w+ +\d{4}-\d\d-\d\d \d\d:\d\dZ [0-9a-f]{7} +ok$/);
  t.match(row(r.stdout, 'fraud-detector'), new RegExp(`${commit.slice(0, 7)} +ok$`), 'deployed at the synced commit');
  t.match(row(r.stdout, 'chargeback-risk'), /^ {3}chargeback-risk +2026\.10\.15-1 +— +2026\.10\.15-1 +— +— +succeeded .* +ok$/, 'batch only: no EKS column');
  t.notMatch(r.stdout, /^ {2}!/m, 'no problems listed');

  const json = await s.cli('status', '--env', 'production', '--json');
  t.equal(json.code, 0, json.stderr);
  const snap = JSON.parse(json.stdout);
  const f = snap.environments[0].models.find((m: { model: string }) => m.model === 'fraud-detector');
  t.match(f, {
    environment: 'production', model: 'fraud-detector', state: 'ok', problems: [],
    pinned: { version: '2026.11.06-1', online: true, batch: true },
    online: { version: '2026.11.06-1', ready: true, commit },
    batch: { version: '2026.11.06-1', state: 'started', commit, lastRun: { task: 'MODELSHIP_FRAUD_DETECTOR', state: 'SUCCEEDED' } },
    lastDeployment: { commit, version: '2026.11.06-1' },
    drift: { status: 'ok' },
  });
  const history = s.snow.queries.filter((q) => /INFORMATION_SCHEMA\.TASK_HISTORY/.test(q.sqlText));
  t.ok(history.length >= 1 && history.every((q) => !q.error), 'TASK_HISTORY answered');
});

t.test('a busy account: ten thousand newer runs of other tasks do not hide the last batch run', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  ranTasks(s);
  // Another team's task in another database that runs every minute: TASK_HISTORY answers for the
  // whole account, newest first, 10,000 rows at most.
  s.snow.tasks.execute("CREATE TASK EVENTS.INGEST.LOAD_CLICKS WAREHOUSE = ETL_WH SCHEDULE = '1 MINUTE' AS SELECT 1", []);
  const start = Date.now() - 10_001 * 60_000;
  for (let i = 0; i < 10_001; i++) s.snow.tasks.recordRun('EVENTS.INGEST.LOAD_CLICKS', { state: 'SUCCEEDED', scheduledTime: new Date(start + i * 60_000) });
  const json = await s.cli('status', '--env', 'production', '--json', '--no-drift');
  t.equal(json.code, 0, json.stderr);
  const models = JSON.parse(json.stdout).environments[0].models as Array<{ model: string; batch?: { lastRun?: { task: string; state: string } } }>;
  t.match(models.find((m) => m.model === 'fraud-detector')?.batch, { lastRun: { task: 'MODELSHIP_FRAUD_DETECTOR', state: 'SUCCEEDED' } });
  t.match(models.find((m) => m.model === 'chargeback-risk')?.batch, { lastRun: { task: 'MODELSHIP_CHARGEBACK_RISK', state: 'SUCCEEDED' } });
  const history = s.snow.queries.filter((q) => /INFORMATION_SCHEMA\.TASK_HISTORY/.test(q.sqlText));
  t.ok(history.length && history.every((q) => /TASK_NAME => 'MODELSHIP_[A-Z_]+'/.test(q.sqlText) && !q.error), 'read by TASK_NAME');
});

t.test('a hand edit of a managed object: that row is out of sync and says why; exit 1', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const isvc = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  const r = await s.cli('status', '--env', 'production', '--no-drift');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(row(r.stdout, 'fraud-detector'), /^! {2}fraud-detector .* OUT-OF-SYNC$/);
  t.match(row(r.stdout, 'chargeback-risk'), /^ {3}chargeback-risk .* ok$/);
  t.match(r.stdout, /^ {2}! fraud-detector: InferenceService fraud-detector-2026-11-06-1-[0-9a-f]{6}: differs \(edited outside modelship \(drift\)/m);
});

t.test('main moved on and nothing synced yet: out of sync, naming both versions', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  promoteFraudDetector(s, '2026.11.13-1');
  const r = await s.cli('status', '--env', 'production', '--no-drift');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(row(r.stdout, 'fraud-detector'), /^! {2}fraud-detector +2026\.11\.13-1 +2026\.11\.06-1 +2026\.11\.06-1 .* OUT-OF-SYNC$/);
  t.match(r.stdout, /fraud-detector: task ML_PROD\.SCORING\.MODELSHIP_FRAUD_DETECTOR: differs/);
});

t.test('split brain: EKS and Snowflake run different versions longer than a sync takes', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  promoteFraudDetector(s, '2026.11.13-1', 'promote');
  // The new version reaches EKS; Snowflake refuses the task change.
  s.snow.inject({ match: /CREATE OR ALTER TASK/i, code: '003001', message: 'Insufficient privileges to operate on task MODELSHIP_FRAUD_DETECTOR', times: 10 });
  const sync = await s.cli('sync', '--env', 'production');
  t.equal(sync.code, 1, 'the sync did not converge');

  const soon = await s.cli('status', '--env', 'production', '--no-drift');
  t.match(soon.stdout, /~ fraud-detector: EKS serves 2026\.11\.13-1, Snowflake scores with 2026\.11\.06-1 for \dm: a sync is under way/, 'within a sync\'s time: converging');
  const later = await s.cli('status', '--env', 'production', '--no-drift', '--at', new Date(Date.now() + 3_600_000).toISOString());
  t.equal(later.code, 1, later.stdout + later.stderr);
  t.match(row(later.stdout, 'fraud-detector'), /^! {2}fraud-detector +2026\.11\.13-1 +2026\.11\.13-1 +2026\.11\.06-1 .* SPLIT-BRAIN$/);
  t.match(later.stdout, /! fraud-detector: split brain: EKS serves 2026\.11\.13-1, Snowflake scores with 2026\.11\.06-1 for 6\dm \(a sync takes at most 15m\)/);
});

t.test('unhealthy: a failed last batch run and a suspended task stand out', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  ranTasks(s, 'FAILED', 'Uncaught exception in SCORE_WITH_MODEL: model.json sha256 mismatch');
  s.snow.tasks.suspend('ML_PROD.SCORING.MODELSHIP_CHARGEBACK_RISK');
  const r = await s.cli('status', '--env', 'production', '--no-drift');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(row(r.stdout, 'fraud-detector'), /^! {2}fraud-detector .* failed \d{4}-\d\d-\d\d \d\d:\d\dZ .* UNHEALTHY$/);
  t.match(r.stdout, /! fraud-detector: Snowflake task MODELSHIP_FRAUD_DETECTOR: last run failed: Uncaught exception in SCORE_WITH_MODEL: model\.json sha256 mismatch/);
  t.match(row(r.stdout, 'chargeback-risk'), /^! {2}chargeback-risk +2026\.10\.15-1 +— +2026\.10\.15-1 \(suspended\) .* UNHEALTHY$/);
  t.match(r.stdout, /! chargeback-risk: Snowflake task MODELSHIP_CHARGEBACK_RISK is suspended: it runs nothing/);
});

t.test('Kubernetes API unreachable: each online row says so, Snowflake is still read; exit 3', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
  const r = await runCli(['status', '--env', 'production', '--no-drift', '--timeout', '3s', '-C', s.root], { env: { ...s.env, MODELSHIP_KUBE_SERVER: `http://127.0.0.1:${closed}` } });
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.notMatch(r.stderr, /internal error/);
  t.match(row(r.stdout, 'fraud-detector'), /^! {2}fraud-detector +2026\.11\.06-1 +unknown +2026\.11\.06-1 +— +unknown .* UNKNOWN$/);
  t.match(r.stdout, /^ {2}! cannot read kubernetes: kubernetes: list InferenceService in ml-serving: ECONNREFUSED/m);
  t.match(r.stdout, /! fraud-detector: EKS: cannot read live state: kubernetes: list InferenceService in ml-serving: ECONNREFUSED/);
  t.match(row(r.stdout, 'chargeback-risk'), /^ {3}chargeback-risk +2026\.10\.15-1 +— +2026\.10\.15-1 .* ok$/, 'a batch-only model is unaffected');
});

t.test('before any sync: not deployed, out of sync; the missing deployment log is no error', async (t) => {
  const s = await stage(t);
  const r = await s.cli('status', '--env', 'staging', '--no-drift');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(row(r.stdout, 'fraud-detector'), /^! {2}fraud-detector +2026\.11\.13-1 +not deployed +not deployed .* OUT-OF-SYNC$/);
  t.match(r.stdout, /fraud-detector: InferenceService fraud-detector: missing \(not found\)/);
  t.notMatch(r.stdout, /cannot read/);
});

t.test('bad input: exit 2 with a clear message', async (t) => {
  const s = await stage(t);
  const cases: Array<[string[], RegExp]> = [
    [['--env', 'prod'], /error: no such environment: prod; environments: production, staging/],
    [['--sync-grace', 'soon'], /error: --sync-grace "soon" is not a duration/],
    [['--at', 'noon'], /error: --at "noon" is not a time/],
  ];
  for (const [args, message] of cases) {
    const r = await s.cli('status', ...args);
    t.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.match(r.stderr, message);
  }
});

t.test('no kubeconfig at all: says there is no Kubernetes context and how to give one; exit 3', async (t) => {
  const home = t.testdir({});
  const r = await runCli(['status', '--env', 'production'], { env: { HOME: home, KUBECONFIG: '' } });
  t.equal(r.code, 3, r.stdout + r.stderr);
  const why = `kubernetes: load cluster configuration: no Kubernetes context: KUBECONFIG is not set and ${join(home, '.kube', 'config')} does not exist;`
    + ' set KUBECONFIG to a kubeconfig (MODELSHIP_KUBE_CONTEXT names a context in it), or MODELSHIP_KUBE_SERVER and MODELSHIP_KUBE_TOKEN for one API server';
  t.ok(r.stdout.split('\n').includes(`  ! cannot read kubernetes: ${why}`), r.stdout);
  t.ok(r.stdout.split('\n').includes(`  ! fraud-detector: EKS: cannot read live state: ${why}`), r.stdout);
  t.notMatch(r.stdout, /skipTLSVerify/);
});

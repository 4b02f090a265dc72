// GET /metrics of a running `modelship serve`: after a signed webhook and the evaluation it
// queued, the scrape carries the webhook's handling time and the report's gate results, in
// Prometheus' text format, linted by Prometheus' own promtool (Debian's `prometheus` package;
// .ci/run installs it). Also the Metrics object on its own: names, labels, bounded label values.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import t from 'tap';
import { createMetrics, metricNames, noMetrics } from '../../src/serve/metrics.js';
import { defaultMaxPayloadBytes, startService } from '../../src/serve/service.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3 } from '../helpers/s3.js';
import { appKeys, deliver, pullRequestEvent } from '../helpers/webhooks.js';

const promtool = (process.env.PATH ?? '').split(':').map((d) => join(d, 'promtool')).find((p) => existsSync(p));
const noPromtool = promtool ? false : 'promtool is not installed (Debian package prometheus, as .ci/run installs it): the exposition is not linted';

/** promtool check metrics on the text: its exit code and its complaints, one per line. */
function lint(text: string): Promise<{ code: number; problems: string[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtool!, ['check', 'metrics'], (e, stdout, stderr) => {
      const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0;
      if (code === -1) return reject(e);
      resolve({ code, problems: `${stdout}${stderr}`.split('\n').map((l) => l.trim()).filter(Boolean) });
    });
    child.stdin!.end(text);
  });
}

/** The samples of one metric family, as `name{labels} value` lines. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

// prom-client's default Node.js gauges are named *_total (prom-client's choice, not ours):
// promtool's naming lint flags exactly these, nothing of modelship's.
const promClientNames = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

t.test('the metrics, their names and labels, in the exposition format promtool accepts', async (t) => {
  const m = createMetrics();
  m.reconcile('staging', 'converged', 1.5);
  m.reconcile('staging', 'refused', 0.2);
  m.outOfSync('staging', 3);
  m.lastSuccessfulSync('staging', new Date('2026-12-06T06:00:00Z'));
  m.webhook('push', 0.004);
  m.gate('approvals', 'fail');
  m.gate('approvals', 'fail');
  m.leader('production', true);
  m.leader('staging', false);
  // A label value that is not a name cannot multiply series: folded into "other".
  m.webhook('x"}\nevil 1', 0.001);
  const { contentType, body } = await m.render();
  t.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.same(samples(body, `${metricNames.reconcileDuration}_count`), [
    'modelship_reconcile_duration_seconds_count{environment="staging",result="converged"} 1',
    'modelship_reconcile_duration_seconds_count{environment="staging",result="refused"} 1',
  ]);
  t.same(samples(body, metricNames.outOfSync), ['modelship_objects_out_of_sync{environment="staging"} 3']);
  t.same(samples(body, metricNames.lastSuccessfulSync), [`modelship_last_successful_sync_timestamp_seconds{environment="staging"} ${Date.parse('2026-12-06T06:00:00Z') / 1000}`]);
  t.same(samples(body, `${metricNames.webhookDuration}_count`), [
    'modelship_webhook_duration_seconds_count{event="push"} 1',
    'modelship_webhook_duration_seconds_count{event="other"} 1',
  ]);
  t.same(samples(body, metricNames.gateResults), ['modelship_gate_results_total{gate="approvals",outcome="fail"} 2']);
  t.same(samples(body, metricNames.leader), ['modelship_leader{environment="production"} 1', 'modelship_leader{environment="staging"} 0']);
  t.match(body, /^process_cpu_seconds_total \d/m, 'the default process metrics are there');
  t.notMatch(body, /evil/, 'nothing of the odd label value reaches the text');

  const other = createMetrics();
  t.same(samples((await other.render()).body, metricNames.leader), [], 'each registry is its own (not prom-client\'s global one)');
  t.doesNotThrow(() => { noMetrics.reconcile('x', 'error', 1); noMetrics.gate('a', 'b'); }, 'noMetrics takes everything and keeps nothing');

  await t.test('promtool check metrics', { skip: noPromtool }, async (t) => {
    const linted = await lint(body);
    t.same(linted.problems.filter((p) => !promClientNames.test(p)), [], 'promtool finds nothing wrong with modelship\'s metrics');
    const ours = body.split(/\n(?=# HELP )/).filter((family) => family.startsWith('# HELP modelship_')).join('\n') + '\n';
    t.same(await lint(ours), { code: 0, problems: [] }, 'modelship\'s families alone lint clean');
  });
});

t.test('GET /metrics of a running service after a webhook and an evaluation', async (t) => {
  const owner = 'acmerisk';
  const name = 'model-releases';
  const branch = 'promote/staging/fraud-detector-2026.11.20-1';
  const secret = 'whsec-modelship-test';
  const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
  const keys = appKeys();
  const savedEnv = { ...process.env };
  const s3 = await startCheckerS3({ seedArtifacts: false });
  const repo = makeReleaseRepo();
  t.teardown(async () => {
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    await s3.stop();
    repo.cleanup();
  });
  const registered = await runCli(['register', makeRun().dir, '-C', repo.root], { env: s3.env });
  t.equal(registered.code, 0, registered.stderr);
  const promoted = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '-C', repo.root], { env: s3.env });
  t.equal(promoted.code, 0, promoted.stderr);
  const head = repo.git('rev-parse', branch).trim();
  const base = repo.git('rev-parse', 'main').trim();
  repo.git('push', '-q', 'origin', `${branch}:refs/pull/1/head`);
  Object.assign(process.env, s3.env);

  const gh = await startGitHub({
    owner, repo: name, token: 'ghp_ada', login: 'ada',
    teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['grace'] },
    apps: [{ ...app, publicKey: keys.publicKey }],
  });
  gh.setBranch('main', base);
  const ada = new Octokit({ baseUrl: gh.url, auth: 'ghp_ada', log: { debug() {}, info() {}, warn() {}, error() {} } });
  const pr = await ada.rest.pulls.create({ owner, repo: name, head: branch, base: 'main', title: 'promote(staging): fraud-detector' });
  gh.setBranch(branch, head);
  gh.setCommit(head, { author: 'ada', committer: 'ada' });
  const mirrorDir = mkdtempSync(join(tmpdir(), 'modelship-mirrors-'));
  const service = await startService({
    appId: app.id, privateKey: keys.privateKey, webhookSecret: secret, apiUrl: gh.url, listen: '127.0.0.1:0', mirrorDir,
    concurrency: 1, maxPayloadBytes: defaultMaxPayloadBytes, log: () => {},
  });
  t.teardown(async () => {
    await service.stop(5000);
    await gh.stop();
    rmSync(mirrorDir, { recursive: true, force: true });
  });

  const before = await fetch(`${service.url}/metrics`);
  t.equal(before.status, 200);
  t.equal(samples(await before.text(), `${metricNames.webhookDuration}_count`).length, 0, 'no webhook yet');

  const target = { owner, repo: name, cloneUrl: repo.origin, installationId: app.installationId };
  const opened = await deliver(service.webhookUrl, 'pull_request', pullRequestEvent(target, { number: pr.data.number, head, headRef: branch, base }, 'opened'), secret);
  t.equal(opened.status, 202);
  const unsigned = await deliver(service.webhookUrl, 'pull_request', {}, secret, { signature: null });
  t.equal(unsigned.status, 401);
  await service.queue.idle();
  t.equal(gh.state.checkRuns.length, 1, 'the evaluation posted its check run');

  const scraped = await fetch(`${service.url}/metrics`);
  t.equal(scraped.status, 200);
  t.equal(scraped.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await scraped.text();
  t.same(samples(text, `${metricNames.webhookDuration}_count`), ['modelship_webhook_duration_seconds_count{event="pull_request"} 1'],
    'one signed delivery timed; the unsigned one is not');
  // The report's gates, as the check run shows them: approvals fails (no review yet); the others by their own outcome.
  const gates = samples(text, metricNames.gateResults);
  t.ok(gates.includes('modelship_gate_results_total{gate="approvals",outcome="fail"} 1'), gates.join('\n'));
  t.ok(gates.length >= 2, 'every gate of the report counted');
  t.match(text, /^process_resident_memory_bytes \d/m);
  t.equal((await fetch(`${service.url}/metrics`, { method: 'POST' })).status, 405);

  await t.test('promtool check metrics on the scrape', { skip: noPromtool }, async (t) => {
    const linted = await lint(text);
    t.same(linted.problems.filter((p) => !promClientNames.test(p)), [], 'promtool parses the scrape and finds nothing wrong with modelship\'s metrics');
  });
});

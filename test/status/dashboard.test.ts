// `modelship status --html DIR` opened in headless Chromium (Debian's, driven by playwright-core):
// production after a real sync with a canary at 10%, a drifted feature in the scoring log, and a
// real Prometheus holding the canary's request metrics. The test reads the page as a person
// would (the matrix, the timeline, the PSI bars, the canary charts), checks that it loads nothing
// from the network and fits a laptop screen, and keeps a screenshot in test/artifacts/
// (UPDATE_GOLDEN=1 also writes docs/status-dashboard.png for the README).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot, runCli } from '../helpers/cli.js';
import { missingBinaries, openMetrics, startPrometheus, type Series } from '../adapters/prometheus-server.js';
import { ranTasks, stage } from './stage.js';
import { inferenceServiceName, predictorServiceName } from '../../src/sync/render/kubernetes.js';

const chromium = '/usr/bin/chromium';
const missing = [...(existsSync(chromium) ? [] : ['chromium']), ...missingBinaries()];
const artifacts = join(projectRoot, 'test/artifacts');

// The snapshot is taken as of a whole minute a little in the past: Prometheus answers for samples
// that lie before the query time.
const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 2 * 60_000);

/** The canary (2026.11.13-1) and the stable version serving for the last 90 minutes; the canary's errors creep up. */
function canaryMetrics(): string {
  const first = at.getTime() - 90 * 60_000;
  const times: Date[] = [];
  for (let x = first; x <= at.getTime(); x += 30_000) times.push(new Date(x));
  // production is raw mode behind an Istio gateway: the gateway's series per backend Service
  // (the version's predictor Service), and the KServe model server's own predict histogram.
  const service = (version: string) => predictorServiceName(inferenceServiceName('raw', 'fraud-detector', version));
  const labels = (version: string) => ({
    reporter: 'source', source_workload: 'ml-gateway-istio', source_workload_namespace: 'gateway-system',
    destination_service: `${service(version)}.ml-serving.svc.cluster.local`, destination_service_name: service(version), destination_service_namespace: 'ml-serving',
    destination_workload: service(version), destination_workload_namespace: 'ml-serving', request_protocol: 'http', response_flags: '-',
  });
  const counter = (perSecond: (ms: number) => number) => {
    let total = 0;
    return times.map((time, i): [Date, number] => {
      if (i > 0) total += perSecond(time.getTime() - first) * 30;
      return [time, Math.round(total)];
    });
  };
  const requests: Series[] = [];
  const latencies: Series[] = [];
  const predict: Series[] = [];
  for (const [version, rps] of [['2026.11.06-1', 18], ['2026.11.13-1', 2]] as const) {
    const errors = (ms: number) => (version === '2026.11.13-1' ? 0.002 + 0.008 * (ms / (90 * 60_000)) : 0.002);
    requests.push({ name: 'istio_requests_total', labels: { ...labels(version), response_code: '200' }, samples: counter((ms) => rps * (1 - errors(ms))) });
    requests.push({ name: 'istio_requests_total', labels: { ...labels(version), response_code: '503' }, samples: counter((ms) => rps * errors(ms)) });
    ['50', '100', '150', '250', '500', '+Inf'].forEach((le, i) => latencies.push({
      name: 'istio_request_duration_milliseconds_bucket', labels: { ...labels(version), response_code: '200', le }, samples: counter(() => rps * [0.6, 0.95, 0.995, 0.999, 1, 1][i]!),
    }));
    const pod = { namespace: 'ml-serving', pod: `${service(version)}-6c9f7d8b5d-k2x9q`, container: 'kserve-container', model_name: 'fraud-detector' };
    ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '+Inf'].forEach((le, i) => predict.push({
      name: 'request_predict_seconds_bucket', labels: { ...pod, le }, samples: counter(() => rps * [0.2, 0.6, 0.95, 0.995, 0.999, 1, 1][i]!),
    }));
  }
  return openMetrics([
    { name: 'istio_requests_total', type: 'counter', series: requests },
    { name: 'istio_request_duration_milliseconds', type: 'histogram', series: latencies },
    { name: 'request_predict_seconds', type: 'histogram', series: predict },
  ]);
}

t.test('the dashboard: matrix, timeline, PSI bars and canary metrics, offline, on a laptop screen', { skip: missing.length ? `${missing.join(', ')} not installed` : false }, async (t) => {
  const s = await stage(t, {
    shifts: { txn_amount: { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] } },
    // The decline-rate check reads authorisations from the warehouse, per interval: an hour and a bit of them, by the real clock.
    setup: async (c) => {
      await c.run("ATTACH ':memory:' AS ANALYTICS_D; CREATE SCHEMA IF NOT EXISTS ANALYTICS.DECISIONS");
      await c.run('CREATE TABLE ANALYTICS.DECISIONS.AUTHORISATIONS (model VARCHAR, version VARCHAR, decision VARCHAR, ts TIMESTAMPTZ)');
      await c.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATIONS
        SELECT 'fraud-detector', IF(i % 10 = 0, '2026.11.13-1', '2026.11.06-1'), IF(i % 37 = 0 OR i % 41 = 0, 'decline', 'approve'), now() - INTERVAL (i) SECOND
        FROM range(1, 3700) t(i)`);
    },
  });
  const prometheus = await startPrometheus(canaryMetrics());
  t.teardown(() => prometheus.stop());

  // Production runs 2026.11.06-1 with a 10% canary of 2026.11.13-1, synced for real; then a later promotion of chargeback-risk.
  const file = join(s.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n',
    '    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n    canary: { version: 2026.11.13-1, traffic: 10 }\n'));
  s.git('commit', '-qam', 'canary(production): fraud-detector 2026.11.13-1 at 10%');
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2026.10.15-1', 'version: 2026.11.01-1'));
  s.git('commit', '-qam', 'promote(production): chargeback-risk 2026.10.15-1 → 2026.11.01-1');
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  ranTasks(s);

  const dir = join(artifacts, 'dashboard');
  const r = await runCli(['status', '--env', 'production', '--html', dir, '--at', at.toISOString(), '--prometheus-url', prometheus.url, '-C', s.root], { env: s.env });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stderr, new RegExp(`dashboard written to ${dir}/index\\.html`));
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  t.notMatch(html, /<script|https?:\/\/(?!www\.w3\.org)|<link /, 'self-contained: no script, no external resource');

  const { chromium: browser } = await import('playwright-core');
  const b = await browser.launch({ executablePath: chromium, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  t.teardown(() => b.close());
  const page = await b.newPage({ viewport: { width: 1440, height: 900 } });
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(`file://${dir}/index.html`);

  t.equal(await page.title(), `modelship status — ${at.toISOString().slice(0, 16)}Z`);
  t.match(await page.textContent('[data-testid=summary]'), /2 ok\s*0 need attention\s*0 unknown/);
  const fraud = (await page.textContent('tr[data-model=fraud-detector]'))!;
  t.match(fraud, /2026\.11\.06-1.*2026\.11\.06-1.*2026\.11\.06-1.*10%\/10%.*ready.*succeeded.*fail PSI \d\.\d\d txn_amount.*ok$/);
  t.match(await page.textContent('tr[data-model=chargeback-risk]'), /2026\.11\.01-1.*2026\.11\.01-1/);
  t.equal(await page.locator('[data-testid=timeline] circle').count(), 3, 'a dot per recorded deployment');
  t.match(await page.textContent('[data-testid=timeline]'), /production\/chargeback-risk.*2026\.10\.15-1.*2026\.11\.01-1/);
  const bars = page.locator('[data-drift="production/fraud-detector"] rect');
  t.equal(await bars.count(), 7, 'a PSI bar per feature and one for the score');
  t.equal(await bars.first().getAttribute('fill'), '#cf222e', 'the drifted feature is drawn red, first');
  t.match(await page.textContent('[data-drift="production/fraud-detector"]'), /fail.*txn_amount.*warn 0\.1.*fail 0\.25/);
  const charts = page.locator('[data-testid=canary] [data-canary]');
  t.equal(await charts.count(), 4, 'one chart per canary check of the production policy');
  t.equal(await page.locator('[data-canary="production/fraud-detector/error-rate"] circle').count(), 12, 'twelve intervals with data');
  t.match(await page.textContent('[data-canary="production/fraud-detector/error-rate"]'), /fraud-detector@2026\.11\.13-1 at 10% — error-rate \(prometheus\)\s+max 0\.01/);
  t.equal(await page.locator('[data-canary="production/fraud-detector/decline-rate-ratio"] circle').count(), 12, 'the warehouse check too');
  // A string, evaluated in the page: the tests are type-checked without the DOM library.
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'no horizontal scrolling on a 1440 px laptop screen');
  t.same(requests.filter((u) => !u.startsWith('file://')), [], 'nothing fetched from the network');

  mkdirSync(artifacts, { recursive: true });
  const shot = join(artifacts, 'status-dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.ok(readFileSync(shot).length > 10_000, `screenshot kept at ${shot}`);
  if (process.env.UPDATE_GOLDEN === '1') copyFileSync(shot, join(projectRoot, 'docs/status-dashboard.png'));
});

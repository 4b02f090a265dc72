// The production canary checks (policies/production.yaml), run through the Prometheus source
// against a real Prometheus loaded with 2h40m of series under the names and labels the real
// exporters use, then judged by canaryGate. Production is raw mode behind an Istio Gateway: the
// gateway's istio_requests_total / istio_request_duration_milliseconds per backend Service
// (reporter="source", destination_service_name = the version's predictor Service), and the KServe
// Python server's request_predict_seconds (label model_name; namespace and pod from the scrape).
// A serverless environment's Knative queue-proxy series (revision_request_count with
// namespace_name, configuration_name, revision_name, …) are loaded too.
// Four versions share the data: the stable one, a healthy canary, one throwing 5xx, one without traffic.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { loadDocument } from '../../src/config/load.js';
import type { Policy } from '../../src/config/types.js';
import { ExternalError } from '../../src/errors.js';
import { canaryGate, type CanaryCheckRow } from '../../src/gates/canary.js';
import { defaultRequestsQueries, prometheusSource, REQUESTS_QUERIES } from '../../src/adapters/prometheus.js';
import { inferenceServiceName, predictorServiceName } from '../../src/sync/render/kubernetes.js';
import { observeChecks, type MetricWindow } from '../../src/metrics/source.js';
import { projectRoot } from '../helpers/cli.js';
import { missingBinaries, openMetrics, startPrometheus, type Series, type TestPrometheus } from './prometheus-server.js';

// The canary window: 2h30m ending 30 minutes ago (samples must lie in the past; queries run at those times).
const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000);
const window: MetricWindow = { start: new Date(end.getTime() - 150 * 60_000), end };

/** Requests per second, share of 5xx, and cumulative share of requests at or below each latency bucket (ms). */
const traffic: Record<string, { rps: number; errors: number; latency: number[] }> = {
  '2026.11.13-1': { rps: 18, errors: 0.002, latency: [0.6, 0.95, 0.998, 0.999, 1, 1] }, // stable
  '2026.11.20-1': { rps: 2, errors: 0.004, latency: [0.6, 0.95, 0.998, 0.999, 1, 1] }, // healthy canary
  '2026.11.20-2': { rps: 2, errors: 0.03, latency: [0.6, 0.95, 0.998, 0.999, 1, 1] }, // 3% errors
  '2026.11.20-3': { rps: 0.02, errors: 0, latency: [0.6, 0.95, 0.998, 0.999, 1, 1] }, // ~180 requests in the window
};
const buckets = ['50', '100', '150', '250', '500', '+Inf'];
/** prometheus_client's default buckets (seconds), which KServe's histograms use, and the cumulative share at each. */
const predictBuckets = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1.0', '2.5', '5.0', '7.5', '10.0', '+Inf'];
const predictShares = [0.2, 0.6, 0.95, 0.995, 0.999, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
const namespace = 'ml-serving';
const model = 'fraud-detector';
/** The Service sync renders as the HTTPRoute's backend for a version (raw mode). */
const backend = (version: string) => predictorServiceName(inferenceServiceName('raw', model, version));

function series(): string {
  // Counters from 10 minutes before the window, a sample every 30 s, like a scrape.
  const first = window.start.getTime() - 10 * 60_000;
  const times: Date[] = [];
  for (let at = first; at <= end.getTime(); at += 30_000) times.push(new Date(at));
  const counter = (perSecond: number) => times.map((at): [Date, number] => [at, Math.floor(perSecond * (at.getTime() - first) / 1000)]);
  // What an Istio gateway (Gateway API, deployment <gateway>-istio) reports for a request it routes.
  const istio = (version: string) => ({
    reporter: 'source', source_workload: 'ml-gateway-istio', source_workload_namespace: 'gateway-system', source_canonical_service: 'ml-gateway-istio',
    destination_service: `${backend(version)}.${namespace}.svc.cluster.local`, destination_service_name: backend(version), destination_service_namespace: namespace,
    destination_workload: backend(version), destination_workload_namespace: namespace, destination_canonical_service: model,
    request_protocol: 'http', response_flags: '-', connection_security_policy: 'unknown',
  });
  const requests: Series[] = [];
  const latencies: Series[] = [];
  const predict: Series[] = [];
  for (const [version, v] of Object.entries(traffic)) {
    requests.push({ name: 'istio_requests_total', labels: { ...istio(version), response_code: '200' }, samples: counter(v.rps * (1 - v.errors)) });
    requests.push({ name: 'istio_requests_total', labels: { ...istio(version), response_code: '503' }, samples: counter(v.rps * v.errors) });
    buckets.forEach((le, i) => latencies.push({ name: 'istio_request_duration_milliseconds_bucket', labels: { ...istio(version), response_code: '200', le }, samples: counter(v.rps * v.latency[i]!) }));
    // Two pods of the predictor Deployment, each scraped on its own; KServe labels by model_name only.
    for (const pod of ['6c9f7d8b5d-k2x9q', '6c9f7d8b5d-w7m4t']) {
      const labels = { namespace, pod: `${backend(version)}-${pod}`, container: 'kserve-container', model_name: model };
      predictBuckets.forEach((le, i) => predict.push({ name: 'request_predict_seconds_bucket', labels: { ...labels, le }, samples: counter(v.rps / 2 * predictShares[i]!) }));
    }
  }
  // A serverless environment: Knative's queue-proxy, one configuration per InferenceService
  // (<name>-predictor) and one revision per rollout; stable and canary are two revisions.
  const knative = (revision: string, code: string) => ({
    namespace_name: 'ml-serving-eu', service_name: `${model}-predictor`, configuration_name: `${model}-predictor`, revision_name: revision,
    pod_name: `${revision}-deployment-5d8f9c7b6-abcde`, container_name: 'queue-proxy', response_code: code, response_code_class: `${code[0]}xx`,
  });
  const queueProxy: Series[] = [
    { name: 'revision_request_count', labels: knative(`${model}-predictor-00003`, '200'), samples: counter(9) },
    { name: 'revision_request_count', labels: knative(`${model}-predictor-00004`, '200'), samples: counter(1) },
  ];
  return openMetrics([
    { name: 'istio_requests_total', type: 'counter', series: requests },
    { name: 'istio_request_duration_milliseconds', type: 'histogram', series: latencies },
    { name: 'request_predict_seconds', type: 'histogram', series: predict },
    { name: 'revision_request_count', type: 'counter', series: queueProxy },
  ]);
}

function scenarios() {
  const missing = missingBinaries();
  const skip = missing.length ? `${missing.join(' and ')} not installed (Debian package "prometheus"); real-server scenarios skipped` : false;
  const loaded = loadDocument<Policy>('policies/production.yaml', readFileSync(`${projectRoot}policies/production.yaml`), 'policy');
  const production = loaded.loaded!.data.canary!;
  // The warehouse check (decline-rate ratio) needs Snowflake; here only the Prometheus ones run.
  const policy = { ...production, checks: production.checks.filter((c) => c.source === 'prometheus') };

  let server: TestPrometheus;
  t.before(async () => {
    if (!skip) server = await startPrometheus(series());
  });
  t.teardown(async () => {
    await server?.stop();
  });

  async function judge(version: string, source = prometheusSource({ url: server.url, timeoutMs: 3000 }), checks = policy.checks) {
    const observations = await observeChecks({
      checks, sources: { prometheus: source }, window,
      context: { namespace, model, version, environment: 'production', mode: 'raw' },
      requestsQueries: defaultRequestsQueries('raw'),
    });
    const gate = canaryGate({
      policy: { ...policy, checks }, observations, now: window.end, change: 'promote-canary',
      canary: { version, traffic: 10, startedAt: window.start },
    });
    return { gate, observations, rows: gate.data?.checks as CanaryCheckRow[] };
  }

  t.test('a healthy canary passes the production checks', { skip }, async (t) => {
    const { gate, observations } = await judge('2026.11.20-1');
    t.equal(gate.status, 'pass', gate.summary);
    const errorRate = observations.find((o) => o.check === 'error-rate')!;
    // 0.008 5xx/s of 2 req/s; counters are floored per sample, hence the tolerance.
    t.ok(Math.abs(errorRate.value! - 0.004) < 0.001, `error rate ${errorRate.value}`);
    // 2 req/s over 150 min ≈ 18,000 requests, extrapolated by increase().
    t.ok(errorRate.requests! > 17_000 && errorRate.requests! < 19_000, `requests ${errorRate.requests}`);
    const p99 = observations.find((o) => o.check === 'p99-latency-ms')!;
    // rank 0.99 falls in the (100, 150] bucket: 100 + 50 × (0.99 − 0.95) / (0.998 − 0.95) ≈ 141.7 ms.
    t.ok(Math.abs(p99.value! - 141.7) < 2, `p99 ${p99.value}`);
    const predict = observations.find((o) => o.check === 'p99-predict-ms')!;
    // the model server's: rank 0.99 in (25, 50] ms: 25 + 25 × (0.99 − 0.95) / (0.995 − 0.95) ≈ 47.2 ms.
    t.ok(Math.abs(predict.value! - 47.2) < 1, `predict p99 ${predict.value}`);
    t.match(gate.summary, /^canary 2026\.11\.20-1 at 10% for 2h 30m: 3 checks in bounds \(error-rate: 0\.00\d+ ≤ 0\.01; p99-latency-ms: 14\d(\.\d+)? ≤ 150; p99-predict-ms: 4\d(\.\d+)? ≤ 60\)$/);
  });

  t.test('a canary throwing 3% server errors fails on the error rate', { skip }, async (t) => {
    const { gate, rows } = await judge('2026.11.20-2');
    t.equal(gate.status, 'fail');
    t.match(gate.summary, /error-rate: 0\.0[23]\d* > max 0\.01/);
    t.same(rows.map((r) => [r.name, r.status]), [['error-rate', 'fail'], ['p99-latency-ms', 'pass'], ['p99-predict-ms', 'pass']]);
  });

  t.test('a canary that barely got traffic fails: not enough requests', { skip }, async (t) => {
    const { gate } = await judge('2026.11.20-3');
    t.equal(gate.status, 'fail');
    t.match(gate.summary, /error-rate: not enough traffic: 1\d\d requests, need 500; p99-latency-ms: not enough traffic: 1\d\d requests, need 500/);
  });

  t.test('a version Prometheus has never seen has no data: fail, not pass', { skip }, async (t) => {
    const { gate, observations } = await judge('2026.11.21-1');
    t.equal(gate.status, 'fail');
    t.same(observations.map((o) => o.value), [undefined, undefined, undefined], 'empty vector and 0/0 both read as no data');
    t.match(gate.summary, /not enough traffic: 0 requests, need 500/);
  });

  t.test('the checks select one version\'s backend: the stable version\'s traffic is its own', { skip }, async (t) => {
    const { observations } = await judge('2026.11.13-1');
    const errorRate = observations.find((o) => o.check === 'error-rate')!;
    // 18 req/s over 150 min ≈ 162,000: the stable's, not the canary's 18,000.
    t.ok(errorRate.requests! > 155_000 && errorRate.requests! < 170_000, `requests ${errorRate.requests}`);
    t.ok(Math.abs(errorRate.value! - 0.002) < 0.001, `error rate ${errorRate.value}`);
  });

  t.test('serverless: the requests query reads the queue-proxy\'s revision_request_count of the model\'s configuration', { skip }, async (t) => {
    const source = prometheusSource({ url: server.url, timeoutMs: 3000 });
    const [observation] = await observeChecks({
      checks: [{ name: 'up', source: 'prometheus', query: 'vector(1)', max: 2, minRequests: 1 }],
      sources: { prometheus: source }, window,
      context: { namespace: 'ml-serving-eu', model, version: '2026.11.20-1', environment: 'production-eu', mode: 'serverless' },
      requestsQueries: defaultRequestsQueries('serverless'),
    });
    // Knative labels revisions, not versions: both revisions (9 + 1 req/s over 150 min) are counted.
    t.ok(observation!.requests! > 85_000 && observation!.requests! < 95_000, `requests ${observation!.requests}`);
    t.match(REQUESTS_QUERIES.serverless, /revision_request_count\{namespace_name=.*configuration_name=/);
  });

  t.test('a query Prometheus rejects is an error of the gate, reported with Prometheus\' message', { skip }, async (t) => {
    const broken = [{ name: 'error-rate', source: 'prometheus' as const, query: 'sum(rate(istio_requests_total[5m]', max: 0.01 }];
    const { gate } = await judge('2026.11.20-1', undefined, broken);
    t.equal(gate.status, 'error');
    t.match(gate.summary, /error-rate: could not be measured: prometheus: query at .*: bad_data: .*parse error/);
  });

  t.test('a query returning several series is refused: a check needs one number', { skip }, async (t) => {
    const source = prometheusSource({ url: server.url });
    await t.rejects(source.query(`istio_requests_total{destination_service_name="${backend('2026.11.20-1')}"}`, end), { name: 'ExternalError', message: /returned 2 series .*aggregate with sum\(\)/ });
  });

  t.test('instant results: a scalar, +Inf, and NaN as no data', { skip }, async (t) => {
    const source = prometheusSource({ url: server.url });
    t.equal(await source.query('1 + 1', end), 2);
    t.equal(await source.query('1 / 0', end), Infinity);
    t.equal(await source.query('0 / 0', end), undefined);
  });

  t.test('a range vector is refused: a check needs one number', { skip }, async (t) => {
    const source = prometheusSource({ url: server.url });
    await t.rejects(source.query(`istio_requests_total{destination_service_name="${backend('2026.11.20-1')}",response_code="503"}[5m]`, end),
      { message: /returned a matrix result; a check needs a scalar or a single-sample vector/ });
  });

  t.test('a hung Prometheus times out: the gate says error, never pass', { skip }, async (t) => {
    const source = prometheusSource({ url: server.url, timeoutMs: 300, attempts: 2, backoffMs: 50 });
    server.freeze();
    const started = Date.now();
    try {
      const { gate } = await judge('2026.11.20-1', source);
      t.equal(gate.status, 'error');
      t.match(gate.summary, /error-rate: could not be measured: prometheus: query at .*: timed out after 300 ms \(2 attempts\)/);
      t.ok(Date.now() - started < 3000, 'bounded: two attempts of 300 ms plus one backoff');
    } finally {
      server.thaw();
    }
  });

  t.test('a stopped Prometheus: connection refused after bounded retries, the gate says error', { skip }, async (t) => {
    await server.stop();
    const source = prometheusSource({ url: server.url, timeoutMs: 1000, attempts: 3, backoffMs: 20 });
    const e = await source.query('vector(1)', end).catch((x: unknown) => x);
    t.type(e, ExternalError);
    t.match((e as ExternalError).message, /^prometheus: query at .*: cannot connect: .*ECONNREFUSED.* \(3 attempts\)$/);
    t.equal((e as ExternalError).details.retryable, true);
    const { gate } = await judge('2026.11.20-1', source);
    t.equal(gate.status, 'error');
  });

  // Prometheus answers 503 only while it starts up, which cannot be timed from here; a loopback
  // server that plays an overloaded Prometheus stands in for that one behaviour.
  t.test('a 503 is retried with growing backoff; a 400 is not retried', async (t) => {
    const answers = [503, 503, 200];
    const seen: number[] = [];
    const flaky = createServer((req, res) => {
      seen.push(Date.now());
      const status = new URL(req.url!, 'http://x').searchParams.get('query') === 'bad(' ? 400 : answers.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { status: 'success', data: { resultType: 'scalar', result: [0, '0.25'] } }
        : { status: 'error', errorType: status === 400 ? 'bad_data' : 'unavailable', error: status === 400 ? 'parse error' : 'overloaded' }));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => flaky.close(() => r())));
    // The top of each full-jitter window, so the doubling shows.
    const source = prometheusSource({ url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`, attempts: 3, backoffMs: 40, random: () => 0.999 });
    t.equal(await source.query('up', end), 0.25);
    t.equal(seen.length, 3);
    // The waits are at least 39 and 79 ms (the top of the 40 and 80 ms windows; 2 ms for the
    // clock's rounding). Only lower bounds: a busy machine makes any wait longer, never shorter.
    t.ok(seen[1]! - seen[0]! >= 37 && seen[2]! - seen[1]! >= 77, `backoff doubles: ${seen[1]! - seen[0]!} ms, then ${seen[2]! - seen[1]!} ms`);

    seen.length = 0;
    await t.rejects(source.query('bad(', end), { message: /bad_data: parse error/, details: { status: 400, retryable: false } });
    t.equal(seen.length, 1, 'a bad query is asked once');

    answers.push(503, 503, 503);
    await t.rejects(source.query('up', end), { message: /HTTP 503: overloaded \(3 attempts\)$/, details: { status: 503, retryable: true } });
  });
}

scenarios();

// A MetricSource over Prometheus' HTTP API: instant queries (GET /api/v1/query) evaluated at the
// end of the canary window. Each call has a timeout; 5xx, 429, timeouts and network errors are
// retried a bounded number of times with backoff; a bad query is not retried.
import { ExternalError } from '../errors.js';
import { retry } from './retry.js';
import type { EvaluateOptions, MetricSample, MetricSource, MetricWindow } from '../metrics/source.js';

/**
 * The canary's request count over the whole window, for checks with minRequests. It is a separate
 * query because a check's own query (a ratio, a quantile) does not reveal its traffic. Each
 * counts requests where the metric exists in that serving mode, under its real name and labels:
 *
 * raw (KServe Standard behind a Gateway API HTTPRoute): the gateway's per-backend counter. With
 * Istio as the Gateway API implementation, the gateway's Envoy reports each request it routes as
 * `istio_requests_total` with reporter="source" (a gateway reports as the client side) and the
 * backend Service in destination_service_name / destination_service_namespace; the backend of a
 * version is its predictor Service, `{{service}}`. Other gateways: see the README (Canary metrics).
 *
 * serverless (Knative): the queue-proxy's `revision_request_count`, labelled namespace_name,
 * configuration_name (`<InferenceService>-predictor` = `{{service}}`), revision_name, response_code,
 * response_code_class. Knative's labels carry the revision, not the model version: KServe's
 * canary and stable are two revisions of one configuration, so this counts both; it is a floor
 * check on traffic, not the canary's share.
 *
 * `or vector(0)`: a version with no series at all served 0 requests, which reads better than "unknown".
 */
export const REQUESTS_QUERIES = {
  raw: 'sum(increase(istio_requests_total{reporter="source",destination_service_namespace="{{namespace}}",destination_service_name="{{service}}"}[{{window}}])) or vector(0)',
  serverless: 'sum(increase(revision_request_count{namespace_name="{{namespace}}",configuration_name="{{service}}"}[{{window}}])) or vector(0)',
} as const;

/** The requests query for an environment's serving mode (observeChecks' requestsQueries); none when it serves nothing online. */
export function defaultRequestsQueries(mode: 'serverless' | 'raw' | undefined): { prometheus?: string } {
  return mode ? { prometheus: REQUESTS_QUERIES[mode] } : {};
}

export interface PrometheusOptions {
  /** base URL, e.g. http://prometheus.monitoring:9090 (a path prefix is kept) */
  url: string;
  /** per HTTP call; default 10 s */
  timeoutMs?: number;
  /** calls per query, first included; default 3 */
  attempts?: number;
  /** the longest first wait before a retry (full jitter), doubled each time; default 250 ms */
  backoffMs?: number;
  /** 0 ≤ x < 1: where in its window each backoff falls (full jitter); Math.random by default */
  random?: () => number;
  /** e.g. { authorization: 'Bearer …' } */
  headers?: Record<string, string>;
}

export interface PrometheusSource extends MetricSource {
  /** One instant query at `time`: its single number, or undefined for an empty result or NaN. */
  query(promql: string, time: Date): Promise<number | undefined>;
}

export function prometheusSource(options: PrometheusOptions): PrometheusSource {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = Math.max(1, options.attempts ?? 3);
  const backoffMs = options.backoffMs ?? 250;
  const endpoint = new URL('api/v1/query', options.url.endsWith('/') ? options.url : `${options.url}/`);

  async function query(promql: string, time: Date): Promise<number | undefined> {
    const url = new URL(endpoint);
    url.searchParams.set('query', promql);
    url.searchParams.set('time', (time.getTime() / 1000).toFixed(3));
    // Lets Prometheus give up on its side too, instead of computing an answer nobody waits for.
    url.searchParams.set('timeout', `${Math.max(1, Math.floor(timeoutMs / 1000))}s`);
    const operation = `query at ${time.toISOString()}`;
    try {
      return await retry(() => once(url, operation, promql), { attempts, baseDelayMs: backoffMs, retryable: isRetryable, ...(options.random ? { random: options.random } : {}) });
    } catch (e) {
      if (!isRetryable(e)) throw e;
      const last = e as ExternalError;
      const reason = last.message.slice(`prometheus: ${operation}: `.length);
      throw new ExternalError('prometheus', operation, `${reason} (${attempts} attempt${attempts === 1 ? '' : 's'})`,
        { ...last.details, hint: `is ${options.url} reachable?` });
    }
  }

  async function once(url: URL, operation: string, promql: string): Promise<number | undefined> {
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, { headers: { accept: 'application/json', ...options.headers }, signal: AbortSignal.timeout(timeoutMs) });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
      throw new ExternalError('prometheus', operation, timedOut ? `timed out after ${timeoutMs} ms` : `cannot connect: ${cause}`, { retryable: true, cause: e });
    }
    const body = parseBody(text);
    if (status >= 500 || status === 429) {
      throw new ExternalError('prometheus', operation, `HTTP ${status}${body?.error ? `: ${body.error}` : ''}`, { status, retryable: true });
    }
    if (!body) throw new ExternalError('prometheus', operation, `HTTP ${status}, and the answer is not Prometheus JSON: ${text.slice(0, 120)}`, { status });
    if (body.status !== 'success') {
      // bad_data (400) and execution (422) errors: the query itself is wrong; retrying cannot help.
      throw new ExternalError('prometheus', operation, `${body.errorType ?? 'error'}: ${body.error ?? 'no message'} in ${short(promql)}`, { status, retryable: false });
    }
    return sampleOf(body.data, operation, promql);
  }

  return {
    query,
    async evaluate(promql: string, window: MetricWindow, evaluateOptions: EvaluateOptions = {}): Promise<MetricSample> {
      const [value, requests] = await Promise.all([
        query(promql, window.end),
        evaluateOptions.requestsQuery ? query(evaluateOptions.requestsQuery, window.end) : undefined,
      ]);
      return { ...(value !== undefined ? { value } : {}), ...(requests !== undefined ? { requests } : {}) };
    },
  };
}

interface ApiBody { status?: string; errorType?: string; error?: string; data?: { resultType?: string; result?: unknown } }

function parseBody(text: string): ApiBody | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as ApiBody) : undefined;
  } catch {
    return undefined; // not JSON (a proxy's HTML page): the caller reports the raw text
  }
}

/** A check needs one number: a scalar, or a vector of at most one sample (none = no data). */
function sampleOf(data: ApiBody['data'], operation: string, promql: string): number | undefined {
  if (data?.resultType === 'scalar') return parseValue((data.result as [number, string])[1]);
  if (data?.resultType === 'vector') {
    const result = data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    if (result.length === 0) return undefined;
    if (result.length > 1) {
      const series = result.slice(0, 3).map((r) => JSON.stringify(r.metric)).join(', ');
      throw new ExternalError('prometheus', operation, `${short(promql)} returned ${result.length} series (${series}${result.length > 3 ? ', …' : ''}); a check needs one number, aggregate with sum() or similar`);
    }
    return parseValue(result[0]!.value[1]);
  }
  throw new ExternalError('prometheus', operation, `${short(promql)} returned a ${data?.resultType ?? 'malformed'} result; a check needs a scalar or a single-sample vector`);
}

/** Prometheus writes special values as "NaN", "+Inf", "-Inf". NaN (0/0: no traffic) is no data. */
function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

const short = (promql: string) => (promql.length > 100 ? `${promql.slice(0, 97)}…` : promql);

function isRetryable(e: unknown): boolean {
  return e instanceof ExternalError && e.details.retryable === true;
}

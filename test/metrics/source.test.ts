// Rendering policy queries for one canary, and running checks through any MetricSource.
// The queries are the ones in policies/production.yaml.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import type { Policy } from '../../src/config/types.js';
import { ExternalError, RefusedError } from '../../src/errors.js';
import { observeChecks, renderQuery, type EvaluateOptions, type MetricSource, type MetricWindow } from '../../src/metrics/source.js';
import { inferenceServiceName, predictorServiceName } from '../../src/sync/render/kubernetes.js';
import { projectRoot } from '../helpers/cli.js';

const canary = (parse(readFileSync(`${projectRoot}policies/production.yaml`, 'utf8')) as Policy).canary!;
const check = (name: string) => canary.checks.find((c) => c.name === name)!;
const context = { namespace: 'ml-serving', model: 'fraud-detector', version: '2026.11.20-1', environment: 'production', mode: 'raw' as const };
const window: MetricWindow = { start: new Date('2026-11-21T09:30:00Z'), end: new Date('2026-11-21T12:00:00Z') };

t.test('PromQL: the canary\'s labels are substituted in place; {{service}} is the HTTPRoute backend sync renders', async (t) => {
  const r = renderQuery(check('error-rate').query, context);
  t.same(r.binds, []);
  const service = predictorServiceName(inferenceServiceName('raw', 'fraud-detector', '2026.11.20-1'));
  t.match(service, /^fraud-detector-2026-11-20-1-[0-9a-f]{6}-predictor$/);
  t.equal(r.text,
    `sum(rate(istio_requests_total{reporter="source",destination_service_namespace="ml-serving",destination_service_name="${service}",response_code=~"5.."}[5m]))`
    + ` / sum(rate(istio_requests_total{reporter="source",destination_service_namespace="ml-serving",destination_service_name="${service}"}[5m]))`);
});

t.test('{{service}} and {{inferenceService}} follow the environment\'s mode; an environment without online serving has none', async (t) => {
  t.equal(renderQuery('{{inferenceService}} {{service}}', { ...context, mode: 'serverless' }).text, 'fraud-detector fraud-detector-predictor');
  const isvc = inferenceServiceName('raw', 'fraud-detector', '2026.11.20-1');
  t.equal(renderQuery('{{inferenceService}} {{service}}', context).text, `${isvc} ${isvc}-predictor`);
  const { mode: _, ...batchOnly } = context;
  t.throws(() => renderQuery('x{s="{{service}}"}', batchOnly), { name: 'RefusedError', message: /uses \{\{service\}\} but the environment production serves nothing online/ });
});

t.test('PromQL: a value that could break out of a label string is refused, not escaped', async (t) => {
  const hostile = { ...context, namespace: '1"} or vector(1) or {x="' };
  t.throws(() => renderQuery(check('error-rate').query, hostile), { name: 'RefusedError', message: /\{\{namespace\}\} = .* is not a plain identifier; refusing to put it into PromQL/ });
  t.throws(() => renderQuery('up{version="{{version}}"}', { ...context, version: '1"} or vector(1) or {x="' }), { name: 'RefusedError', message: /\{\{version\}\} = .* is not a plain identifier/ });
});

t.test('{{window}} is the window length: seconds in PromQL, a bound number in SQL', async (t) => {
  t.equal(renderQuery('increase(x[{{window}}])', { ...context, window }).text, 'increase(x[9000s])');
  t.same(renderQuery('WHERE ts > DATEADD(second, -{{window}}, CURRENT_TIMESTAMP())', { ...context, window }, 'sql'),
    { text: 'WHERE ts > DATEADD(second, -?, CURRENT_TIMESTAMP())', binds: [9000] });
  t.throws(() => renderQuery('increase(x[{{window}}])', context), { message: /uses \{\{window\}\} but no window was given/ });
});

t.test('{{start}} and {{end}}: the window\'s bounds as bound timestamps in SQL; refused in PromQL', async (t) => {
  t.same(renderQuery('WHERE ts > CAST({{start}} AS TIMESTAMP WITH TIME ZONE) AND ts <= CAST({{end}} AS TIMESTAMP WITH TIME ZONE)', { ...context, window }, 'sql'),
    { text: 'WHERE ts > CAST(? AS TIMESTAMP WITH TIME ZONE) AND ts <= CAST(? AS TIMESTAMP WITH TIME ZONE)', binds: [window.start.toISOString(), window.end.toISOString()] });
  t.throws(() => renderQuery('x @ {{end}}', { ...context, window }), { message: /\{\{end\}\} is for SQL queries/ });
  t.throws(() => renderQuery('WHERE ts <= {{end}}', context, 'sql'), { message: /uses \{\{end\}\} but no window was given/ });
});

t.test('a misspelt placeholder is an error, not a silently broken query', async (t) => {
  t.throws(() => renderQuery('up{model="{{modle}}"}', context), RefusedError);
  t.throws(() => renderQuery('WHERE model = {{ modle }}', context, 'sql'), { message: 'unknown placeholder {{modle}} in query' });
});

t.test('SQL: every placeholder becomes a bind, in order, and nothing is spliced', async (t) => {
  const r = renderQuery(check('decline-rate-ratio').query, { ...context, window }, 'sql');
  const [start, end] = [window.start.toISOString(), window.end.toISOString()];
  t.same(r.binds, ['fraud-detector', '2026.11.20-1', start, end, 'fraud-detector', '2026.11.20-1', start, end]);
  t.notMatch(r.text, /fraud-detector|2026\.11\.20-1|\{\{|T\d\d:/);
  t.match(r.text, /WHERE model = \? AND version <> \?\s+AND ts > CAST\(\? AS TIMESTAMP WITH TIME ZONE\) AND ts <= CAST\(\? AS TIMESTAMP WITH TIME ZONE\)\), 0\) AS ratio/);
  t.match(r.text, /decision = 'decline'/, 'string literals stay as written');
});

t.test('SQL: a placeholder inside quotes is refused, with the fix', async (t) => {
  const e = (() => { try { renderQuery("SELECT 1 FROM t WHERE model = '{{model}}'", context, 'sql'); } catch (x) { return x; } })();
  t.type(e, RefusedError);
  t.match(e, { message: '{{model}} is inside quotes in the SQL query', hint: 'write it bare (model = {{model}}): it becomes a bound parameter' });
  t.throws(() => renderQuery('SELECT "{{model}}" FROM t', context, 'sql'), { message: /inside quotes/ }, 'quoted identifiers too');
  t.throws(() => renderQuery('SELECT $$ {{model}} $$', context, 'sql'), { message: /inside quotes/ }, 'and $$ strings');
});

t.test('SQL: quotes, escapes and comments are read correctly around placeholders', async (t) => {
  const r = renderQuery("SELECT 'it''s', 'a\\'b' -- {{model}} stays in the comment\nFROM t /* {{version}} */ WHERE v = {{version}}", context, 'sql');
  t.equal(r.text, "SELECT 'it''s', 'a\\'b' -- {{model}} stays in the comment\nFROM t /* {{version}} */ WHERE v = ?");
  t.same(r.binds, ['2026.11.20-1']);
  t.throws(() => renderQuery('SELECT 1 WHERE a = ? AND m = {{model}}', context, 'sql'), { message: /\? bind marker of its own/ });
});

/** A source that records what it was asked and answers from a table. */
function recordingSource(answer: (query: string) => { value?: number; requests?: number } | Error) {
  const calls: Array<{ query: string; window: MetricWindow; options?: EvaluateOptions }> = [];
  const source: MetricSource = {
    async evaluate(query, w, options) {
      calls.push({ query, window: w, ...(options ? { options } : {}) });
      const a = answer(query);
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return { source, calls };
}

t.test('observeChecks: rendered queries go to the right source, with binds and a requests query', async (t) => {
  const prometheus = recordingSource((q) => (q.includes('5..') ? { value: 0.004, requests: 18_000 } : q.includes('request_predict_seconds') ? { value: 41, requests: 18_000 } : { value: 98, requests: 18_000 }));
  const warehouse = recordingSource(() => ({ value: 1.04 }));
  const observations = await observeChecks({
    checks: canary.checks, sources: { prometheus: prometheus.source, warehouse: warehouse.source }, context, window,
    requestsQueries: { prometheus: 'sum(increase(requests{version="{{version}}"}[{{window}}]))' },
  });
  t.same(observations, [
    { check: 'error-rate', value: 0.004, requests: 18_000 },
    { check: 'p99-latency-ms', value: 98, requests: 18_000 },
    { check: 'p99-predict-ms', value: 41, requests: 18_000 },
    { check: 'decline-rate-ratio', value: 1.04 },
  ]);
  t.equal(prometheus.calls.length, 3);
  t.same(prometheus.calls[0]!.options, { requestsQuery: 'sum(increase(requests{version="2026.11.20-1"}[9000s]))' });
  t.same(prometheus.calls[0]!.window, window);
  const [start, end] = [window.start.toISOString(), window.end.toISOString()];
  t.same(warehouse.calls[0]!.options, { binds: ['fraud-detector', '2026.11.20-1', start, end, 'fraud-detector', '2026.11.20-1', start, end] },
    'binds only: a warehouse query reports its requests in its own REQUESTS column');
});

t.test('observeChecks: a failing or missing source becomes an error observation', async (t) => {
  const down = recordingSource(() => new ExternalError('prometheus', 'query at 2026-11-21T12:00:00.000Z', 'cannot connect: ECONNREFUSED (3 attempts)', { retryable: true }));
  const observations = await observeChecks({ checks: canary.checks, sources: { prometheus: down.source }, context, window });
  t.same(observations, [
    { check: 'error-rate', error: 'prometheus: query at 2026-11-21T12:00:00.000Z: cannot connect: ECONNREFUSED (3 attempts)' },
    { check: 'p99-latency-ms', error: 'prometheus: query at 2026-11-21T12:00:00.000Z: cannot connect: ECONNREFUSED (3 attempts)' },
    { check: 'p99-predict-ms', error: 'prometheus: query at 2026-11-21T12:00:00.000Z: cannot connect: ECONNREFUSED (3 attempts)' },
    { check: 'decline-rate-ratio', error: 'no warehouse source is configured' },
  ]);
});

t.test('observeChecks: a query that cannot be rendered is an error observation, not a crash', async (t) => {
  const ok = recordingSource(() => ({ value: 1 }));
  const [o] = await observeChecks({ checks: [{ name: 'typo', source: 'prometheus', query: 'up{v="{{verison}}"}' }], sources: { prometheus: ok.source }, context, window });
  t.match(o, { check: 'typo', error: /unknown placeholder \{\{verison\}\}/ });
  t.equal(ok.calls.length, 0);
});

t.test('observeChecks: a bug in a source is not disguised as a measurement error', async (t) => {
  const buggy = recordingSource(() => new TypeError('x is undefined'));
  await t.rejects(observeChecks({ checks: canary.checks.slice(0, 1), sources: { prometheus: buggy.source }, context, window }), TypeError);
});

// Where canary checks get their numbers: the MetricSource interface, the rendering of a policy
// query for one model version (PromQL: validated values spliced; SQL: bound parameters, never
// spliced), and observeChecks, which runs a policy's checks and turns failures into observations.
import { ModelshipError, RefusedError } from '../errors.js';
import type { CanaryCheck, CanaryObservation } from '../gates/canary.js';
import { inferenceServiceName, predictorServiceName } from '../sync/render/kubernetes.js';

export interface MetricWindow { start: Date; end: Date }

export interface MetricSample {
  /** undefined: the query returned no data */
  value?: number;
  /** requests served in the window, when a requests query was given */
  requests?: number;
}

export interface EvaluateOptions {
  /** bound parameters for an SQL query, in placeholder order (from renderQuery) */
  binds?: ReadonlyArray<string | number>;
  /** a rendered query whose single number is the request count over the window */
  requestsQuery?: string;
}

/** A metric backend. Throws ExternalError when it cannot answer. */
export interface MetricSource {
  evaluate(query: string, window: MetricWindow, options?: EvaluateOptions): Promise<MetricSample>;
}

export interface QueryContext {
  namespace: string;
  model: string;
  version: string;
  environment: string;
  /**
   * how the environment serves online (environments/<env>.yaml kubernetes.mode); makes
   * {{inferenceService}} and {{service}} available: the names sync gives this version's
   * InferenceService and its predictor Service (raw: one per version, the HTTPRoute's backend;
   * serverless: one per model, so Knative's queue-proxy labels it configuration_name)
   */
  mode?: 'serverless' | 'raw';
  /**
   * makes {{window}} available: the window's length (PromQL "9000s"; SQL: seconds, bound); and,
   * in SQL, {{start}} and {{end}}: the window's bounds as bound RFC 3339 strings (write
   * `CAST({{end}} AS TIMESTAMP WITH TIME ZONE)`), so a warehouse check can be read for any interval.
   */
  window?: MetricWindow;
}

export type QueryLanguage = 'promql' | 'sql';
export interface RenderedQuery { text: string; binds: Array<string | number> }

const placeholder = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
/** Kubernetes names, model names, versions like 2026.11.20-1: nothing that can end a PromQL string. */
const identifier = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

/** Substitutes {{namespace}}, {{model}}, {{version}}, {{environment}}, {{inferenceService}}, {{service}}, {{window}} (and in SQL {{start}}, {{end}}) in a policy query. */
export function renderQuery(query: string, context: QueryContext, language: QueryLanguage = 'promql'): RenderedQuery {
  return language === 'promql' ? { text: renderPromQL(query, context), binds: [] } : renderSql(query, context);
}

function valueOf(name: string, context: QueryContext, language: QueryLanguage): string | number {
  if (name === 'window') {
    if (!context.window) throw new RefusedError('the query uses {{window}} but no window was given');
    const seconds = Math.max(1, Math.round((context.window.end.getTime() - context.window.start.getTime()) / 1000));
    return language === 'promql' ? `${seconds}s` : seconds;
  }
  if (name === 'start' || name === 'end') {
    // PromQL is evaluated at the window's end already; a time in the text would only be spliced.
    if (language === 'promql') throw new RefusedError(`{{${name}}} is for SQL queries; a PromQL query is evaluated at the window's end (use {{window}} for its length)`);
    if (!context.window) throw new RefusedError(`the query uses {{${name}}} but no window was given`);
    return context.window[name].toISOString();
  }
  if (name === 'namespace' || name === 'model' || name === 'version' || name === 'environment') return context[name];
  if (name === 'inferenceService' || name === 'service') {
    if (!context.mode) throw new RefusedError(`the query uses {{${name}}} but the environment ${context.environment} serves nothing online (no kubernetes.mode)`);
    const isvc = inferenceServiceName(context.mode, context.model, context.version);
    return name === 'service' ? predictorServiceName(isvc) : isvc;
  }
  throw new RefusedError(`unknown placeholder {{${name}}} in query`, 'known: {{namespace}}, {{model}}, {{version}}, {{environment}}, {{inferenceService}}, {{service}}, {{window}}, and in SQL {{start}}, {{end}}');
}

function renderPromQL(query: string, context: QueryContext): string {
  return query.replace(placeholder, (_, name: string) => {
    const value = String(valueOf(name, context, 'promql'));
    // Validated rather than escaped: a value that needs escaping is not a name we produce.
    if (!identifier.test(value)) throw new RefusedError(`{{${name}}} = ${JSON.stringify(value)} is not a plain identifier; refusing to put it into PromQL`);
    return value;
  });
}

/**
 * Each placeholder becomes a `?` bind. A small lexer keeps quoted text and comments apart: a
 * placeholder inside quotes would be spliced text, so it is refused; one in a comment is left alone.
 */
function renderSql(query: string, context: QueryContext): RenderedQuery {
  const binds: Array<string | number> = [];
  let text = '';
  let i = 0;
  const skipTo = (end: string, from: number) => {
    const at = query.indexOf(end, from);
    return at < 0 ? query.length : at + end.length;
  };
  while (i < query.length) {
    const rest = query.slice(i);
    let next: number;
    if (rest.startsWith('--')) next = skipTo('\n', i);
    else if (rest.startsWith('/*')) next = skipTo('*/', i + 2);
    else if (rest.startsWith('$$')) next = quoted('$$', i, 2);
    else if (rest[0] === "'" || rest[0] === '"') next = quoted(rest[0], i, 1);
    else if (rest[0] === '?') throw new RefusedError('the query has a ? bind marker of its own; use the {{...}} placeholders');
    else if (rest.startsWith('{{')) {
      const m = /^\{\{\s*([A-Za-z_]+)\s*\}\}/.exec(rest);
      if (!m) throw new RefusedError(`malformed placeholder at ${JSON.stringify(rest.slice(0, 20))}`);
      binds.push(valueOf(m[1]!, context, 'sql'));
      text += '?';
      i += m[0].length;
      continue;
    } else next = i + 1;
    text += query.slice(i, next);
    i = next;
  }
  return { text, binds };

  function quoted(delimiter: string, from: number, width: number): number {
    // '' inside quotes reads as two adjacent strings, which is harmless here; \' (Snowflake) is skipped.
    let end = from + width;
    while (end < query.length && !query.startsWith(delimiter, end)) end += delimiter === "'" && query[end] === '\\' ? 2 : 1;
    const inside = query.slice(from + width, end);
    const found = /\{\{\s*([A-Za-z_]+)\s*\}\}/.exec(inside);
    if (found) {
      throw new RefusedError(`{{${found[1]}}} is inside quotes in the SQL query`, `write it bare (model = {{${found[1]}}}): it becomes a bound parameter`);
    }
    return Math.min(query.length, end + width);
  }
}

/**
 * Runs each check's query for one canary over one window. A source that fails yields an
 * observation with `error` (the gate turns it into 'error'); nothing here decides pass or fail.
 */
export async function observeChecks(input: {
  checks: CanaryCheck[];
  sources: Partial<Record<CanaryCheck['source'], MetricSource>>;
  context: Omit<QueryContext, 'window'>;
  window: MetricWindow;
  /** PromQL template counting the canary's requests (e.g. defaultRequestsQueries(mode)); a warehouse source reports requests itself */
  requestsQueries?: { prometheus?: string };
}): Promise<CanaryObservation[]> {
  const context = { ...input.context, window: input.window };
  return Promise.all(input.checks.map(async (check): Promise<CanaryObservation> => {
    const source = input.sources[check.source];
    if (!source) return { check: check.name, error: `no ${check.source} source is configured` };
    try {
      const language = check.source === 'prometheus' ? 'promql' : 'sql';
      const query = renderQuery(check.query, context, language);
      const requestsTemplate = check.source === 'prometheus' && check.minRequests !== undefined ? input.requestsQueries?.prometheus : undefined;
      const options: EvaluateOptions = {
        ...(query.binds.length ? { binds: query.binds } : {}),
        ...(requestsTemplate ? { requestsQuery: renderQuery(requestsTemplate, context, 'promql').text } : {}),
      };
      const sample = await source.evaluate(query.text, input.window, options);
      return { check: check.name, ...sample };
    } catch (e) {
      // Only our own errors become observations; anything else is a bug and should surface.
      if (e instanceof ModelshipError) return { check: check.name, error: e.message };
      throw e;
    }
  }));
}

/** Whether a query reads its window from placeholders (so it can be evaluated for any interval, not just "now"). */
export function usesWindowBounds(query: string): boolean {
  return /\{\{\s*(start|end)\s*\}\}/.test(query);
}

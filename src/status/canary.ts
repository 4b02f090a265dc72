// Canary metrics over time, for the dashboard: each running canary's policy checks evaluated at a
// few points of its recent past (one interval each), through the same metric sources and query
// rendering the checker uses (metrics/source.ts). A source that fails marks its points; it never
// stops the dashboard.

import type { LoadedRepository } from '../config/load.js';
import { ModelshipError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import { defaultRequestsQueries, prometheusSource } from '../adapters/prometheus.js';
import { observeChecks, type MetricSource } from '../metrics/source.js';
import { warehouseFromEnv, warehouseSource, type WarehouseSource } from '../adapters/snowflake/warehouse.js';

export interface CanarySeries {
  environment: string;
  model: string;
  version: string;
  traffic: number;
  check: string;
  source: string;
  min?: number;
  max?: number;
  points: Array<{ at: string; value?: number; error?: string }>;
}

/** Samples every check of every pinned canary at `points` instants, `interval` apart, ending at `now`. */
export async function sampleCanaries(repo: LoadedRepository, environments: string[], options: { now: Date; timeoutMs: number; prometheusUrl?: string; points?: number; vars?: NodeJS.ProcessEnv }): Promise<CanarySeries[]> {
  const running = environments.flatMap((environment) => {
    const env = repo.environments.get(environment)!.data;
    const policy = repo.policies.get(environment)?.data.canary;
    return Object.entries(env.models).filter(([, d]) => d.canary && policy?.checks.length)
      .map(([model, d]) => ({ environment, model, canary: d.canary!, policy: policy!, namespace: env.kubernetes?.namespace ?? environment, mode: env.kubernetes?.mode }));
  });
  if (!running.length) return [];
  const sources: Partial<Record<'prometheus' | 'warehouse', MetricSource>> = options.prometheusUrl ? { prometheus: prometheusSource({ url: options.prometheusUrl }) } : {};
  const config = warehouseFromEnv(options.vars ?? process.env);
  let warehouse: WarehouseSource | undefined;
  try {
    if (config && running.some((r) => r.policy.checks.some((c) => c.source === 'warehouse'))) {
      sources.warehouse = warehouse = warehouseSource({ ...config, timeoutMs: options.timeoutMs, attempts: 1 });
    }
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    sources.warehouse = { evaluate: () => Promise.reject(e) };
  }
  try {
    const out: CanarySeries[] = [];
    for (const r of running) {
      const interval = parseDuration(r.policy.interval ?? '5m') ?? 300_000;
      const n = options.points ?? 12;
      const series = r.policy.checks.map((c): CanarySeries => ({
        environment: r.environment, model: r.model, version: r.canary.version, traffic: r.canary.traffic, check: c.name, source: c.source,
        ...(c.min !== undefined ? { min: c.min } : {}), ...(c.max !== undefined ? { max: c.max } : {}), points: [],
      }));
      for (let i = n - 1; i >= 0; i--) {
        const end = new Date(options.now.getTime() - i * interval);
        const observations = await observeChecks({
          checks: r.policy.checks, sources, window: { start: new Date(end.getTime() - interval), end },
          context: { namespace: r.namespace, model: r.model, version: r.canary.version, environment: r.environment, ...(r.mode ? { mode: r.mode } : {}) },
          requestsQueries: defaultRequestsQueries(r.mode),
        });
        observations.forEach((o, k) => series[k]!.points.push({ at: end.toISOString(), ...(o.value !== undefined ? { value: o.value } : {}), ...(o.error ? { error: o.error } : {}) }));
      }
      out.push(...series);
    }
    return out;
  } finally {
    await warehouse?.close();
  }
}

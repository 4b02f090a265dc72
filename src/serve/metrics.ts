// What `modelship serve` tells Prometheus (GET /metrics, text exposition format 0.0.4), through
// prom-client on a registry of its own (not prom-client's global one, so two services in one
// process, as in tests, never share or clash). Names follow https://prometheus.io/docs/practices/naming/:
// the `modelship_` prefix, base units (seconds), `_total` on counters, `_timestamp_seconds` on times.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResult = 'converged' | 'unchanged' | 'not-converged' | 'refused' | 'lease-held' | 'error';

export interface Metrics {
  /** one reconcile of one environment finished (duration in seconds) */
  reconcile(environment: string, result: ReconcileResult, seconds: number): void;
  /** objects whose live state differs from main (the plan's non-noop actions) */
  outOfSync(environment: string, objects: number): void;
  /** the last time a reconcile of the environment converged */
  lastSuccessfulSync(environment: string, at: Date): void;
  /** one webhook delivery handled (from receipt to 202/ignored), by event name */
  webhook(event: string, seconds: number): void;
  /** one gate result in a check report */
  gate(gate: string, outcome: string): void;
  /** this replica leads (holds the Lease of) the environment */
  leader(environment: string, leading: boolean): void;
}

/** Metrics that go nowhere: for commands and tests that run without a /metrics endpoint. */
export const noMetrics: Metrics = {
  reconcile() {}, outOfSync() {}, lastSuccessfulSync() {}, webhook() {}, gate() {}, leader() {},
};

/** The metric names, as the README lists them. */
export const metricNames = {
  reconcileDuration: 'modelship_reconcile_duration_seconds',
  outOfSync: 'modelship_objects_out_of_sync',
  lastSuccessfulSync: 'modelship_last_successful_sync_timestamp_seconds',
  webhookDuration: 'modelship_webhook_duration_seconds',
  gateResults: 'modelship_gate_results_total',
  leader: 'modelship_leader',
} as const;

// Label values come from our own configuration (environment and gate names) or from GitHub's
// signed deliveries (event names); anything else is folded into one value so a series count
// stays bounded whatever arrives.
const labelValue = /^[A-Za-z0-9_.-]{1,64}$/;
const bounded = (v: string): string => (labelValue.test(v) ? v : 'other');

export function createMetrics(): Metrics & { render(): Promise<{ contentType: string; body: string }> } {
  const registry = new Registry();
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, …
  collectDefaultMetrics({ register: registry });
  const reconcileDuration = new Histogram({
    name: metricNames.reconcileDuration, help: 'Time one reconcile of one environment took, by its result.',
    labelNames: ['environment', 'result'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600], registers: [registry],
  });
  const outOfSync = new Gauge({
    name: metricNames.outOfSync, help: 'Objects whose live state differs from the release branch (the last plan\'s creates, updates and deletes).',
    labelNames: ['environment'] as const, registers: [registry],
  });
  const lastSync = new Gauge({
    name: metricNames.lastSuccessfulSync, help: 'When a reconcile of the environment last converged (Unix time).',
    labelNames: ['environment'] as const, registers: [registry],
  });
  const webhookDuration = new Histogram({
    name: metricNames.webhookDuration, help: 'Time from receiving a verified webhook delivery to answering it, by event.',
    labelNames: ['event'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const gates = new Counter({
    name: metricNames.gateResults, help: 'Gate results in the check reports posted, by gate and outcome.',
    labelNames: ['gate', 'outcome'] as const, registers: [registry],
  });
  const leader = new Gauge({
    name: metricNames.leader, help: '1 when this replica holds the environment\'s Lease, else 0.',
    labelNames: ['environment'] as const, registers: [registry],
  });
  return {
    reconcile: (environment, result, seconds) => reconcileDuration.observe({ environment: bounded(environment), result }, seconds),
    outOfSync: (environment, objects) => outOfSync.set({ environment: bounded(environment) }, objects),
    lastSuccessfulSync: (environment, at) => lastSync.set({ environment: bounded(environment) }, at.getTime() / 1000),
    webhook: (event, seconds) => webhookDuration.observe({ event: bounded(event) }, seconds),
    gate: (gate, outcome) => gates.inc({ gate: bounded(gate), outcome: bounded(outcome) }),
    leader: (environment, leading) => leader.set({ environment: bounded(environment) }, leading ? 1 : 0),
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

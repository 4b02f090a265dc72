// The service's metrics, as /metrics will serve them in Prometheus's exposition format.
// STUB for the agent branch (interface agreed in #15, /work/notes/interfaces.md): helper "forward"
// implements it with prom-client; the integrator keeps that file. No prom-client here.

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

/** Does nothing. */
export const noMetrics: Metrics = {
  reconcile() {}, outOfSync() {}, lastSuccessfulSync() {}, webhook() {}, gate() {}, leader() {},
};

/** Stub: records nothing and renders an empty body (forward's prom-client version replaces it). */
export function createMetrics(): Metrics & { render(): Promise<{ contentType: string; body: string }> } {
  return { ...noMetrics, render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }) };
}

// What every gate returns. A gate is a pure function of plain data: it never fetches anything,
// and it judges only by its own thresholds. The runner (run.ts) applies the policy's mode
// (block / warn / off) and the rollback fast lane on top of what a gate says.

export type GateName =
  | 'validation' | 'schema' | 'features' | 'performance' | 'integrity' | 'soak'
  | 'canary' | 'drift' | 'shadow' | 'approvals' | 'freeze' | 'policy' | 'held'
  /** the repository policy's owners (policies/repository.yaml): code, policy and environment changes */
  | 'owners'
  /** an A/B test's design (at its start) and verdict (at its conclusion): gates/ab.ts */
  | 'ab';

/**
 * pass: the gate's rule holds. fail: it does not. warn: it holds, but something deserves a look
 * (or a warn-level threshold was crossed). skipped: the gate does not apply to this change.
 * error: the gate could not decide (a source timed out, a file was unreadable); never a pass.
 */
export type GateStatus = 'pass' | 'fail' | 'warn' | 'skipped' | 'error';

export interface GateResult {
  gate: GateName;
  status: GateStatus;
  /** one line, shown in the report's table: says what was found, with numbers */
  summary: string;
  /** further lines, folded under <details> in markdown */
  details?: string[];
  /** structured figures for renderers and JSON output (e.g. metric comparisons, PSI per feature) */
  data?: Record<string, unknown>;
}

/** Builds a result; keeps gate modules short. */
export function result(gate: GateName, status: GateStatus, summary: string, extra: { details?: string[]; data?: Record<string, unknown> } = {}): GateResult {
  return { gate, status, summary, ...(extra.details?.length ? { details: extra.details } : {}), ...(extra.data ? { data: extra.data } : {}) };
}

/** The worst of several statuses: error > fail > warn > pass > skipped. */
export function worst(statuses: GateStatus[]): GateStatus {
  const rank: Record<GateStatus, number> = { skipped: 0, pass: 1, warn: 2, fail: 3, error: 4 };
  return statuses.reduce<GateStatus>((a, b) => (rank[b] > rank[a] ? b : a), 'skipped');
}

// What every gate returns. A gate is a pure function of plain data: it never fetches anything,
// and it judges only by its own thresholds. The runner (run.ts) applies the policy's mode
// (block / warn / off) and the rollback fast lane on top of what a gate says.

export type GateName =
  | 'validation' | 'schema' | 'features' | 'performance' | 'integrity' | 'soak'
  | 'canary' | 'drift' | 'approvals' | 'freeze' | 'policy' | 'held';

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

/** Parses durations as the schema writes them ("90s", "48h", "7d", "1h30m", "2w") into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:[0-9]+[smhdw])+$/.test(text)) return undefined;
  const unit: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/([0-9]+)([smhdw])/g)) total += Number(n) * unit[u!]!;
  return total;
}

/** Formats milliseconds as "1d 2h", "47h 0m", "35m" for messages. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms) / 60_000);
  const h = Math.floor(rest / 60);
  rest -= h * 60;
  return h > 0 ? `${sign}${h}h${rest ? ` ${rest}m` : ''}` : `${sign}${rest}m`;
}

// Drift monitoring of what runs: per environment and model, the serving histograms of a window
// (measured in the warehouse, serving-drift.ts) judged against the training histograms of the
// version the environment pins, with the policy's bounds (gates/drift.ts does the judging).
// Pure: the measurement or its failure comes in, a verdict per model goes out. A measurement
// that failed or found no rows is "unknown", never "ok".

import type { Policy, VersionManifest } from '../config/types.js';
import { ExitCode } from '../errors.js';
import { driftGate, type DriftRow } from '../gates/drift.js';
import { formatDuration } from '../model/durations.js';
import type { ServingHistograms } from './serving-drift.js';
import { mdCode, mdText } from '../model/escape.js';

export type DriftStatus = 'ok' | 'warn' | 'fail' | 'unknown';

export interface ModelDrift {
  environment: string;
  model: string;
  /** the stable version the environment pins: its training histograms are the reference */
  version: string;
  status: DriftStatus;
  /** one line: the verdict and its main reason */
  summary: string;
  window: { start: string; end: string };
  /** the scoring log that was read */
  table?: string;
  /** serving rows in the window scored by the version */
  rows?: number;
  /** one row per feature, most drifted first (gates/drift.ts's rows) */
  features: DriftRow[];
  /** the model's output distribution */
  score?: DriftRow;
  /** the bounds applied (the policy's, else the defaults) */
  thresholds?: Record<string, { warn?: number; fail?: number }>;
  /** why the verdict is unknown: a timeout, an unreachable warehouse, no data */
  error?: string;
  timedOut?: boolean;
}

export interface DriftJudgeInput {
  environment: string;
  model: string;
  manifest: VersionManifest;
  policy: Policy['gates']['drift'];
  window: { start: Date; end: Date };
  table?: string;
  /** the measurement, or why there is none */
  measured: ServingHistograms | { error: string; timedOut?: boolean };
}

/** The verdict for one model. */
export function judgeDrift(input: DriftJudgeInput): ModelDrift {
  const { manifest } = input;
  const base = {
    environment: input.environment, model: input.model, version: manifest.version,
    window: { start: input.window.start.toISOString(), end: input.window.end.toISOString() },
    ...(input.table ? { table: input.table } : {}), features: [] as DriftRow[],
  };
  const span = formatDuration(input.window.end.getTime() - input.window.start.getTime());
  const m = input.measured;
  if ('error' in m) {
    // Warehouse messages span lines (DuckDB's, Snowflake's compilation errors): one line here.
    const error = m.error.replace(/\s+/g, ' ').trim();
    return { ...base, status: 'unknown', summary: `unknown: ${m.timedOut ? 'the warehouse query timed out' : 'the warehouse query failed'}: ${error}`, error, ...(m.timedOut ? { timedOut: true } : {}) };
  }
  if (!manifest.histograms || Object.keys(manifest.histograms).length === 0) {
    return { ...base, rows: m.rows, status: 'unknown', summary: `unknown: ${input.model}@${manifest.version} records no training histograms to compare with`, error: 'no training histograms' };
  }
  if (m.rows === 0) {
    const error = `no serving rows scored by ${manifest.version} in the last ${span}${input.table ? ` (${input.table})` : ''}`;
    return { ...base, rows: 0, status: 'unknown', summary: `unknown: ${error}`, error };
  }
  const scores = manifest.scoreHistogram ? { reference: manifest.scoreHistogram, ...(m.score ? { current: m.score } : {}) } : undefined;
  const gate = driftGate({
    reference: manifest.histograms, current: m.features, policy: input.policy,
    referenceLabel: `training data of ${manifest.version}`, currentLabel: `serving, last ${span}`,
    ...(scores ? { scores } : {}),
  });
  const data = gate.data as { features: DriftRow[]; score?: DriftRow; thresholds: ModelDrift['thresholds'] };
  const status: DriftStatus = gate.status === 'pass' ? 'ok' : gate.status === 'warn' ? 'warn' : gate.status === 'fail' ? 'fail' : 'unknown';
  return {
    ...base, rows: m.rows, status, summary: `${status}: ${gate.summary}`, features: data.features,
    ...(data.score ? { score: data.score } : {}), ...(data.thresholds ? { thresholds: data.thresholds } : {}),
    ...(status === 'unknown' ? { error: gate.summary } : {}),
  };
}

/**
 * The command's exit code: 3 when any verdict is unknown (the warehouse failed: drift is not
 * known to be ok), else 1 when any model is past its bounds, else 0. Warnings do not fail.
 */
export function driftExitCode(models: ModelDrift[]): number {
  if (models.some((m) => m.status === 'unknown')) return ExitCode.external;
  if (models.some((m) => m.status === 'fail')) return ExitCode.checkFailed;
  return ExitCode.ok;
}

/** The feature that drifted most (largest PSI), for one-line summaries. */
export function largestPsi(d: ModelDrift): { feature: string; psi: number } | undefined {
  const top = d.features.find((f) => f.psi !== undefined);
  return top ? { feature: top.feature, psi: top.psi! } : undefined;
}

const mark: Record<DriftStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', unknown: 'UNKNOWN' };
const fmt = (x: number | undefined, digits = 3) => (x === undefined ? '—' : x.toFixed(digits));
const pp = (x: number | undefined) => (x === undefined ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}pp`);

/** The terminal table: one block per model, one line per feature (and the score). */
export function driftText(models: ModelDrift[]): string {
  const out: string[] = [];
  for (const d of models) {
    if (out.length) out.push('');
    const rows = d.rows !== undefined ? `, ${d.rows.toLocaleString('en-US')} rows` : '';
    out.push(`${d.environment}  ${d.model}@${d.version}  ${mark[d.status]}${rows}  (${d.window.start.slice(0, 16)}Z → ${d.window.end.slice(0, 16)}Z)`);
    if (!d.features.length) {
      out.push(`  ${d.summary}`);
      continue;
    }
    const lines = [...d.features, ...(d.score ? [d.score] : [])].map((f) => [
      f.feature, f.status === 'pass' ? 'ok' : f.status.toUpperCase(), fmt(f.psi), fmt(f.linf), f.nullRate ? `${(f.nullRate.current * 100).toFixed(1)}%` : '—', pp(f.nullRate?.delta), f.reasons[0] ?? '',
    ]);
    const header = ['feature', 'status', 'PSI', 'L∞', 'nulls', 'Δnulls', 'why'];
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : i >= 2 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
    out.push(row(header));
    for (const l of lines) out.push(row(l));
    if (d.status !== 'ok') out.push(`  ${d.summary}`);
  }
  return out.join('\n');
}

/** The retraining trigger: the issue's title, body, and the marker that finds it again. */
export interface RetrainIssue {
  title: string;
  body: string;
  /** an HTML comment in the body, unique per environment and model */
  marker: string;
  labels: string[];
}

export const retrainLabel = 'retrain';

export function retrainIssue(d: ModelDrift, context: { commit?: string; command?: string } = {}): RetrainIssue {
  const rows = [...d.features, ...(d.score ? [d.score] : [])];
  const worst = rows.find((r) => r.status === 'fail') ?? rows.find((r) => r.status === 'warn');
  const why = worst ? headline(worst) : d.summary;
  const marker = `<!-- modelship:retrain ${d.environment}/${d.model} -->`;
  const table = [
    '| feature | status | PSI | L∞ | null rate (serving vs training) | why |',
    '|---|---|---:|---:|---|---|',
    ...rows.map((f) => `| ${mdText(f.feature)} | ${f.status === 'pass' ? 'ok' : `**${f.status}**`} | ${fmt(f.psi)} | ${fmt(f.linf)} | ${f.nullRate ? `${(f.nullRate.current * 100).toFixed(1)}% vs ${(f.nullRate.reference * 100).toFixed(1)}%` : '—'} | ${mdText(f.reasons.join('; '))} |`),
  ];
  const body = [
    marker,
    `**${mdText(`${d.model}@${d.version}`)}** in **${mdText(d.environment)}** has drifted past its policy's bounds: ${mdText(why)}.`,
    '',
    `Serving data from ${mdText(d.window.start)} to ${mdText(d.window.end)}${d.table ? ` (${mdText(d.table)}` : ''}${d.rows !== undefined ? `, ${d.rows.toLocaleString('en-US')} rows scored by ${mdText(d.version)})` : d.table ? ')' : ''}, compared with the training data of ${mdText(d.version)} on its frozen bins.`,
    '',
    ...table,
    '',
    'Retrain on recent data, register the run and promote it (`modelship register`, `modelship promote`).',
    `This issue is updated by ${mdCode(context.command ?? `modelship drift --env ${d.environment} --model ${d.model} --open-issue`)} while the drift lasts${context.commit ? ` (release repository at ${mdText(context.commit.slice(0, 12))})` : ''}; close it when a retrained version is live.`,
  ].join('\n');
  return { title: `retrain ${d.model}: ${why}`, body, marker, labels: [retrainLabel] };
}

/** "PSI 0.31 on txn_amount", "null rate +7.2pp on amount_zscore_30d", "L∞ 0.14 on merchant_category". */
function headline(r: DriftRow): string {
  const reason = r.reasons[0] ?? '';
  if (r.missing) return reason;
  if (reason.startsWith('PSI') && r.psi !== undefined) return `PSI ${r.psi.toFixed(2)} on ${r.feature}`;
  if (reason.startsWith('L∞') && r.linf !== undefined) return `L∞ ${r.linf.toFixed(2)} on ${r.feature}`;
  if (reason.startsWith('null rate') && r.nullRate) return `null rate ${pp(r.nullRate.delta)} on ${r.feature}`;
  return `${reason} (${r.feature})`;
}


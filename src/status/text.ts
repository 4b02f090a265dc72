// The status matrix in a terminal: one table per environment, a row per model; rows with a
// problem are marked with `!` and their problems listed under the table, worst first; then each
// running shadow and A/B test with its live numbers.

import type { EnvironmentStatus, ModelStatus, StatusSnapshot } from './snapshot.js';
import type { AbStatus, ShadowStatus } from './experiments.js';

const dash = '—';
const when = (iso: string | undefined) => (iso ? `${iso.slice(0, 16).replace('T', ' ')}Z` : dash);

/** "5%/5%": the canary share main asks for and the share live (either may be absent). */
export function canaryCell(m: ModelStatus): string {
  const want = m.pinned?.canary;
  const have = m.online?.canary;
  if (!want && !have) return dash;
  return `${want ? `${want.traffic}%` : dash}/${have ? `${have.traffic}%` : dash}${have && want && have.version !== want.version ? ` (${have.version})` : ''}`;
}

export function driftCell(m: ModelStatus): string {
  if (!m.drift) return dash;
  const psi = m.drift.largestPsi ? ` PSI ${m.drift.largestPsi.psi.toFixed(2)} ${m.drift.largestPsi.feature}` : '';
  return m.drift.status === 'ok' || m.drift.status === 'warn' || m.drift.status === 'fail' ? `${m.drift.status}${psi}` : 'unknown';
}

export function runCell(m: ModelStatus): string {
  if (!m.batch) return dash;
  const r = m.batch.lastRun;
  if (r) return `${r.state.toLowerCase()} ${when(r.scheduledTime)}`;
  return m.batch.state ? 'no run (7d)' : m.batch.detail.startsWith('unknown') ? 'unknown' : dash;
}

export function readyCell(m: ModelStatus): string {
  if (!m.online) return dash;
  if (m.online.ready === undefined) return 'unknown';
  return m.online.ready ? 'ready' : 'NOT READY';
}

export function deployedCell(m: ModelStatus): string {
  const d = m.lastDeployment;
  if (!d) return dash;
  return `${d.at ? when(d.at) : 'time unknown'} ${d.commit.slice(0, 7)}`;
}

function onlineCell(m: ModelStatus): string {
  if (!m.online) return dash;
  if (m.online.detail.startsWith('unknown')) return 'unknown';
  if (m.online.detail === 'not deployed') return 'not deployed';
  return m.online.version ?? (m.online.canary ? '(previous)' : '?');
}

function batchCell(m: ModelStatus): string {
  if (!m.batch) return dash;
  if (m.batch.detail.startsWith('unknown')) return 'unknown';
  if (m.batch.detail === 'not deployed') return 'not deployed';
  return `${m.batch.version ?? '?'}${m.batch.state && m.batch.state !== 'started' ? ` (${m.batch.state})` : ''}`;
}

export function stateCell(m: ModelStatus): string {
  return m.state === 'ok' ? 'ok' : m.state.toUpperCase();
}

export function environmentText(e: EnvironmentStatus): string {
  const header = ['', 'MODEL', 'MAIN', 'EKS', 'SNOWFLAKE', 'CANARY want/live', 'READY', 'LAST BATCH RUN', 'DRIFT', 'DEPLOYED', 'STATE'];
  const rows = e.models.map((m) => [
    m.state === 'ok' || m.state === 'converging' ? ' ' : '!', m.model, m.pinned?.version ?? dash, onlineCell(m), batchCell(m), canaryCell(m),
    readyCell(m), runCell(m), driftCell(m), deployedCell(m), stateCell(m),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [`${e.environment} (main at ${e.commit.slice(0, 12)})`, line(header), ...rows.map(line)];
  for (const err of e.errors) out.push(`  ! cannot read ${err}`);
  for (const m of e.models) for (const p of m.problems) out.push(`  ${p.kind === 'converging' ? '~' : '!'} ${m.model}: ${p.message}`);
  for (const m of e.models) {
    if (m.shadow) out.push(`  shadow ${m.model}: ${shadowText(m.shadow)}`);
    if (m.ab) out.push(`  A/B ${m.model}: ${abText(m.ab)}`);
  }
  return out.join('\n');
}

export function statusText(s: StatusSnapshot): string {
  return s.environments.map(environmentText).join('\n\n');
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const num = (x: number, digits = 4) => String(Number(x.toPrecision(digits)));
const signed = (x: number, digits = 4) => `${x > 0 ? '+' : ''}${num(x, digits)}`;
const span = (w: { start: string; end: string } | undefined) => (w ? ` (${when(w.start)} to ${when(w.end)})` : '');

/** What the shadow gate would say now, in a few words. */
export function shadowVerdict(s: ShadowStatus): string {
  switch (s.gate.status) {
    case 'pass': return 'would pass';
    case 'warn': return `would pass with a warning${s.gate.note ? ` (${s.gate.note})` : ''}: ${s.gate.findings.length ? s.gate.findings.join('; ') : s.gate.summary.replace(/^shadow \S+ vs champion \S+: /, '')}`;
    case 'fail': return `would BLOCK: ${s.gate.findings.length ? s.gate.findings.join('; ') : s.gate.summary.replace(/^shadow \S+ vs champion \S+: /, '').replace(/ \([^()]*\)$/, '')}`;
    case 'skipped': return `not judged: ${s.gate.summary}`;
    default: return 'unknown (never a pass)';
  }
}

/** "2026.11.20-1 vs champion 2026.11.06-1 (…): coverage 100.0% of 24,000 requests; … → shadow gate would pass" */
export function shadowText(s: ShadowStatus): string {
  const head = `${s.candidate} vs champion ${s.champion}${span(s.window)}`;
  const f = s.figures;
  if (!f) return `${head}: unknown: ${s.unknown ?? 'not read'} → shadow gate ${shadowVerdict(s)}`;
  const lat = (k: 'p50' | 'p99') => (f.latency.candidate[k] !== undefined && f.latency.champion[k] !== undefined ? `${f.latency.candidate[k]!.toFixed(1)} vs ${f.latency.champion[k]!.toFixed(1)} ms` : 'unknown');
  const parts = [
    `coverage ${pct(f.coverage)} of ${count(f.championRequests)} requests`,
    `error rate ${pct(f.errorRate.candidate, 2)} vs ${pct(f.errorRate.champion, 2)}`,
    `latency p50 ${lat('p50')}, p99 ${lat('p99')}`,
    `score PSI ${f.psi !== undefined ? f.psi.toFixed(3) : 'unknown'}`,
    ...(f.threshold !== undefined ? [`agreement ${f.agreement !== undefined ? pct(f.agreement) : 'unknown'} at ${f.threshold}`] : []),
  ];
  return `${head}: ${parts.join('; ')} → shadow gate ${shadowVerdict(s)}`;
}

/** "2026.11.20-1 (B, 50%) vs 2026.11.06-1 (A) (…): approval-rate …; effect …, 95% CI […]; → no verdict yet" */
export function abText(a: AbStatus): string {
  const head = `${a.b} (B, ${a.traffic}%) vs ${a.a} (A)${span(a.window)}`;
  if (a.unknown) return `${head}: ${a.says}`;
  const parts = [
    ...(a.samples ? [`requests with an outcome A ${count(a.samples.a)}, B ${count(a.samples.b)}${a.horizon ? ` of the horizon ${count(a.horizon.a)} / ${count(a.horizon.b)}` : ''}`] : []),
    ...(a.means && a.metric ? [`${a.metric} A ${num(a.means.a)}, B ${num(a.means.b)}`] : []),
    ...(a.effect !== undefined && a.ci ? [`effect ${signed(a.effect)}${a.relativeEffect !== undefined ? ` (${signed(a.relativeEffect * 100, 3)}%)` : ''}, always-valid ${Math.round((1 - (a.alpha ?? 0.05)) * 100)}% CI [${signed(a.ci[0])}, ${signed(a.ci[1])}]`] : []),
  ];
  return `${head}: ${parts.join('; ')} → ${a.says}`;
}

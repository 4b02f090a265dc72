// The status matrix in a terminal: one table per environment, a row per model; rows with a
// problem are marked with `!` and their problems listed under the table, worst first.

import type { EnvironmentStatus, ModelStatus, StatusSnapshot } from './snapshot.js';

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
  return out.join('\n');
}

export function statusText(s: StatusSnapshot): string {
  return s.environments.map(environmentText).join('\n\n');
}

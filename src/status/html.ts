// The status dashboard: one self-contained HTML page (inline CSS and SVG, no script, no font or
// CDN: it opens offline, from a CI artifact or a laptop). Sections: the environment × model
// matrix with problems standing out, a deployment timeline, per-feature PSI bars with the policy's
// bounds, each running shadow and A/B test with its live numbers, and each running canary's
// metrics over time. Pure: data in, text out; every value is
// escaped.

import type { ModelDrift } from '../metrics/drift-monitor.js';
import type { DeploymentRow } from '../sync/targets/snowflake.js';
import type { CanarySeries } from './canary.js';
import type { ModelStatus, StatusSnapshot } from './snapshot.js';
import { htmlText } from '../model/escape.js';
import { abText, canaryCell, deployedCell, driftCell, readyCell, runCell, shadowVerdict, stateCell } from './text.js';

export interface DashboardInput {
  snapshot: StatusSnapshot;
  /** each environment's deployment log, newest first */
  history: Record<string, DeploymentRow[]>;
  drift: ModelDrift[];
  canaries: CanarySeries[];
}

const esc = htmlText;
const dash = '—';

const CSS = `
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--unknown:#6e40c9;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:1px solid var(--line);background:var(--bg)}h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}h3{font-size:14px;margin:16px 0 6px}
main{padding:0 24px 32px;max-width:1400px}.muted{color:var(--muted)}code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
.badges span{display:inline-block;margin-right:8px;padding:2px 8px;border-radius:12px;font-weight:600;font-size:12px;background:#eaeef2}
.b-ok{color:var(--ok)}.b-bad{color:var(--bad)}.b-unknown{color:var(--unknown)}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);white-space:nowrap}th{font-size:12px;color:var(--muted);font-weight:600}
tr.s-out-of-sync td,tr.s-unhealthy td{background:#fff1f0}tr.s-split-brain td{background:#ffe4e1}tr.s-unknown td{background:#f5f0ff}tr.s-converging td{background:#fff8e5}
.state{font-weight:700}.s-ok .state{color:var(--ok)}.s-out-of-sync .state,.s-unhealthy .state,.s-split-brain .state{color:var(--bad)}.s-unknown .state{color:var(--unknown)}.s-converging .state{color:var(--warn)}
ul.problems{margin:4px 0 0;padding-left:18px}ul.problems li{margin:2px 0}li.p-converging{color:var(--warn)}li.p-unknown{color:var(--unknown)}li.p-bad{color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}.card{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#1f2328}svg .axis{stroke:var(--line)}
`;

export function dashboardHtml(input: DashboardInput): string {
  const s = input.snapshot;
  const rows = s.environments.flatMap((e) => e.models);
  const count = (pred: (m: ModelStatus) => boolean) => rows.filter(pred).length;
  const bad = count((m) => m.state === 'out-of-sync' || m.state === 'unhealthy' || m.state === 'split-brain');
  const unknown = count((m) => m.state === 'unknown') + s.environments.filter((e) => e.errors.length).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>modelship status — ${esc(s.generatedAt.slice(0, 16))}Z</title><style>${CSS}</style></head>
<body><header><h1>modelship status</h1>
<div class="muted">generated ${esc(s.generatedAt.replace('T', ' ').slice(0, 19))} UTC · main at <code>${esc(s.commit.slice(0, 12))}</code> · split brain after ${esc(Math.round(s.syncGraceMs / 60_000))} min</div>
<div class="badges" data-testid="summary"><span class="b-ok">${count((m) => m.state === 'ok')} ok</span><span class="b-bad">${bad} need attention</span><span class="b-unknown">${unknown} unknown</span></div></header>
<main>
<section data-testid="matrix"><h2>Environments × models</h2>${s.environments.map(environmentTable).join('\n')}</section>
<section data-testid="timeline"><h2>Deployments</h2>${timeline(input.history, s.generatedAt)}</section>
<section data-testid="drift"><h2>Drift (PSI per feature)</h2>${driftBars(input.drift)}</section>
<section data-testid="experiments"><h2>Shadows and A/B tests</h2>${experiments(rows)}</section>
<section data-testid="canary"><h2>Canary metrics</h2>${canaryCharts(input.canaries)}</section>
</main></body></html>
`;
}

function environmentTable(e: StatusSnapshot['environments'][number]): string {
  const head = ['model', 'main', 'EKS', 'Snowflake', 'canary want/live', 'ready', 'last batch run', 'drift', 'deployed', 'state'];
  const body = e.models.map((m) => `<tr class="s-${esc(m.state)}" data-model="${esc(m.model)}">${[
    `<b>${esc(m.model)}</b>`, esc(m.pinned?.version ?? dash), esc(m.online ? (m.online.version ?? (m.online.detail.startsWith('unknown') ? 'unknown' : m.online.canary ? '(previous)' : m.online.detail)) : dash),
    esc(m.batch ? (m.batch.version ? `${m.batch.version}${m.batch.state !== 'started' ? ` (${m.batch.state})` : ''}` : m.batch.detail.startsWith('unknown') ? 'unknown' : m.batch.detail) : dash),
    esc(canaryCell(m)), esc(readyCell(m)), esc(runCell(m)), esc(driftCell(m)), `<span class="mono">${esc(deployedCell(m))}</span>`, `<span class="state">${esc(stateCell(m))}</span>`,
  ].map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  const problems = [
    ...e.errors.map((x) => `<li class="p-unknown">cannot read ${esc(x)}</li>`),
    ...e.models.flatMap((m) => m.problems.map((p) => `<li class="p-${p.kind === 'converging' ? 'converging' : p.kind === 'unknown' ? 'unknown' : 'bad'}"><b>${esc(m.model)}</b>: ${esc(p.message)}</li>`)),
  ];
  return `<h3 data-env="${esc(e.environment)}">${esc(e.environment)} <span class="muted mono">${esc(e.commit.slice(0, 12))}</span></h3>
<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table>${problems.length ? `<ul class="problems">${problems.join('')}</ul>` : ''}`;
}

/** One lane per environment/model; a dot per deployment, labelled with its version. */
function timeline(history: Record<string, DeploymentRow[]>, now: string): string {
  const lanes = [...new Set(Object.values(history).flat().map((r) => `${r.environment}/${r.model}`))].sort();
  if (!lanes.length) return '<p class="muted">No deployments recorded yet (MODELSHIP_DEPLOYMENTS is written by the sync agent).</p>';
  const rows = Object.values(history).flat();
  // A snapshot as of an earlier time (--at) may predate some rows: the axis covers them all.
  const end = Math.max(Date.parse(now), ...rows.map((r) => Date.parse(r.deployedAt)));
  const start = Math.min(...rows.map((r) => Date.parse(r.deployedAt)), end - 3_600_000);
  const span = Math.max(1, end - start);
  const left = 210;
  const width = 1100;
  const lane = 34;
  const height = lanes.length * lane + 30;
  const x = (t: number) => left + ((t - start) / span) * (width - left - 20);
  const colour: Record<string, string> = { version: '#0969da', canary: '#9a6700', config: '#57606a', rollback: '#cf222e' };
  const parts: string[] = [];
  lanes.forEach((l, i) => {
    const y = 20 + i * lane;
    parts.push(`<text x="8" y="${y + 4}">${esc(l)}</text><line class="axis" x1="${left}" y1="${y}" x2="${width - 20}" y2="${y}"/>`);
    const own = rows.filter((r) => `${r.environment}/${r.model}` === l).sort((a, b) => Date.parse(a.deployedAt) - Date.parse(b.deployedAt));
    let previous = -Infinity;
    let stack = 0;
    for (const r of own) {
      const at = x(Date.parse(r.deployedAt));
      // Labels of deployments close together step sideways instead of overprinting.
      stack = at - previous < 90 ? stack + 1 : 0;
      previous = at;
      const anchor = at > width - 90 ? 'end' : at < left + 40 ? 'start' : 'middle';
      const lx = anchor === 'end' ? at - 8 - stack * 90 : at + stack * 90;
      parts.push(`<circle cx="${at.toFixed(1)}" cy="${y}" r="6" fill="${colour[r.change] ?? '#0969da'}"><title>${esc(`${r.deployedAt} ${r.model} ${r.previousVersion ? `${r.previousVersion} → ` : ''}${r.version} (${r.change}, ${r.kind}) at ${r.commit.slice(0, 12)}`)}</title></circle><text x="${lx.toFixed(1)}" y="${y - 9}" text-anchor="${anchor}">${esc(r.version)}</text>`);
    }
  });
  const tick = (t: number, anchor: string) => `<text x="${x(t).toFixed(1)}" y="${height - 4}" text-anchor="${anchor}" class="muted">${esc(new Date(t).toISOString().slice(0, 16).replace('T', ' '))}Z</text>`;
  parts.push(tick(start, 'start'), tick(end, 'end'));
  return `<svg role="img" aria-label="deployment timeline" viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px">${parts.join('')}</svg>`;
}

/** Horizontal PSI bars per feature, with the warn and fail bounds as lines. */
function driftBars(drift: ModelDrift[]): string {
  if (!drift.length) return '<p class="muted">Drift was not measured (no warehouse connection, or --no-drift).</p>';
  return `<div class="grid">${drift.map((d) => {
    const rows = [...d.features, ...(d.score ? [d.score] : [])];
    const warn = d.thresholds?.psi?.warn ?? 0.1;
    const fail = d.thresholds?.psi?.fail ?? 0.25;
    const scale = Math.max(fail * 1.6, ...rows.map((r) => r.psi ?? 0));
    const left = 150;
    const width = 420;
    const bar = 20;
    const x = (v: number) => left + (v / scale) * (width - left - 50);
    const colour = (r: (typeof rows)[number]) => (r.status === 'fail' ? '#cf222e' : r.status === 'warn' ? '#bf8700' : r.status === 'pass' ? '#2da44e' : '#8250df');
    const height = rows.length * bar + 24;
    const parts = rows.map((r, i) => {
      const y = 6 + i * bar;
      const w = Math.max(1, x(r.psi ?? 0) - left);
      return `<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(r.feature)}</text><rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="${bar - 6}" fill="${colour(r)}"><title>${esc(`${r.feature}: ${r.psi === undefined ? 'no PSI' : `PSI ${r.psi.toFixed(3)}`}${r.reasons.length ? ` — ${r.reasons.join('; ')}` : ''}`)}</title></rect><text x="${(left + w + 4).toFixed(1)}" y="${y + 12}">${esc(r.psi === undefined ? dash : r.psi.toFixed(3))}</text>`;
    });
    // warn's label to the left of its line, fail's to the right: they stay apart however close the lines.
    const rule = (v: number, label: string, c: string, anchor: 'end' | 'start') => `<line x1="${x(v).toFixed(1)}" y1="2" x2="${x(v).toFixed(1)}" y2="${height - 18}" stroke="${c}" stroke-dasharray="4 3"/><text x="${(x(v) + (anchor === 'end' ? -3 : 3)).toFixed(1)}" y="${height - 4}" text-anchor="${anchor}">${esc(`${label} ${v}`)}</text>`;
    const body = rows.length
      ? `<svg role="img" aria-label="PSI of ${esc(d.model)}" viewBox="0 0 ${width} ${height}" width="100%">${parts.join('')}${rule(warn, 'warn', '#bf8700', 'end')}${rule(fail, 'fail', '#cf222e', 'start')}</svg>`
      : `<p>${esc(d.summary)}</p>`;
    return `<div class="card" data-drift="${esc(`${d.environment}/${d.model}`)}"><b>${esc(d.environment)} · ${esc(d.model)}@${esc(d.version)}</b> <span class="state ${d.status === 'ok' ? 'b-ok' : d.status === 'unknown' ? 'b-unknown' : 'b-bad'}">${esc(d.status)}</span>${d.rows !== undefined ? ` <span class="muted">${esc(d.rows.toLocaleString('en-US'))} rows</span>` : ''}${body}</div>`;
  }).join('')}</div>`;
}

/** One small line chart per canary check: its value per interval and its bounds. */
function canaryCharts(series: CanarySeries[]): string {
  if (!series.length) return '<p class="muted">No canary is running.</p>';
  return `<div class="grid">${series.map((c) => {
    const width = 420;
    const height = 150;
    const pad = { l: 76, r: 12, t: 12, b: 22 };
    const values = c.points.map((p) => p.value).filter((v): v is number => v !== undefined);
    const bounds = [c.min, c.max].filter((v): v is number => v !== undefined);
    const lo = Math.min(...values, ...bounds, 0);
    const hi = Math.max(...values, ...bounds, lo + 1e-9) * 1.1;
    const x = (i: number) => pad.l + (i / Math.max(1, c.points.length - 1)) * (width - pad.l - pad.r);
    const y = (v: number) => height - pad.b - ((v - lo) / (hi - lo)) * (height - pad.t - pad.b);
    const line = c.points.map((p, i) => (p.value === undefined ? undefined : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`)).filter(Boolean).join(' ');
    const dots = c.points.map((p, i) => (p.value === undefined
      ? `<text x="${x(i).toFixed(1)}" y="${height - pad.b - 4}" text-anchor="middle" fill="#8250df">?<title>${esc(`${p.at}: ${p.error ?? 'no data'}`)}</title></text>`
      : `<circle cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="${(c.max !== undefined && p.value > c.max) || (c.min !== undefined && p.value < c.min) ? '#cf222e' : '#0969da'}"><title>${esc(`${p.at}: ${p.value}`)}</title></circle>`)).join('');
    const bound = (v: number | undefined, label: string) => (v === undefined ? '' : `<line x1="${pad.l}" y1="${y(v).toFixed(1)}" x2="${width - pad.r}" y2="${y(v).toFixed(1)}" stroke="#cf222e" stroke-dasharray="4 3"/><text x="${pad.l - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(`${label} ${v}`)}</text>`);
    const first = c.points[0]?.at.slice(11, 16) ?? '';
    const last = c.points.at(-1)?.at.slice(11, 16) ?? '';
    const missing = c.points.filter((p) => p.value === undefined).length;
    return `<div class="card" data-canary="${esc(`${c.environment}/${c.model}/${c.check}`)}"><b>${esc(c.environment)} · ${esc(c.model)}@${esc(c.version)} at ${esc(c.traffic)}%</b> — ${esc(c.check)} <span class="muted">(${esc(c.source)})</span>
<svg role="img" aria-label="${esc(c.check)} over time" viewBox="0 0 ${width} ${height}" width="100%"><line class="axis" x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}"/>${bound(c.max, 'max')}${bound(c.min, 'min')}${line ? `<polyline points="${line}" fill="none" stroke="#0969da" stroke-width="1.5"/>` : ''}${dots}<text x="${pad.l}" y="${height - 6}">${esc(first)}Z</text><text x="${width - pad.r}" y="${height - 6}" text-anchor="end">${esc(last)}Z</text></svg>${missing ? `<div class="muted">${missing} of ${c.points.length} points without data${c.points.find((p) => p.error) ? `: ${esc(c.points.find((p) => p.error)!.error!)}` : ''}</div>` : ''}</div>`;
  }).join('')}</div>`;
}

/** A card per running shadow (its numbers beside the champion's, and the shadow gate now) and per A/B (samples, effect, verdict). */
function experiments(rows: ModelStatus[]): string {
  const cards: string[] = [];
  const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)}%`;
  const gateClass = (s: string) => (s === 'pass' ? 'b-ok' : s === 'warn' ? 'b-unknown' : s === 'fail' ? 'b-bad' : 'b-unknown');
  for (const m of rows) {
    const s = m.shadow;
    if (s) {
      const f = s.figures;
      const lat = (k: 'p50' | 'p99', who: 'candidate' | 'champion') => (f?.latency[who][k] !== undefined ? `${f.latency[who][k]!.toFixed(1)} ms` : 'unknown');
      const table = f ? `<table><thead><tr><th></th><th>shadow ${esc(s.candidate)}</th><th>champion ${esc(s.champion)}</th></tr></thead><tbody>
<tr><td>requests</td><td>${esc(f.bothAnswered.toLocaleString('en-US'))} answered by both</td><td>${esc(f.championRequests.toLocaleString('en-US'))}</td></tr>
<tr><td>coverage</td><td>${esc(pct(f.coverage))}</td><td>${dash}</td></tr>
<tr><td>error rate</td><td>${esc(pct(f.errorRate.candidate, 2))}</td><td>${esc(pct(f.errorRate.champion, 2))}</td></tr>
<tr><td>latency p50</td><td>${esc(lat('p50', 'candidate'))}</td><td>${esc(lat('p50', 'champion'))}</td></tr>
<tr><td>latency p99</td><td>${esc(lat('p99', 'candidate'))}</td><td>${esc(lat('p99', 'champion'))}</td></tr>
<tr><td>score PSI</td><td colspan="2">${esc(f.psi !== undefined ? f.psi.toFixed(3) : 'unknown')}</td></tr>
${f.threshold !== undefined ? `<tr><td>decision agreement at ${esc(f.threshold)}</td><td colspan="2">${esc(f.agreement !== undefined ? pct(f.agreement) : 'unknown')}</td></tr>` : ''}
</tbody></table>` : `<p class="b-unknown">unknown: ${esc(s.unknown ?? 'not read')}</p>`;
      cards.push(`<div class="card" data-shadow="${esc(`${m.environment}/${m.model}`)}"><b>${esc(m.environment)} · ${esc(m.model)}: shadow ${esc(s.candidate)}</b>${s.window ? ` <span class="muted">${esc(s.window.start.slice(0, 16).replace('T', ' '))}Z to ${esc(s.window.end.slice(0, 16).replace('T', ' '))}Z</span>` : ''}
${table}<div>shadow gate: <span class="state ${gateClass(s.gate.status)}">${esc(shadowVerdict(s))}</span></div></div>`);
    }
    const a = m.ab;
    if (a) {
      const rowsAb = [
        ...(a.samples ? [['requests with an outcome', `A ${a.samples.a.toLocaleString('en-US')} · B ${a.samples.b.toLocaleString('en-US')}${a.horizon ? ` of the horizon ${a.horizon.a.toLocaleString('en-US')} / ${a.horizon.b.toLocaleString('en-US')}` : ''}`]] : []),
        ...(a.means && a.metric ? [[a.metric, `A ${Number(a.means.a.toPrecision(4))} · B ${Number(a.means.b.toPrecision(4))}`]] : []),
        ...(a.effect !== undefined && a.ci ? [['effect (B − A)', `${Number(a.effect.toPrecision(4))}, always-valid ${Math.round((1 - (a.alpha ?? 0.05)) * 100)}% CI [${Number(a.ci[0].toPrecision(4))}, ${Number(a.ci[1].toPrecision(4))}]`]] : []),
      ];
      const verdictClass = a.unknown ? 'b-unknown' : a.verdict === 'b-better' ? 'b-ok' : a.verdict === 'b-worse' ? 'b-bad' : '';
      cards.push(`<div class="card" data-ab="${esc(`${m.environment}/${m.model}`)}"><b>${esc(m.environment)} · ${esc(m.model)}: A/B ${esc(a.b)} (B, ${esc(a.traffic)}%) vs ${esc(a.a)} (A)</b>
${rowsAb.length ? `<table><tbody>${rowsAb.map(([k, v]) => `<tr><td>${esc(k!)}</td><td>${esc(v!)}</td></tr>`).join('')}</tbody></table>` : ''}<div title="${esc(abText(a))}">verdict: <span class="state ${verdictClass}">${esc(a.says)}</span></div></div>`);
    }
  }
  if (!cards.length) return '<p class="muted">No shadow or A/B test is running (or they were not read: --no-shadow-ab).</p>';
  return `<div class="grid">${cards.join('')}</div>`;
}

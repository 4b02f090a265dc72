// One report, three renderings: markdown for the pull request (check run and sticky comment),
// text for terminals and CI logs, JSON for machines. The markdown knows GitHub's size limits.
// Every value in the markdown that comes from data (a manifest, the pull request, git, a gate's
// summary quoting them) goes through model/escape.ts: no tag, link or @mention survives.

import { formatProblem } from '../../errors.js';
import { abSection } from './ab.js';
import type { DriftRow } from '../drift.js';
import type { MetricRow } from '../performance.js';
import type { JudgedChange, JudgedGate, Report, Verdict } from '../run.js';
import type { GateStatus } from '../types.js';
import { planMarkdown, planText } from '../../sync/show.js';
import { shadowText } from '../../status/text.js';
import { commentJson, mdCode, mdFence, mdText, mermaidLabel } from '../../model/escape.js';

/** Hidden marker that finds the sticky comment again; the binding rides along for the merge queue. */
export const commentMarker = '<!-- modelship:check -->';

const icon: Record<GateStatus, string> = { pass: '✅', fail: '❌', warn: '⚠️', skipped: '➖', error: '⛔' };
const verdictIcon: Record<Verdict, string> = {
  ready: '✅', warnings: '⚠️', 'waiting-for-approval': '⏳', blocked: '❌', invalid: '❌', 'no-changes': '➖',
};

export function renderJson(report: Report): string {
  if (!report.preview) return JSON.stringify(report, null, 2);
  // The preview's unchanged objects are counted, not listed, as the text and Markdown plans do:
  // a one-model change in an environment of hundreds of models would otherwise carry every
  // other object twice, desired and live (7 MB of JSON at 600 models). A warning on an
  // unchanged object is for the reader, so such an action stays.
  const plans = report.preview.plans.map((p) => {
    const actions = p.actions.filter((a) => a.op !== 'noop' || a.warning || a.refused);
    return { ...p, actions, unchanged: p.actions.filter((a) => a.op === 'noop').length };
  });
  return JSON.stringify({ ...report, preview: { ...report.preview, plans } }, null, 2);
}

/** For terminals: the verdict, then per change one line per gate, then details indented. */
export function renderText(report: Report): string {
  return [renderGatesText(report), ...runningShadowsText(report), ...(report.preview ? previewText(report.preview) : [])].join('\n');
}

/** Shadows that keep running in a changed environment: the line `modelship status` prints for each. */
function runningShadowsText(report: Report): string[] {
  if (!report.runningShadows?.length) return [];
  return ['', 'Running shadows (informational: not part of the verdict):', ...report.runningShadows.map((s) => `  ${s.environment}/${s.model}: shadow ${shadowText(s)}`)];
}

function previewText(preview: NonNullable<Report['preview']>): string[] {
  const changed = preview.plans.filter((p) => p.actions.some((a) => a.op !== 'noop'));
  if (!changed.length && !preview.problems.length) return [];
  return ['', 'What merge will do:', ...changed.map((p) => planText(p).replace(/^/gm, '  ')), ...preview.problems.map((p) => `  ${p.environment}: cannot render: ${p.message}`)];
}

function renderGatesText(report: Report): string {
  // "blocked: 2 blocking results ..." reads "BLOCKED: 2 blocking results ...", not "BLOCKED: blocked: ...".
  const word = `${report.verdict.replace(/-/g, ' ')}: `;
  const headline = report.headline.startsWith(word) ? report.headline.slice(word.length) : report.headline;
  const lines = [`${report.verdict.toUpperCase()}: ${headline}`, `  base ${report.base.label}, head ${report.head.label}`];
  for (const p of report.problems ?? []) lines.push(`  ${formatProblem(p)}`);
  for (const c of report.changes) {
    lines.push('', `${c.change.kind} ${c.change.environment}: ${c.change.description}`);
    const width = Math.max(...c.gates.map((g) => g.gate.length));
    for (const g of c.gates) {
      lines.push(`  ${g.status.padEnd(7)} ${g.gate.padEnd(width)}  ${g.summary}${g.note ? `  [${g.note}]` : ''}`);
      for (const d of g.status === 'pass' || g.status === 'skipped' ? [] : g.details ?? []) lines.push(`  ${' '.repeat(8 + width)}  · ${d}`);
    }
  }
  return lines.join('\n');
}

export interface MarkdownOptions {
  /** the most characters GitHub accepts (65,536 for a comment; 65,535 for a check run's summary) */
  limit?: number;
  /** a link to the full report (the check run's page or the workflow run), offered when truncated */
  fullReportUrl?: string;
}

/** For GitHub: verdict line, one table of every gate of every change, metrics, drift, details folded. */
export function renderMarkdown(report: Report, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? 65_000;
  const head = [
    commentMarker,
    `### ${verdictIcon[report.verdict]} modelship: ${mdText(report.headline)}`,
    '',
    `<sub>base ${mdCode(report.base.label)} · head ${mdCode(report.head.label)} · evaluated ${mdText(report.evaluatedAt)}</sub>`,
    '',
  ];
  const sections: string[][] = [];
  if (report.problems?.length) {
    sections.push(mdFence(report.problems.map(formatProblem)));
  }
  if (report.changes.length) sections.push(gateTable(report.changes));
  for (const c of report.changes) {
    const perf = c.gates.find((g) => g.gate === 'performance' && g.data);
    if (perf) sections.push(metricsTable(c, perf));
    const drift = c.gates.find((g) => g.gate === 'drift' && g.data);
    if (drift) sections.push(driftSection(c, drift));
    const ab = c.gates.find((g) => g.gate === 'ab' && g.data);
    if (ab) sections.push(abSection(c, ab));
  }
  if (report.runningShadows?.length) {
    sections.push(['', '**Running shadows** <sub>(informational: not part of the verdict)</sub>', '',
      ...report.runningShadows.map((s) => `- ${icon[s.gate.status]} **${mdText(s.environment)} · ${mdText(s.model)}**: shadow ${mdText(shadowText(s))}`)]);
  }
  if (report.preview?.plans.some((p) => p.actions.some((a) => a.op !== 'noop')) || report.preview?.problems.length) {
    sections.push(['', ...planMarkdown(report.preview.plans.filter((p) => p.actions.some((a) => a.op !== 'noop'))).split('\n'),
      ...report.preview.problems.map((p) => `> ⛔ ${mdText(p.environment)}: cannot render: ${mdText(p.message)}`)]);
  }
  const folded = report.changes.flatMap((c) => c.gates.filter((g) => g.details?.length).map((g) => detailsBlock(c, g)));
  if (folded.length) sections.push(['', ...folded.flat()]);
  if (report.binding) sections.push(['', `<!-- modelship:binding ${commentJson(report.binding)} -->`]);
  return fit(head, sections, limit, options.fullReportUrl);
}

function gateTable(changes: JudgedChange[]): string[] {
  const rows = ['| change | gate | result | |', '|---|---|---|---|'];
  for (const c of changes) {
    c.gates.forEach((g, i) => {
      const what = i === 0 ? `**${mdText(c.change.environment)}** · ${c.change.kind}<br>${mdText(c.change.description)}` : '';
      rows.push(`| ${what} | ${g.gate} | ${icon[g.status]} ${g.status}${g.blocking ? ' **(blocking)**' : ''} | ${mdText(g.summary)}${g.note ? ` _(${mdText(g.note)})_` : ''} |`);
    });
  }
  return rows;
}

function metricsTable(c: JudgedChange, g: JudgedGate): string[] {
  const rows = (g.data!.rows as MetricRow[] | undefined) ?? [];
  if (!rows.length) return [];
  const champion = (g.data!.championVersion as string | undefined) ?? 'live';
  const out = ['', `**Metrics: ${mdText(c.change.model)} ${mdText(c.change.candidate)} vs ${mdText(champion)} in ${mdText(c.change.environment)}**`, '',
    `| metric | slice | candidate | ${mdText(champion)} | Δ | bound | |`, '|---|---|--:|--:|--:|---|---|'];
  for (const r of rows) {
    out.push(`| ${mdText(r.metric)} | ${r.slice === undefined ? 'overall' : mdText(r.slice)} | ${num(r.candidate)} | ${num(r.champion)} | ${signed(r.delta)} | ${mdText(r.bound)} | ${icon[r.status]} |`);
  }
  return out;
}

function driftSection(c: JudgedChange, g: JudgedGate): string[] {
  const rows = ((g.data!.features as DriftRow[] | undefined) ?? []).filter((r) => r.psi !== undefined);
  if (!rows.length) return [];
  const top = rows.slice(0, 8);
  const out = ['', `**Drift: ${mdText(c.change.model)} ${mdText(c.change.candidate)}** — ${mdText(g.data!.current ?? '')} vs ${mdText(g.data!.reference ?? '')}`, ''];
  // A bar chart reads faster than a column of numbers, and GitHub renders mermaid natively.
  out.push('```mermaid', 'xychart-beta', '  title "PSI by feature (largest first)"',
    `  x-axis [${top.map((r) => `"${mermaidLabel(r.feature)}"`).join(', ')}]`,
    '  y-axis "PSI" 0 --> ' + Math.max(0.3, ...top.map((r) => Math.ceil((r.psi ?? 0) * 10) / 10)).toFixed(1),
    `  bar [${top.map((r) => (r.psi ?? 0).toFixed(4)).join(', ')}]`, '```', '');
  out.push('| feature | PSI | null rate Δ | L∞ | |', '|---|--:|--:|--:|---|');
  for (const r of top) {
    out.push(`| ${mdText(r.feature)} | ${num(r.psi)} | ${r.nullRate ? signed(r.nullRate.delta) : ''} | ${num(r.linf)} | ${icon[r.status]} ${mdText(r.reasons.join('; '))} |`);
  }
  return out;
}

function detailsBlock(c: JudgedChange, g: JudgedGate): string[] {
  return [`<details><summary>${icon[g.status]} ${g.gate} · ${mdText(c.change.description)}</summary>`, '',
    ...g.details!.map((d) => `- ${mdText(d)}`), '', '</details>'];
}

/** Adds sections while they fit; what does not fit is named, never silently dropped. */
function fit(head: string[], sections: string[][], limit: number, url?: string): string {
  let text = head.join('\n');
  for (let i = 0; i < sections.length; i++) {
    const next = `\n${sections[i]!.join('\n')}`;
    if (text.length + next.length > limit - 300) {
      const note = `\n\n> **Report truncated:** ${sections.length - i} more section${sections.length - i === 1 ? '' : 's'} did not fit GitHub's ${limit.toLocaleString('en-US')}-character limit.` +
        (url ? ` [Full report](${url}).` : ' Run `modelship check --format markdown` locally for the whole report.');
      return (text + note).slice(0, limit);
    }
    text += next;
  }
  return text;
}

function num(n: number | undefined): string {
  return n === undefined ? '' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

function signed(n: number | undefined): string {
  return n === undefined ? '' : `${n > 0 ? '+' : n < 0 ? '−' : '±'}${num(Math.abs(n))}`;
}

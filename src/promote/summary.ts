// What a promotion says about itself: the commit message (with machine-readable trailers that
// rollback and audit read back) and the pull request's title and body. Pure functions. The body is
// Markdown: every value from the manifest or the command line in it is escaped (model/escape.ts).

import type { Metrics, MetricBound, VersionManifest } from '../config/types.js';
import type { ChangeKind } from './edit.js';
import type { PinState } from '../model/pins.js';
import { abOverrideTrailer } from '../model/changes.js';
import { commentJson, mdCode, mdLink, mdText } from '../model/escape.js';

export interface PromotionSummaryInput {
  environment: string;
  model: string;
  version: string;
  kind: ChangeKind;
  from: PinState;
  to: PinState;
  candidate: VersionManifest;
  /** the stable version live in the environment before this change, when there is one */
  live?: VersionManifest;
  /** metric directions from the environment's policy, to call a change better or worse */
  bounds?: Record<string, MetricBound>;
  reason?: string;
  notes?: string[];
  /** concluding an A/B without the test's verdict: the reason, written as the AB-Override trailer */
  abOverride?: string;
}

export function promotionTitle(s: PromotionSummaryInput): string {
  const { environment: env, model, version, from, to } = s;
  switch (s.kind) {
    case 'new-model': return `promote(${env}): ${model} ${version} (new in ${env})`;
    case 'promote': return `promote(${env}): ${model} ${from.version} → ${version}`;
    case 'canary-promote': return `promote(${env}): ${model} ${from.version} → ${version} (canary complete)`;
    case 'shadow-promote': return `promote(${env}): ${model} ${from.version} → ${version} (from shadow)`;
    case 'canary-start': return `canary(${env}): ${model} ${version} at ${to.canary!.traffic}% beside ${from.version}`;
    case 'canary-step': return `canary(${env}): ${model} ${version} ${from.canary!.traffic}% → ${to.canary!.traffic}%`;
    case 'canary-abort': return `canary(${env}): abort ${model} ${from.canary!.version}, keep ${version}`;
    case 'shadow-start': return `shadow(${env}): ${model} ${version} beside ${from.version}`;
    case 'ab-start': return `ab(${env}): ${model} ${version} (B) at ${to.canary!.traffic}% against ${from.version} (A)`;
    case 'ab-conclude': return version === from.version ? `ab(${env}): conclude ${model}, keep ${version} (A) over ${from.canary!.version}` : `ab(${env}): conclude ${model}, promote ${version} (B) over ${from.version}`;
  }
}

/** The commit message: title, what and why, then trailers `Modelship-*: value`. */
export function commitMessage(s: PromotionSummaryInput): string {
  const lines = [promotionTitle(s), '', describe(s), ''];
  const m = s.candidate;
  lines.push(`Artifact: ${m.artifact.uri}`, `sha256:   ${m.artifact.sha256}`);
  lines.push(`Trained:  ${m.lineage.codeRepo}@${m.lineage.codeCommit.slice(0, 12)}, run ${m.lineage.pipelineRunId}`);
  const deltas = metricRows(s).filter((r) => r.live !== undefined);
  if (s.live && deltas.length) {
    lines.push(`Against ${s.live.version}: ${deltas.map((r) => `${r.name} ${fmt(r.candidate)} (${signed(r.candidate - r.live!)})`).join(', ')}`);
  }
  if (s.reason) lines.push('', `Reason: ${s.reason}`);
  lines.push('', `Modelship-Environment: ${s.environment}`, `Modelship-Model: ${s.model}`, `Modelship-Version: ${s.version}`, `Modelship-Change: ${s.kind}`);
  if (s.from.version) lines.push(`Modelship-Previous-Version: ${s.from.version}`);
  // Read by the check (ab gate) and kept by the audit record: an A/B ended without the test's verdict.
  if (s.abOverride) lines.push(`${abOverrideTrailer}: ${s.abOverride}`);
  return lines.join('\n') + '\n';
}

function describe(s: PromotionSummaryInput): string {
  const { environment: env, model, version, from, to } = s;
  switch (s.kind) {
    case 'new-model': return `Deploy ${model} to ${env} for the first time, at ${version}.`;
    case 'promote': return `Pin ${model} ${version} in ${env}, replacing ${from.version}.`;
    case 'canary-promote': return `Finish the canary: ${version} takes all traffic in ${env}, replacing ${from.version}.`;
    case 'shadow-promote': return `Promote the shadow: ${version} takes all traffic in ${env}, replacing ${from.version}.`;
    case 'canary-start': return `Start a canary of ${model} ${version} with ${to.canary!.traffic}% of online traffic in ${env}; ${from.version} keeps the rest.`;
    case 'canary-step': return `Move the canary of ${model} ${version} in ${env} from ${from.canary!.traffic}% to ${to.canary!.traffic}% of online traffic.`;
    case 'canary-abort': return `Abort the canary of ${model} ${from.canary!.version} in ${env}; ${version} takes all traffic again.`;
    case 'shadow-start': return `Mirror ${env}'s online traffic for ${model} to ${version} (answers discarded); ${from.version} keeps serving.`;
    case 'ab-start': return `Start an A/B test of ${model}: ${version} (B) gets ${to.canary!.traffic}% of online traffic in ${env}, ${from.version} (A) the rest; the ${env} policy's north-star metric decides.`;
    case 'ab-conclude': return version === from.version ? `Conclude the A/B of ${model} in ${env}: ${version} (A) keeps all traffic, ${from.canary!.version} (B) is removed.` : `Conclude the A/B of ${model} in ${env}: ${version} (B) takes all traffic, replacing ${from.version} (A).`;
  }
}

interface MetricRow { name: string; candidate: number; live?: number; direction?: 'higher' | 'lower' }

function metricRows(s: PromotionSummaryInput, metrics?: { candidate: Metrics; live?: Metrics }): MetricRow[] {
  const cand = metrics?.candidate ?? s.candidate.metrics.overall;
  const live = metrics ? metrics.live : s.live?.metrics.overall;
  return Object.entries(cand).map(([name, value]) => {
    const row: MetricRow = { name, candidate: value };
    if (live?.[name] !== undefined) row.live = live[name];
    const direction = s.bounds?.[name]?.direction;
    if (direction) row.direction = direction;
    return row;
  });
}

/** The pull request body: the change, the candidate's provenance, metrics against the live version. */
export function promotionBody(s: PromotionSummaryInput): string {
  const m = s.candidate;
  const out: string[] = [];
  out.push(`## ${mdText(promotionTitle(s))}`, '', mdText(describe(s)), '');
  out.push('| | before | after |', '|---|---|---|');
  out.push(`| stable | ${mdText(s.from.version ?? '—')} | ${bold(s.to.version, s.to.version !== s.from.version)} |`);
  if (s.from.canary || s.to.canary) out.push(`| canary | ${mdText(pinText(s.from.canary))} | ${bold(pinText(s.to.canary), pinText(s.to.canary) !== pinText(s.from.canary))} |`);
  if (s.from.shadow || s.to.shadow) out.push(`| shadow | ${mdText(s.from.shadow?.version ?? '—')} | ${mdText(s.to.shadow?.version ?? '—')} |`);
  out.push('');
  out.push(`### Candidate ${mdCode(`${s.model}@${m.version}`)}`, '');
  out.push(`- registered ${mdText(m.registeredAt)}${m.registeredBy ? ` by ${mdText(m.registeredBy)}` : ''}`);
  out.push(`- artifact ${mdCode(m.artifact.uri)} (${m.artifact.size} bytes), sha256 ${mdCode(m.artifact.sha256)}`);
  if (m.image) out.push(`- model server ${mdCode(m.image)}`);
  out.push(`- code ${mdLink(`${m.lineage.codeRepo}/commit/${m.lineage.codeCommit}`, `${m.lineage.codeRepo}/commit/${m.lineage.codeCommit}`)}`);
  out.push(`- training data ${mdCode(m.lineage.trainingData.uri)} at ${mdCode(m.lineage.trainingData.snapshot)}${m.lineage.trainingData.rows !== undefined ? ` (${m.lineage.trainingData.rows} rows)` : ''}`);
  out.push(`- pipeline run ${m.lineage.pipelineRunUrl ? mdLink(m.lineage.pipelineRunId, m.lineage.pipelineRunUrl) : mdCode(m.lineage.pipelineRunId)}`);
  if (m.lineage.dbt) out.push(`- dbt manifest sha256 ${mdCode(m.lineage.dbt.manifestSha256)} (${Object.keys(m.lineage.dbt.models).length} models)`);
  out.push('');
  out.push(...metricsTable(s));
  if (s.reason) out.push('', `**Reason:** ${mdText(s.reason)}`);
  if (s.abOverride) out.push('', `**A/B override:** ${mdText(s.abOverride)} (the A/B is concluded without the test's verdict; the audit record keeps this reason)`);
  if (s.notes?.length) out.push('', ...s.notes.map((n) => `> ${mdText(n)}`));
  out.push('', '<sub>Opened by `modelship promote`. The modelship check posts its gate report on this pull request.</sub>');
  out.push(`<!-- modelship:promotion ${commentJson({ environment: s.environment, model: s.model, version: s.version, change: s.kind })} -->`);
  return out.join('\n') + '\n';
}

function metricsTable(s: PromotionSummaryInput): string[] {
  const live = s.live;
  const out: string[] = [];
  out.push(live ? `### Offline metrics against ${mdText(live.version)}, live in ${mdText(s.environment)}` : '### Offline metrics', '');
  out.push(live ? `| metric | ${mdText(live.version)} | ${mdText(s.candidate.version)} | change |` : `| metric | ${mdText(s.candidate.version)} |`);
  out.push(live ? '|---|---:|---:|---|' : '|---|---:|');
  const rows = (label: string, candidate: Metrics, base?: Metrics) => {
    for (const r of metricRows(s, { candidate, ...(base ? { live: base } : {}) })) {
      if (!live) out.push(`| ${mdText(`${label}${r.name}`)} | ${fmt(r.candidate)} |`);
      else out.push(`| ${mdText(`${label}${r.name}`)} | ${r.live === undefined ? '—' : fmt(r.live)} | ${fmt(r.candidate)} | ${r.live === undefined ? 'new' : verdict(r)} |`);
    }
  };
  rows('', s.candidate.metrics.overall, live?.metrics.overall);
  for (const slice of s.candidate.metrics.slices ?? []) {
    const base = live?.metrics.slices?.find((x) => x.name === slice.name)?.metrics;
    rows(`${slice.name}: `, slice.metrics, base);
  }
  return out;
}

function verdict(r: MetricRow): string {
  const d = r.candidate - r.live!;
  if (Math.abs(d) < 1e-12) return '±0';
  if (!r.direction) return signed(d);
  const better = r.direction === 'higher' ? d > 0 : d < 0;
  return `${signed(d)} ${better ? 'better' : 'worse'}`;
}

function pinText(c?: { version: string; traffic?: number; ab?: true }): string {
  if (!c) return '—';
  return c.traffic !== undefined ? `${c.version} (${c.traffic}%${c.ab ? ', A/B' : ''})` : c.version;
}

function bold(text: string | undefined, changed: boolean): string {
  if (!text) return '—';
  return changed ? `**${mdText(text)}**` : mdText(text);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

function signed(d: number): string {
  const v = Number(d.toPrecision(4));
  return `${v > 0 ? '+' : v < 0 ? '−' : '±'}${fmt(Math.abs(v))}`;
}

// What a rollback says about itself: the commit message (trailers that audit and the held gate
// read back: `Break-Glass: <reason>` marks an emergency change), the pull request, and the
// break-glass review issue. Pure functions. Bodies are Markdown: every value from git, the
// manifests or the command line in them is escaped (model/escape.ts).

import type { RollbackPlan } from './plan.js';
import { commentJson, mdCode, mdText } from '../model/escape.js';
import { abOverrideTrailer } from '../model/changes.js';

export interface RollbackSummaryInput {
  plan: RollbackPlan;
  /** how the change was made: a real `git revert` of plan.commit, or the pin written */
  how: 'revert' | 'write';
  reason?: string;
  /** set for a break-glass change: its reason */
  breakGlass?: string;
  /** lines saying why, from canary watch: the metric, its value, the bound, the intervals */
  evidence?: string[];
  /** who or what asked: "modelship rollback", "modelship canary watch" */
  by: string;
}

export function rollbackTitle(p: RollbackPlan): string {
  return p.kind === 'canary-abort'
    ? `rollback(${p.environment}): abort the canary of ${p.model} ${p.takenAway}, keep ${p.to.version}`
    : `rollback(${p.environment}): ${p.model} ${p.takenAway} → ${p.to.version}`;
}

function describe(s: RollbackSummaryInput): string[] {
  const p = s.plan;
  const sha = p.commit.sha;
  const what = p.kind === 'canary-abort'
    ? `Abort the canary of ${p.model} ${p.takenAway} in ${p.environment}; ${p.to.version} takes all traffic again.`
    : `Roll ${p.model} in ${p.environment} back from ${p.takenAway} to ${p.to.version}.`;
  const how = s.how === 'revert'
    ? [`Revert "${p.commit.subject ?? sha}".`, `This reverts commit ${sha}.`]
    : [`Written as the pin, not reverted: ${p.write ?? 'the revert of ' + sha.slice(0, 12) + ' did not apply cleanly'}.`, `Undoes commit ${sha}.`];
  return [what, '', ...how];
}

export function rollbackMessage(s: RollbackSummaryInput): string {
  const p = s.plan;
  const lines = [rollbackTitle(p), '', ...describe(s)];
  if (s.evidence?.length) lines.push('', ...s.evidence);
  if (s.reason) lines.push('', `Reason: ${s.reason}`);
  lines.push('', `Modelship-Environment: ${p.environment}`, `Modelship-Model: ${p.model}`, `Modelship-Version: ${p.to.version}`,
    `Modelship-Change: ${p.kind}`, `Modelship-Rolled-Back: ${p.takenAway}`, `Modelship-Reverts: ${p.commit.sha}`);
  if (s.breakGlass) lines.push(`Break-Glass: ${oneLine(s.breakGlass)}`);
  // Aborting an A/B ends it without the test's verdict: the reason goes where the check and the audit read it.
  if (p.kind === 'canary-abort' && p.from.canary?.ab) lines.push(`${abOverrideTrailer}: ${oneLine(`rolled back by ${s.by}: ${s.reason ?? s.evidence?.[0] ?? `${p.takenAway} taken away`}`)}`);
  return lines.join('\n') + '\n';
}

export function rollbackBody(s: RollbackSummaryInput): string {
  const p = s.plan;
  const out = [`## ${mdText(rollbackTitle(p))}`, '', ...describe(s).map((l) => (l ? mdText(l) : l)), ''];
  out.push('| | before | after |', '|---|---|---|', `| stable | ${mdText(p.from.version)} | **${mdText(p.to.version)}** |`);
  if (p.from.canary) out.push(`| canary | ${mdText(p.from.canary.version)} (${p.from.canary.traffic}%) | — |`);
  out.push('');
  if (s.evidence?.length) out.push('### Why', '', ...s.evidence.map((l) => `- ${mdText(l)}`), '');
  if (s.reason) out.push(`**Reason:** ${mdText(s.reason)}`, '');
  out.push(`After merge, ${mdText(p.takenAway)} is **held** in ${mdText(p.environment)}: a later change that pins it there again fails the check unless it says why (\`reason:\` on the entry, \`modelship promote --reason\`).`);
  out.push('', `<sub>Opened by ${mdCode(s.by)}. The checker recognises the rollback and applies the ${mdText(p.environment)} policy's fast lane.</sub>`);
  out.push(`<!-- modelship:rollback ${commentJson({ environment: p.environment, model: p.model, version: p.to.version, rolledBack: p.takenAway, reverts: p.commit.sha })} -->`);
  return out.join('\n') + '\n';
}

export function breakGlassIssue(s: RollbackSummaryInput & { commit: string; actor: string; reviewBy?: string; reviewWithin?: string }): { marker: string; title: string; body: string } {
  const p = s.plan;
  const marker = `<!-- modelship:break-glass ${s.commit} -->`;
  const due = s.reviewBy ? ` by ${s.reviewBy}` : '';
  return {
    marker,
    title: `Review break-glass rollback in ${p.environment}: ${p.model} ${p.takenAway} → ${p.to.version}${due}`,
    body: [
      // the actor is mentioned on purpose (they owe the review), when GitHub says it is a login
      `${login.test(s.actor) ? `@${s.actor}` : mdText(s.actor)} pushed a break-glass rollback straight to the default branch, without review.`, '',
      `- commit: ${mdText(s.commit)}`,
      `- change: ${mdText(rollbackTitle(p))}`,
      `- reason: ${mdText(s.breakGlass ?? '')}`,
      `- undoes: ${mdText(p.commit.sha)}${p.commit.subject ? ` "${mdText(p.commit.subject)}"` : ''}`,
      ...(s.reviewWithin ? [`- review within ${mdText(s.reviewWithin)} (policy rollback.breakGlass.reviewWithin)${mdText(due)}`] : []),
      '', 'Review the commit as you would a pull request, then close this issue. The audit trail marks the change as an emergency.', '', marker,
    ].join('\n') + '\n',
  };
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** A GitHub login (a user or an App's bot): letters, digits and single hyphens, at most 39 characters. */
const login = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:\[bot\])?$/;

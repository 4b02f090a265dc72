// How a plan and a sync result read in a terminal and in a pull request: like a terraform plan,
// one line per object with its field diff under it; unchanged objects are counted, not listed.

import type { ApplyResult } from './apply.js';
import type { Plan, PlanAction } from './types.js';
import { mdFence, mdText } from '../model/escape.js';

const sign: Record<PlanAction['op'], string> = { create: '+', update: '~', delete: '-', noop: ' ' };

export function planSummary(plan: Plan): string {
  const n = (op: PlanAction['op']) => plan.actions.filter((a) => a.op === op).length;
  const changes = n('create') + n('update') + n('delete');
  const out = (plan.untouchedModels ? `; ${plan.untouchedModels} other model${plan.untouchedModels === 1 ? '' : 's'} untouched` : '')
    + (plan.conflicts?.length ? `; ${plan.conflicts.length} conflict${plan.conflicts.length === 1 ? '' : 's'}: sync will write nothing here` : '')
    + (plan.unreachable?.length ? `; ${plan.unreachable.map((u) => u.target).join(' and ')} unreachable, not planned` : '');
  return (changes === 0
    ? `${plan.environment} at ${plan.commit.slice(0, 12)}: no changes; ${n('noop')} object${n('noop') === 1 ? '' : 's'} as desired`
    : `${plan.environment} at ${plan.commit.slice(0, 12)}: ${n('create')} to create, ${n('update')} to change, ${n('delete')} to delete, ${n('noop')} unchanged`) + out;
}

export function planText(plan: Plan): string {
  const lines = [planSummary(plan)];
  for (const c of plan.conflicts ?? []) lines.push(`  ! conflict: ${c.message}`);
  for (const u of plan.unreachable ?? []) lines.push(`  ? ${u.target}: unreachable, not planned: ${u.reason}`);
  for (const a of plan.actions.filter((x) => x.op !== 'noop' || x.warning)) {
    lines.push('', `  ${a.refused ? '!' : sign[a.op]} ${label(a)}  (${a.refused ? `refused: ${a.refused}` : a.reason})`);
    if (a.warning) lines.push(`      warning: ${a.warning}`);
    if (a.first) lines.push(`      first: ${a.first.why}`);
    for (const d of a.diff ?? []) lines.push(`      ${d}`);
  }
  return lines.join('\n');
}

/** For the pull request: a diff block GitHub colours (+ green, - red). */
export function planMarkdown(plans: Plan[]): string {
  const out = ['#### What merge will do', ''];
  for (const p of plans) {
    out.push(`**${mdText(planSummary(p))}**`, '');
    const changed = p.actions.filter((a) => a.op !== 'noop' || a.warning);
    if (!changed.length) continue;
    const lines: string[] = [];
    for (const a of changed) {
      lines.push(`${a.op === 'create' ? '+' : a.op === 'delete' ? '-' : '!'} ${label(a)} (${a.reason})`);
      if (a.warning) lines.push(`!     warning: ${a.warning}`);
      if (a.first) lines.push(`!     first: ${a.first.why}`);
      for (const d of a.diff ?? []) lines.push(`${d.startsWith('+') ? '+' : d.startsWith('-') ? '-' : '!'}     ${d.slice(2)}`);
    }
    // values from the repository stay inside the block: one line each, a fence they cannot close
    out.push(...mdFence(lines, 'diff'), '');
  }
  return out.join('\n');
}

export function resultText(result: ApplyResult): string {
  const lines = [`${result.environment} at ${result.commit.slice(0, 12)}: ${result.converged ? 'converged' : 'NOT converged'} (${result.writes} write${result.writes === 1 ? '' : 's'})`];
  for (const r of result.results.filter((x) => x.outcome !== 'unchanged')) {
    lines.push(`  ${r.outcome.padEnd(9)} ${r.key}${r.readyAt ? `  ready ${r.readyAt}` : ''}${r.message && r.outcome !== 'ready' ? `  ${r.message}` : ''}`);
  }
  return lines.join('\n');
}

function label(a: PlanAction): string {
  if (a.target === 'snowflake') return `task ${a.key}`;
  const [kind, ns, name] = a.key.split('/');
  return `${kind} ${ns}/${name}`;
}

// The A/B section of the Markdown report: both arms with their samples against the plan, and the
// effect with its always-valid confidence interval (gates/ab.ts puts the figures in `data`).

import type { JudgedChange, JudgedGate } from '../run.js';
import type { AbGateData } from '../ab.js';
import { mdText } from '../../model/escape.js';


export function abSection(c: JudgedChange, g: JudgedGate): string[] {
  const d = g.data as unknown as AbGateData | undefined;
  if (!d?.plan || !d.arms) return [];
  const { plan, arms } = d;
  const out = ['', `**A/B: ${mdText(c.change.model)} — ${mdText(plan.metric.name)}** (better when it ${mdText(plan.metric.direction)}s)${d.window ? `, since ${mdText(d.window.start)}` : ''}`, '',
    '| arm | version | requests | with an outcome | required (always-valid horizon) | fixed-horizon n | mean |', '|---|---|--:|--:|--:|--:|--:|'];
  for (const [arm, key] of [['A', 'a'], ['B', 'b']] as const) {
    const f = arms[key];
    out.push(`| ${arm} | ${mdText(f.version)} | ${count(f.requests)} | ${count(f.n)} | ${count(plan.horizon[key])} | ${count(plan.fixedHorizon[key])} | ${d.means ? num(d.means[key]) : ''} |`);
  }
  if (d.effect !== undefined && d.ci) {
    out.push('', `Effect B − A: **${signed(d.effect)}**${d.relativeEffect !== undefined ? ` (${signed(d.relativeEffect * 100)} %)` : ''}, ${Math.round((1 - plan.alpha) * 100)} % confidence interval [${signed(d.ci[0])}, ${signed(d.ci[1])}], always-valid p = ${num(d.pValue ?? NaN)}; verdict: ${mdText(d.verdict ?? '')}`);
  }
  if (d.override) out.push('', `> ⚠️ overridden: ${mdText(d.override)}`);
  return out;
}

const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : '—');
const signed = (x: number) => `${x > 0 ? '+' : ''}${num(x)}`;
const count = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '∞');

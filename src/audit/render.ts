// What `audit verify` and `audit trace` print: plain text for people, the same data as JSON for machines.

import type { TraceAnswer, ServingVersion } from './trace.js';
import type { VerifyResult } from './verify.js';

const short = (s: string) => s.slice(0, 12);

export function verifyText(r: VerifyResult, extra: { head?: { seq: number; digest: string }; keys: string[]; checkpoint?: { store: string; size?: number } }): string {
  const errors = r.findings.filter((f) => f.severity === 'error');
  const warnings = r.findings.filter((f) => f.severity === 'warning');
  const lines: string[] = [];
  if (!errors.length) {
    const h = extra.head;
    lines.push(`${r.environment}: OK: ${r.checked} record${r.checked === 1 ? '' : 's'} verified${h ? ` (seq 0 to ${h.seq}, head sha256 ${short(h.digest)})` : ''}`);
    lines.push(`  signatures by ${extra.keys.length ? extra.keys.join(', ') : 'no key'}; chain unbroken; every record's commit on main with its tree and parents; every change to environments/${r.environment}.yaml and policies/${r.environment}.yaml recorded; bundles whole${extra.checkpoint?.size !== undefined ? `; extends the checkpoint signed at ${extra.checkpoint.size} record${extra.checkpoint.size === 1 ? '' : 's'} (${extra.checkpoint.store})` : ''}`);
  } else {
    lines.push(`${r.environment}: FAILED: ${errors.length} problem${errors.length === 1 ? '' : 's'} in ${r.checked} record${r.checked === 1 ? '' : 's'}`);
  }
  for (const f of errors) lines.push(`  error: ${f.message}`);
  for (const f of warnings) lines.push(`  warning: ${f.message}`);
  return lines.join('\n');
}

export function traceText(a: TraceAnswer): string {
  const lines = [`${a.model} in ${a.environment} at ${a.at}`];
  if (!a.found) {
    lines.push(`  not serving: ${a.reason}`);
    return lines.join('\n');
  }
  lines.push(`(from the verified trail: head seq ${a.head.seq}, sha256 ${short(a.head.digest)})`, '');
  lines.push(...role('serving', a.stable, a.stable.traffic === 100 ? 'all online traffic' : `${a.stable.traffic}% of online traffic`));
  if (a.canary) lines.push(...role('canary', a.canary, `${a.canary.traffic}% of online traffic`));
  if (a.shadow) lines.push(...role('shadow', a.shadow, 'mirrored traffic, answers discarded'));
  for (const n of a.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

function role(name: string, v: ServingVersion | (Omit<ServingVersion, 'traffic'> & { traffic: 0 }), share: string): string[] {
  const r = v.promotedBy;
  const row = (k: string, val: string) => `  ${k.padEnd(14)}${val}`;
  const out = [`${name} ${v.version}, ${share}`];
  out.push(row('live', `${v.beforeTrail ? 'before ' : ''}${v.window.from}${v.beforeTrail ? ' (the trail\'s start)' : ''} until ${v.window.to ?? 'now (still live)'}`));
  if (v.beforeTrail) {
    out.push(row('promoted', `before the trail began; first recorded at seq ${r.seq} (commit ${short(r.commit)})`));
    return [...out, ...lineage(v)];
  }
  const how = r.kind === 'pull-request' && r.pr ? `PR #${r.pr.number}${r.pr.title ? ` "${r.pr.title}"` : ''}` : r.kind === 'break-glass' ? `break-glass change (${r.emergencyReason ?? 'no reason given'})` : 'a direct push to main';
  out.push(row('promoted by', `${how}, commit ${short(r.commit)} (record seq ${r.seq})`));
  out.push(row('asked by', r.author || 'unknown'));
  const approvers = r.approvers.filter((x) => x.login !== r.author);
  out.push(row('approved by', approvers.length ? approvers.map((x) => `${x.login} at ${x.at}`).join(', ') : r.emergency ? 'nobody yet (emergency change; review due)' : 'nobody other than the author'));
  if (r.mergedAt) out.push(row('merged', `${r.mergedAt}${r.mergedBy ? ` by ${r.mergedBy}` : ''}`));
  out.push(row('gate report', r.report ? `sha256 ${r.report.sha256}${r.report.verdict ? ` (${r.report.verdict})` : ''}` : 'none recorded'));
  return [...out, ...lineage(v)];
}

function lineage(v: ServingVersion | (Omit<ServingVersion, 'traffic'> & { traffic: 0 })): string[] {
  const out: string[] = [];
  const l = v.lineage;
  if (!l) return ['  lineage       not recorded (no version manifest at the commit)'];
  const sub = (k: string, val: string) => `    ${k.padEnd(18)}${val}`;
  out.push('  lineage');
  out.push(sub('artifact', `${l.artifact.uri} sha256 ${l.artifact.sha256}`));
  out.push(sub('code', `${l.codeRepo} @ ${l.codeCommit}`));
  out.push(sub('training data', `${l.trainingData.uri} snapshot ${l.trainingData.snapshot}${l.trainingData.sha256 ? ` sha256 ${l.trainingData.sha256}` : ''}`));
  out.push(sub('dbt manifest', l.dbtManifestSha256 ? `sha256 ${l.dbtManifestSha256}` : 'none'));
  out.push(sub('hyperparameters', Object.entries(l.hyperparameters).map(([k, x]) => `${k}=${x}`).join(', ') || 'none'));
  out.push(sub('seed', String(l.seed)));
  out.push(sub('pipeline run', l.pipelineRunId));
  return out;
}

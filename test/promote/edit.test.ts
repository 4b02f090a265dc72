// The environment-file edit: only the pin changes; comments, order and formatting stay.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { Environment, ModelCard } from '../../src/config/types.js';
import { RefusedError } from '../../src/errors.js';
import { editEnvironment, type PromotionMode } from '../../src/promote/edit.js';
import { projectRoot } from '../helpers/cli.js';

const read = (f: string) => readFileSync(join(projectRoot, f), 'utf8');
const production = read('environments/production.yaml');
const staging = read('environments/staging.yaml');
const fraudCard = parse(read('models/fraud-detector/model.yaml')) as ModelCard;

function edit(text: string, version: string, mode: PromotionMode = { kind: 'stable' }, extra: { reason?: string; env?: Environment } = {}) {
  return editEnvironment(text, { model: 'fraud-detector', version, mode, card: fraudCard, env: extra.env ?? (parse(text) as Environment), ...(extra.reason ? { reason: extra.reason } : {}) });
}

/** The lines that differ between two texts, as -/+ pairs. */
function changedLines(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  for (let i = 0, j = 0; i < a.length || j < b.length;) {
    if (a[i] === b[j]) { i++; j++; continue; }
    if (b.indexOf(a[i]!, j) === -1 && i < a.length) out.push(`-${a[i++]}`);
    else out.push(`+${b[j++]}`);
  }
  return out;
}

t.test('a promotion changes the version line and nothing else', async (t) => {
  const r = edit(production, '2026.11.13-1');
  t.equal(r.kind, 'promote');
  t.same(r.from, { version: '2026.11.06-1' });
  t.same(r.to, { version: '2026.11.13-1' });
  t.same(changedLines(production, r.text), [
    '-    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging',
    '+    version: 2026.11.13-1   # promoted 2026-11-10 after 96h in staging',
  ]);
});

t.test('canary start, step, promote; and abort', async (t) => {
  const start = edit(production, '2026.11.13-1', { kind: 'canary', traffic: 5 });
  t.equal(start.kind, 'canary-start');
  t.same(changedLines(production, start.text), ['+    canary: { version: 2026.11.13-1, traffic: 5 }']);
  t.same(start.to, { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 5 } });

  const step = edit(start.text, '2026.11.13-1', { kind: 'canary', traffic: 25 });
  t.equal(step.kind, 'canary-step');
  t.same(changedLines(start.text, step.text), ['-    canary: { version: 2026.11.13-1, traffic: 5 }', '+    canary: { version: 2026.11.13-1, traffic: 25 }']);

  const done = edit(step.text, '2026.11.13-1');
  t.equal(done.kind, 'canary-promote');
  t.same(done.to, { version: '2026.11.13-1' });
  t.notMatch(done.text, /canary:/, 'the canary entry is gone (comments may still say canary)');

  const abort = edit(step.text, '2026.11.06-1');
  t.equal(abort.kind, 'canary-abort');
  t.same(abort.to, { version: '2026.11.06-1' });
  t.equal(abort.text.replace(/\n/g, ''), production.replace(/\n/g, ''), 'back to the original text');
});

t.test('shadow start and shadow promotion', async (t) => {
  const s = edit(production, '2026.11.13-1', { kind: 'shadow' });
  t.equal(s.kind, 'shadow-start');
  t.same(changedLines(production, s.text), ['+    shadow: { version: 2026.11.13-1 }']);
  const p = edit(s.text, '2026.11.13-1');
  t.equal(p.kind, 'shadow-promote');
  t.notMatch(p.text, /shadow:/, 'the shadow entry is gone (comments may still say shadow)');
});

t.test('a reason is recorded, and dropped when the next promotion gives none', async (t) => {
  const r = edit(production, '2026.10.30-1', { kind: 'stable' }, { reason: 'INC-4411: 2026.11.06-1 over-declines travel' });
  t.match(r.text, /\n    reason: "INC-4411: 2026.11.06-1 over-declines travel"\n|\n    reason: 'INC-4411: 2026.11.06-1 over-declines travel'\n|\n    reason: INC-4411: 2026.11.06-1 over-declines travel\n/);
  t.equal(parse(r.text).models['fraud-detector'].reason, 'INC-4411: 2026.11.06-1 over-declines travel');
  const next = edit(r.text, '2026.11.13-1');
  t.equal(parse(next.text).models['fraud-detector'].reason, undefined);
});

t.test('a model new to an environment gets serving settings from upstream, else defaults', async (t) => {
  const env = parse(staging) as Environment;
  delete env.models['fraud-detector'];
  const text = staging.replace(/  fraud-detector:\n(    .*\n|      .*\n)*/, '');
  t.equal(parse(text).models['fraud-detector'], undefined, 'test setup: staging without fraud-detector');
  const upstream = (parse(production) as Environment).models['fraud-detector']!;
  const r = editEnvironment(text, { model: 'fraud-detector', version: '2026.11.13-1', mode: { kind: 'stable' }, card: fraudCard, env, upstream });
  t.equal(r.kind, 'new-model');
  const pinned = parse(r.text).models['fraud-detector'];
  t.same(pinned.online, upstream.online);
  t.same(pinned.batch, upstream.batch);
  t.same(r.notes, ['online settings copied from the upstream environment', 'batch settings copied from the upstream environment']);
  const d = editEnvironment(text, { model: 'fraud-detector', version: '2026.11.13-1', mode: { kind: 'stable' }, card: fraudCard, env });
  t.same(parse(d.text).models['fraud-detector'].online, { replicas: { min: 2, max: 6 } });
  t.match(d.text, /^# yaml-language-server/, 'the schema comment stays first');
});

t.test('edits that make no sense are refused', async (t) => {
  const refusals: Array<[string, () => unknown, RegExp]> = [
    ['already stable', () => edit(production, '2026.11.06-1'), /fraud-detector@2026\.11\.06-1 is already the stable version in production; nothing to promote/],
    ['canary of the stable version', () => edit(production, '2026.11.06-1', { kind: 'canary', traffic: 5 }), /a canary must be a different version/],
    ['second canary', () => edit(edit(production, '2026.11.13-1', { kind: 'canary', traffic: 5 }).text, '2026.10.30-1', { kind: 'canary', traffic: 5 }),
      /a canary of fraud-detector 2026\.11\.13-1 is already running in production; finish or abort it before starting another/],
    ['promote past a running canary', () => edit(edit(production, '2026.11.13-1', { kind: 'canary', traffic: 5 }).text, '2026.10.30-1'),
      /a canary of fraud-detector 2026\.11\.13-1 is running in production; finish it .* or abort it .* first/],
    ['same canary share', () => edit(edit(production, '2026.11.13-1', { kind: 'canary', traffic: 5 }).text, '2026.11.13-1', { kind: 'canary', traffic: 5 }),
      /already takes 5% in production; nothing to change/],
  ];
  for (const [name, fn, message] of refusals) {
    t.throws(fn, RefusedError, name);
    t.throws(fn, message, name);
  }
  const env = parse(staging) as Environment;
  delete env.models['fraud-detector'];
  t.throws(() => editEnvironment(staging, { model: 'fraud-detector', version: '2026.11.13-1', mode: { kind: 'canary', traffic: 5 }, card: fraudCard, env }),
    /fraud-detector is not deployed in staging, so there is no stable version to run a canary beside/);
});

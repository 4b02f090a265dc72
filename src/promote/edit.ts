// The edit a promotion makes to environments/<env>.yaml, as a pure function of the file's text:
// only the pin's characters change, so comments, order and formatting stay.

import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isScalar, parse, parseDocument, stringify, YAMLMap } from 'yaml';
import { RefusedError } from '../errors.js';
import type { Deployment, Environment, ModelCard } from '../config/types.js';
import type { ChangeKind as AnyChangeKind } from '../model/changes.js';
import type { PinState } from '../model/pins.js';

export type PromotionMode = { kind: 'stable' } | { kind: 'canary'; traffic: number } | { kind: 'shadow' } | { kind: 'ab'; traffic: number };


/** The kinds of change a promotion makes (a subset of what the check recognises). */
export type ChangeKind = Extract<AnyChangeKind, 'new-model' | 'promote' | 'canary-start' | 'canary-step' | 'canary-promote' | 'canary-abort' | 'shadow-start' | 'shadow-promote' | 'ab-start' | 'ab-conclude'>;

export interface EnvironmentEdit {
  text: string;
  kind: ChangeKind;
  from: PinState;
  to: PinState;
  /** things the user should know (defaults used for a model new to the environment, ...) */
  notes: string[];
}

export interface EditRequest {
  model: string;
  version: string;
  mode: PromotionMode;
  reason?: string;
  /** the model card, to pick serving defaults when the model is new to the environment */
  card: ModelCard;
  env: Environment;
  /** the same model's deployment in the environment it is promoted from, if any */
  upstream?: Deployment;
}

/** Applies a promotion to the environment file's text. Refuses edits that make no sense. */
export function editEnvironment(text: string, req: EditRequest): EnvironmentEdit {
  const { model, version, mode } = req;
  const current = req.env.models[model];
  const from: PinState = pinState(current);
  const notes: string[] = [];
  let kind: ChangeKind;
  const ops: TextOp[] = [];
  const base = ['models', model];
  let next: Deployment;

  if (!current) {
    if (mode.kind !== 'stable') {
      throw new RefusedError(`${model} is not deployed in ${req.env.name}, so there is no stable version to run a ${mode.kind} beside`,
        `promote it first without --${mode.kind}`);
    }
    next = newDeployment(req, notes);
    ops.push({ op: 'add-model', model, value: next });
    kind = 'new-model';
  } else if (mode.kind === 'stable') {
    if (current.canary && current.canary.version !== version && current.version !== version) {
      throw new RefusedError(`a canary of ${model} ${current.canary.version} is running in ${req.env.name}; finish it (promote ${model}@${current.canary.version}) or abort it (promote ${model}@${current.version}) first`);
    }
    if (current.version === version && !current.canary && current.shadow?.version !== version) {
      throw new RefusedError(`${model}@${version} is already the stable version in ${req.env.name}; nothing to promote`);
    }
    // An A/B ends by promoting B or by keeping A: either way its conclusion (ab gate) judges it.
    if (current.canary?.ab) kind = 'ab-conclude';
    else if (current.canary?.version === version) kind = 'canary-promote';
    else if (current.canary) kind = 'canary-abort';
    else if (current.shadow?.version === version) kind = 'shadow-promote';
    else kind = 'promote';
    next = { ...current, version };
    if (current.version !== version) ops.push({ op: 'set', path: [...base, 'version'], value: version });
    if (current.canary) {
      delete next.canary;
      ops.push({ op: 'delete', path: [...base, 'canary'] });
    }
    if (current.shadow?.version === version) {
      delete next.shadow;
      ops.push({ op: 'delete', path: [...base, 'shadow'] });
    }
  } else if (mode.kind === 'canary') {
    if (current.canary?.ab) throw new RefusedError(`an A/B test of ${model} ${current.canary.version} is running in ${req.env.name}; change its split with --ab, or conclude it first`);
    if (current.version === version) throw new RefusedError(`${model}@${version} is the stable version in ${req.env.name}; a canary must be a different version`);
    if (current.canary && current.canary.version !== version) {
      throw new RefusedError(`a canary of ${model} ${current.canary.version} is already running in ${req.env.name}; finish or abort it before starting another`);
    }
    if (current.canary?.traffic === mode.traffic) throw new RefusedError(`the canary of ${model}@${version} already takes ${mode.traffic}% in ${req.env.name}; nothing to change`);
    kind = current.canary ? 'canary-step' : 'canary-start';
    next = { ...current, canary: { version, traffic: mode.traffic } };
    if (current.canary) ops.push({ op: 'set', path: [...base, 'canary', 'traffic'], value: mode.traffic });
    else ops.push({ op: 'insert', path: base, after: 'version', key: 'canary', value: { version, traffic: mode.traffic } });
    if (!current.online) notes.push(`${model} is not served online in ${req.env.name}; the check will refuse a canary without online serving`);
  } else if (mode.kind === 'ab') {
    if (current.version === version) throw new RefusedError(`${model}@${version} is the stable version in ${req.env.name}; the B arm of an A/B must be a different version`);
    if (current.canary && current.canary.version !== version) {
      throw new RefusedError(`${current.canary.ab ? 'an A/B test' : 'a canary'} of ${model} ${current.canary.version} is running in ${req.env.name}; conclude or abort it before starting an A/B`);
    }
    if (current.canary?.ab && current.canary.traffic === mode.traffic) throw new RefusedError(`the A/B of ${model}@${version} already takes ${mode.traffic}% in ${req.env.name}; nothing to change`);
    kind = 'ab-start';
    next = { ...current, canary: { version, traffic: mode.traffic, ab: true } };
    if (current.canary) {
      // A new split (or a canary turned A/B) restarts the test: the window starts when the split is set.
      next.canary = { version, traffic: mode.traffic, ab: true };
      ops.push({ op: 'delete', path: [...base, 'canary'] });
      ops.push({ op: 'insert', path: base, after: 'version', key: 'canary', value: next.canary });
      notes.push(current.canary.ab ? `the A/B restarts at ${mode.traffic}%: only requests from the merge on count` : `the canary of ${version} becomes an A/B at ${mode.traffic}%: only requests from the merge on count`);
    } else {
      ops.push({ op: 'insert', path: base, after: 'version', key: 'canary', value: next.canary! });
    }
    if (!current.online) notes.push(`${model} is not served online in ${req.env.name}; the check will refuse an A/B without online serving`);
  } else {
    if (current.version === version) throw new RefusedError(`${model}@${version} is the stable version in ${req.env.name}; a shadow must be a different version`);
    if (current.shadow?.version === version) throw new RefusedError(`${model}@${version} already runs as the shadow in ${req.env.name}; nothing to change`);
    kind = 'shadow-start';
    next = { ...current, shadow: { version } };
    if (current.shadow) ops.push({ op: 'set', path: [...base, 'shadow', 'version'], value: version });
    else ops.push({ op: 'insert', path: base, after: current.canary ? 'canary' : 'version', key: 'shadow', value: { version } });
  }

  // A reason explains one pin: it is replaced by the new one, or dropped with the old pin.
  if (current?.reason !== undefined) delete next.reason;
  if (req.reason !== undefined) {
    next.reason = req.reason;
    if (current?.reason !== undefined) ops.push({ op: 'set', path: [...base, 'reason'], value: req.reason });
    else if (current) ops.push({ op: 'append', path: base, key: 'reason', value: req.reason });
  } else if (current?.reason !== undefined) {
    ops.push({ op: 'delete', path: [...base, 'reason'] });
  }
  if (!current && req.reason !== undefined) (ops[0] as Extract<TextOp, { op: 'add-model' }>).value = next;

  const expected = structuredClone(req.env.models);
  expected[model] = next;
  return { text: applyOps(text, ops, expected), kind, from, to: pinState(next), notes };
}

export function pinState(d: Deployment | undefined): PinState {
  if (!d) return {};
  const s: PinState = { version: d.version };
  if (d.canary) s.canary = { ...d.canary };
  if (d.shadow) s.shadow = { ...d.shadow };
  return s;
}

/** Serving settings for a model new to an environment: copied from upstream, else conservative defaults. */
function newDeployment(req: EditRequest, notes: string[]): Deployment {
  const d: Deployment = { version: req.version };
  const { card, env, upstream } = req;
  if (card.serving.online && env.kubernetes) {
    d.online = upstream?.online ? structuredClone(upstream.online) : { replicas: { min: 2, max: 6 } };
    notes.push(upstream?.online ? 'online settings copied from the upstream environment' : 'online serving with default replicas {min: 2, max: 6}; adjust them in the pull request');
  }
  if (card.serving.batch && env.snowflake) {
    d.batch = upstream?.batch ? structuredClone(upstream.batch) : { schedule: { cron: '0 2 * * *', timezone: 'UTC' } };
    notes.push(upstream?.batch ? 'batch settings copied from the upstream environment' : 'batch scoring daily at 02:00 UTC by default; adjust the schedule in the pull request');
  }
  return d;
}

type TextOp =
  | { op: 'set'; path: string[]; value: string | number }
  | { op: 'delete'; path: string[] }
  | { op: 'insert'; path: string[]; after: string; key: string; value: object }
  | { op: 'append'; path: string[]; key: string; value: string }
  | { op: 'add-model'; model: string; value: Deployment };

/**
 * Applies the operations as small text splices at the positions the yaml document model reports,
 * so every other byte of the file (comments, alignment, quoting, blank lines) is untouched. If a
 * splice cannot be placed (say, a flow-style mapping), the document model rewrites the file
 * instead. Either way the result must read back as `expected`.
 */
function applyOps(text: string, ops: TextOp[], expected: Record<string, Deployment>): string {
  let out = text;
  try {
    for (const op of ops) out = splice(out, op);
    if (isDeepStrictEqual(parse(out)?.models, expected)) return out;
  } catch {
    // fall back to the document model below
  }
  const doc = parseDocument(text);
  for (const op of ops) {
    if (op.op === 'set') doc.setIn(op.path, op.value);
    else if (op.op === 'delete') doc.deleteIn(op.path);
    else if (op.op === 'insert') doc.setIn([...op.path, op.key], flowNode(doc, op.value));
    else if (op.op === 'append') doc.setIn([...op.path, op.key], op.value);
    else {
      if (!isMap(doc.getIn(['models'], true))) doc.setIn(['models'], new YAMLMap());
      doc.setIn(['models', op.model], doc.createNode(op.value));
    }
  }
  out = doc.toString({ lineWidth: 0 });
  if (!isDeepStrictEqual(parse(out)?.models, expected)) throw new Error('internal: the environment edit did not produce the expected pins');
  return out;
}

function splice(text: string, op: TextOp): string {
  const doc = parseDocument(text);
  if (op.op === 'set') {
    const node = doc.getIn(op.path, true);
    if (!isScalar(node) || !node.range) throw new Error('not a scalar');
    return text.slice(0, node.range[0]) + scalarText(op.value) + text.slice(node.range[1]);
  }
  if (op.op === 'delete') {
    const map = doc.getIn(op.path.slice(0, -1), true);
    const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === op.path[op.path.length - 1]) : undefined;
    if (!pair || !isMap(map) || map.flow || !isScalar(pair.key) || !pair.key.range) throw new Error('cannot delete here');
    const value = pair.value as { range?: [number, number, number] } | null;
    const start = lineStart(text, pair.key.range[0]);
    const end = lineEnd(text, value?.range ? value.range[2] - 1 : pair.key.range[1]);
    return text.slice(0, start) + text.slice(end);
  }
  if (op.op === 'insert' || op.op === 'append') {
    const map = doc.getIn(op.path, true);
    if (!isMap(map) || map.flow || map.items.length === 0) throw new Error('cannot insert here');
    const anchor = op.op === 'insert' ? map.items.find((p) => isScalar(p.key) && p.key.value === op.after) : map.items[map.items.length - 1];
    const key = anchor?.key;
    if (!anchor || !isScalar(key) || !key.range) throw new Error('no anchor');
    const value = anchor.value as { range?: [number, number, number] } | null;
    const at = lineEnd(text, value?.range ? value.range[2] - 1 : key.range[1]);
    const indent = ' '.repeat(key.range[0] - lineStart(text, key.range[0]));
    const rendered = typeof op.value === 'string' ? scalarText(op.value) : flowText(op.value);
    return text.slice(0, at) + `${indent}${op.key}: ${rendered}\n` + text.slice(at);
  }
  const models = doc.getIn(['models'], true);
  if (!isMap(models) || models.flow || models.items.length === 0) throw new Error('cannot add a model here');
  const last = models.items[models.items.length - 1]!;
  const firstKey = models.items[0]!.key as { range?: [number, number, number] };
  if (!firstKey.range) throw new Error('no anchor');
  const indent = ' '.repeat(firstKey.range[0] - lineStart(text, firstKey.range[0]));
  const lastValue = last.value as { range?: [number, number, number] } | null;
  const at = lineEnd(text, (lastValue?.range?.[2] ?? firstKey.range[1]) - 1);
  const body = stringify({ [op.model]: op.value }, { lineWidth: 0 }).trimEnd().split('\n').map((l) => indent + l).join('\n');
  return text.slice(0, at) + body + '\n' + text.slice(at);
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the newline that ends the line holding `offset`. */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', Math.max(offset, 0));
  return nl < 0 ? text.length : nl + 1;
}

function scalarText(value: string | number): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function flowText(value: object): string {
  const doc = new Document(value);
  if (isMap(doc.contents)) doc.contents.flow = true;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true }).trimEnd();
}

function flowNode(doc: Document, value: object) {
  const node = doc.createNode(value);
  if (isMap(node)) node.flow = true;
  return node;
}

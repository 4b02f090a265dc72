// The edit a promotion makes to environments/<env>.yaml, as a pure function of the file's text:
// the yaml document model changes only the pin, so comments, order and formatting stay.

import { isMap, parseDocument, YAMLMap, type Document } from 'yaml';
import { RefusedError } from '../errors.js';
import type { Deployment, Environment, ModelCard } from '../config/types.js';

export type PromotionMode = { kind: 'stable' } | { kind: 'canary'; traffic: number } | { kind: 'shadow' };

/** What runs for one model in one environment, before or after the edit. */
export interface PinState {
  version?: string;
  canary?: { version: string; traffic: number };
  shadow?: { version: string };
}

export type ChangeKind =
  | 'new-model' | 'promote' | 'canary-start' | 'canary-step' | 'canary-promote' | 'canary-abort' | 'shadow-start' | 'shadow-promote';

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
  const doc = parseDocument(text, { keepSourceTokens: false });
  const { model, version, mode } = req;
  const current = req.env.models[model];
  const from: PinState = pinState(current);
  const notes: string[] = [];
  let kind: ChangeKind;
  const base = ['models', model];

  if (!current) {
    if (mode.kind !== 'stable') {
      throw new RefusedError(`${model} is not deployed in ${req.env.name}, so there is no stable version to run a ${mode.kind} beside`,
        `promote it first without --${mode.kind}`);
    }
    ensureMap(doc, ['models']);
    doc.setIn(base, doc.createNode(newDeployment(req, notes)));
    kind = 'new-model';
  } else if (mode.kind === 'stable') {
    if (current.canary && current.canary.version !== version && current.version !== version) {
      throw new RefusedError(`a canary of ${model} ${current.canary.version} is running in ${req.env.name}; finish it (promote ${model}@${current.canary.version}) or abort it (promote ${model}@${current.version}) first`);
    }
    if (current.version === version && !current.canary && current.shadow?.version !== version) {
      throw new RefusedError(`${model}@${version} is already the stable version in ${req.env.name}; nothing to promote`);
    }
    if (current.canary?.version === version) kind = 'canary-promote';
    else if (current.canary) kind = 'canary-abort';
    else if (current.shadow?.version === version) kind = 'shadow-promote';
    else kind = 'promote';
    doc.setIn([...base, 'version'], version);
    if (current.canary) doc.deleteIn([...base, 'canary']);
    if (current.shadow?.version === version) doc.deleteIn([...base, 'shadow']);
  } else if (mode.kind === 'canary') {
    if (current.version === version) throw new RefusedError(`${model}@${version} is the stable version in ${req.env.name}; a canary must be a different version`);
    if (current.canary && current.canary.version !== version) {
      throw new RefusedError(`a canary of ${model} ${current.canary.version} is already running in ${req.env.name}; finish or abort it before starting another`);
    }
    if (current.canary?.traffic === mode.traffic) throw new RefusedError(`the canary of ${model}@${version} already takes ${mode.traffic}% in ${req.env.name}; nothing to change`);
    kind = current.canary ? 'canary-step' : 'canary-start';
    if (current.canary) doc.setIn([...base, 'canary', 'traffic'], mode.traffic);
    else doc.setIn([...base, 'canary'], flow(doc, { version, traffic: mode.traffic }));
    if (!current.online) notes.push(`${model} is not served online in ${req.env.name}; the check will refuse a canary without online serving`);
  } else {
    if (current.version === version) throw new RefusedError(`${model}@${version} is the stable version in ${req.env.name}; a shadow must be a different version`);
    if (current.shadow?.version === version) throw new RefusedError(`${model}@${version} already runs as the shadow in ${req.env.name}; nothing to change`);
    kind = 'shadow-start';
    doc.setIn([...base, 'shadow'], flow(doc, { version }));
  }

  if (req.reason !== undefined) doc.setIn([...base, 'reason'], req.reason);
  else if (doc.hasIn([...base, 'reason'])) {
    // the reason explained the previous pin, not this one
    doc.deleteIn([...base, 'reason']);
  }
  const out = doc.toString({ lineWidth: 0, flowCollectionPadding: true });
  return { text: out, kind, from, to: pinState(afterState(current, req)), notes };
}

function afterState(current: Deployment | undefined, req: EditRequest): Deployment {
  const { version, mode } = req;
  if (!current) return { version };
  if (mode.kind === 'stable') {
    const next: Deployment = { ...current, version };
    delete next.canary;
    if (current.shadow?.version === version) delete next.shadow;
    return next;
  }
  if (mode.kind === 'canary') return { ...current, canary: { version, traffic: mode.traffic } };
  return { ...current, shadow: { version } };
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

function ensureMap(doc: Document, path: string[]) {
  if (!isMap(doc.getIn(path, true))) doc.setIn(path, new YAMLMap());
}

function flow(doc: Document, value: object) {
  const node = doc.createNode(value);
  if (isMap(node)) node.flow = true;
  return node;
}

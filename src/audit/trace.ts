// `audit trace`'s core: an index built from verified records (which pin each model had in an
// environment, from when to when, and who put it there), and the answer for one model at one
// time. Pure: the command builds the index after verify and keeps it in a local cache.

import type { AuditPredicate, Lineage } from './record.js';
import type { Pin } from '../model/pins.js';
import type { VerifiedRecord } from './verify.js';

export interface IndexedRecord {
  seq: number;
  commit: string;
  recordedAt: string;
  kind: AuditPredicate['change']['kind'];
  pr: AuditPredicate['change']['pr'];
  author: string;
  mergedBy?: string;
  mergedAt?: string;
  approvers: AuditPredicate['change']['approvers'];
  emergency: boolean;
  emergencyReason?: string;
  report: AuditPredicate['tested']['report'];
  result: AuditPredicate['deployed']['result'];
  /** the models whose pins this record changed */
  changed: string[];
}

/** One stretch of time during which a model's pin in the environment did not change. */
export interface Interval {
  /** when the record's sync saw the model ready (the writer's clock, never earlier than the interval before) */
  from: string;
  /** when the next pin took over; absent while it is still live */
  to?: string;
  /** the record that put this pin in place */
  seq: number;
  pin: Pin;
}

/** A record as trace needs it: who, when, what was tested, and the lineage of what it pinned. */
export interface IndexEntry {
  record: IndexedRecord;
  lineage: Record<string, Lineage>;
}

/** The index in memory: intervals per model, and one entry per verified record. */
export interface TraceIndex {
  environment: string;
  /** the last verified record: the index is current while the store's newest record is this one */
  head: { seq: number; digest: string };
  /** model -> intervals, oldest first */
  models: Record<string, Interval[]>;
  entries: IndexEntry[];
}

/** What trace reads: the intervals, and the entries it asks for by seq (from memory or from disk). */
export interface TraceView {
  environment: string;
  head: { seq: number; digest: string };
  models: Record<string, Interval[]>;
  entry(seq: number): IndexEntry;
}

export function viewOf(index: TraceIndex): TraceView {
  const first = index.entries[0]?.record.seq ?? 0;
  return { environment: index.environment, head: index.head, models: index.models, entry: (seq) => index.entries[seq - first]! };
}

/** Builds the index from records that verified, in seq order. */
export function buildIndex(environment: string, records: VerifiedRecord[]): TraceIndex {
  const index: TraceIndex = { environment, head: { seq: -1, digest: '' }, models: {}, entries: [] };
  let clock = 0;
  for (const r of records) {
    const p = r.statement.predicate;
    const c = p.change;
    const record: IndexedRecord = {
      seq: p.seq, commit: p.git.commit, recordedAt: p.recordedAt, kind: c.kind, pr: c.pr, author: c.author,
      ...(c.mergedBy ? { mergedBy: c.mergedBy } : {}), ...(c.mergedAt ? { mergedAt: c.mergedAt } : {}),
      approvers: c.approvers, emergency: c.emergency, ...(c.emergencyReason ? { emergencyReason: c.emergencyReason } : {}),
      report: p.tested.report, result: p.deployed.result, changed: p.deployed.changes.map((x) => x.model),
    };
    index.entries.push({ record, lineage: p.lineage });
    index.head = { seq: r.seq, digest: r.digest };
    // A superseded commit never ran by itself: the next synced commit's pins take over.
    if (p.deployed.result === 'superseded') continue;
    const base = Date.parse(p.deployed.finishedAt ?? p.recordedAt);
    const models = new Set([...Object.keys(index.models), ...Object.keys(p.deployed.pins)]);
    for (const model of models) {
      const list = (index.models[model] ??= []);
      const open = list[list.length - 1];
      const pin = p.deployed.pins[model];
      if (open && !open.to && pin && samePin(open.pin, pin)) continue;
      // Writers' clocks may disagree: time in the index never runs backwards along seq.
      const at = Math.max(pin?.liveAt ? Date.parse(pin.liveAt) : base, clock);
      clock = at;
      const iso = new Date(at).toISOString().replace('.000Z', 'Z');
      if (open && !open.to) open.to = iso;
      if (pin) {
        const { liveAt: _l, ...state } = pin;
        list.push({ from: iso, seq: p.seq, pin: state });
      }
    }
  }
  return index;
}

function samePin(a: Pin, b: Pin): boolean {
  return a.version === b.version && a.canary?.version === b.canary?.version && a.canary?.traffic === b.canary?.traffic && a.shadow?.version === b.shadow?.version;
}

export interface ServingVersion {
  version: string;
  /** share of online traffic */
  traffic: number;
  /** the window in which this version held this role without interruption */
  window: { from: string; to?: string };
  /** the record (and so the pull request) that put it there */
  promotedBy: IndexedRecord;
  /** it was already serving when the trail began: promotedBy is the first record, not its promotion */
  beforeTrail?: boolean;
  lineage?: Lineage;
}

export type TraceAnswer =
  | { found: true; environment: string; model: string; at: string; stable: ServingVersion; canary?: ServingVersion; shadow?: Omit<ServingVersion, 'traffic'> & { traffic: 0 }; head: TraceView['head']; notes: string[] }
  | { found: false; environment: string; model: string; at: string; reason: string; head: TraceView['head'] };

/** Which version of `model` served the environment at `at`, with canary and shadow if any. */
export function trace(index: TraceView, model: string, at: Date): TraceAnswer {
  const base = { environment: index.environment, model, at: at.toISOString(), head: index.head };
  const list = index.models[model];
  if (!list?.length) return { ...base, found: false, reason: `${model} was never deployed to ${index.environment} in the audit trail` };
  const t = at.getTime();
  const i = lastStartingBy(list, t);
  if (i < 0) return { ...base, found: false, reason: `the trail shows ${model} in ${index.environment} only from ${list[0]!.from}` };
  const cur = list[i]!;
  if (cur.to && Date.parse(cur.to) <= t) return { ...base, found: false, reason: `${model} was removed from ${index.environment} at ${cur.to}` };
  const bySeq = (seq: number) => index.entry(seq).record;
  const role = (same: (x: Interval) => boolean) => {
    let a = i;
    let b = i;
    while (a > 0 && list[a - 1]!.to === list[a]!.from && same(list[a - 1]!)) a--;
    while (b + 1 < list.length && list[b]!.to === list[b + 1]!.from && same(list[b + 1]!)) b++;
    const by = bySeq(list[a]!.seq);
    return { window: { from: list[a]!.from, ...(list[b]!.to ? { to: list[b]!.to } : {}) }, promotedBy: by, ...(a === 0 && !by.changed.includes(model) ? { beforeTrail: true } : {}) };
  };
  const canaryShare = cur.pin.canary?.traffic ?? 0;
  const stable: ServingVersion = {
    version: cur.pin.version, traffic: 100 - canaryShare, ...role((x) => x.pin.version === cur.pin.version),
    ...lineageOf(index, cur.seq, model, cur.pin.version),
  };
  const notes: string[] = [];
  if (bySeq(cur.seq).result === 'not-converged') notes.push(`the sync of record ${cur.seq} did not converge: some objects may not have served this state`);
  const answer: TraceAnswer = { ...base, found: true, stable, notes };
  if (cur.pin.canary) {
    const cv = cur.pin.canary.version;
    answer.canary = { version: cv, traffic: canaryShare, ...role((x) => x.pin.canary?.version === cv), ...lineageOf(index, cur.seq, model, cv) };
  }
  if (cur.pin.shadow) {
    const sv = cur.pin.shadow.version;
    answer.shadow = { version: sv, traffic: 0, ...role((x) => x.pin.shadow?.version === sv), ...lineageOf(index, cur.seq, model, sv) };
  }
  return answer;
}

/** The lineage of a version pinned at record `seq`: that record carries the lineage of everything it pinned. */
function lineageOf(index: TraceView, seq: number, model: string, version: string): { lineage?: Lineage } {
  const l = index.entry(seq).lineage[`${model}@${version}`];
  return l ? { lineage: l } : {};
}

/** Index of the last interval starting at or before t; -1 if none. */
function lastStartingBy(list: Interval[], t: number): number {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (Date.parse(list[mid]!.from) <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

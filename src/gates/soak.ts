// Soak gate: the candidate must have been the stable version of the model in the upstream
// environment for a continuous span of at least the policy's soak time. A canary or a shadow
// there does not count; a span that has since ended (staging moved on) still does.

import { result, type GateResult } from './types.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import type { Pin } from '../model/pins.js';

/**
 * The upstream environment file as one commit left it. `pins` is what the file pinned per model
 * (a model absent = not deployed there); undefined when the file at that commit could not be
 * read, in which case `note` says why and the event changes nothing.
 */
export interface PinEvent {
  commit?: string;
  at: Date;
  pins?: Record<string, Pin>;
  note?: string;
}

export interface SoakSpan {
  from: string;
  /** undefined while the span is still going on */
  to?: string;
  hours: number;
}

/**
 * Judges the soak. `timeline` is the upstream environment's history, NEWEST FIRST (as
 * pinHistory yields it), back at least to when the candidate was first pinned there.
 */
export function soakGate(input: {
  candidate: string;
  model: string;
  from: string;
  /** the environment being promoted to, for messages */
  to?: string;
  soak: string;
  now: Date;
  timeline: PinEvent[];
}): GateResult {
  const { candidate, model, from, now } = input;
  const needed = parseDuration(input.soak);
  if (needed === undefined) return result('soak', 'error', `soak time ${JSON.stringify(input.soak)} is not a duration such as 48h`);
  const target = input.to ?? 'the target environment';
  const subject = `${model} ${candidate}`;
  const notes = input.timeline.filter((e) => !e.pins && e.note).map((e) => `${e.commit ? `${e.commit.slice(0, 12)}: ` : ''}${e.note}`);

  const spans = stableSpans(input.timeline, model, candidate, now);
  // A span long enough passes; otherwise the ongoing span is the one that matters (it still
  // grows), and failing that the longest past one explains how close it came.
  const longest = spans.reduce<Span | undefined>((a, s) => (!a || s.ms > a.ms ? s : a), undefined);
  const ongoing = spans.find((s) => !s.to);
  const best = longest && longest.ms >= needed ? longest : ongoing ?? longest;
  const data = {
    model, candidate, from, needed: input.soak,
    spans: spans.map((s): SoakSpan => ({ from: iso(s.from), ...(s.to ? { to: iso(s.to) } : {}), hours: s.ms / 3_600_000 })),
  };
  const details = [...spans.map(describeSpan), ...notes];

  if (!best) {
    const canaried = input.timeline.some((e) => e.pins?.[model]?.canary?.version === candidate);
    const why = canaried ? ` (it ran there only as a canary, which does not count)` : '';
    return result('soak', 'fail', `${subject} has never been the stable version in ${from}${why}; ${target} needs ${formatDuration(needed)} there first`, { details, data });
  }

  const lived = formatDuration(best.ms);
  const span = best.to ? `from ${iso(best.from)} to ${iso(best.to)}` : `since ${iso(best.from)}`;
  if (best.ms >= needed) {
    const tense = best.to ? `was live in ${from} for ${lived} (${span})` : `has been live in ${from} for ${lived} (${span})`;
    return result('soak', 'pass', `${subject} ${tense}; ${target} needs ${formatDuration(needed)}`, { details, data });
  }
  const short = formatDuration(needed - best.ms);
  if (!best.to) {
    return result('soak', 'fail', `${subject} has been live in ${from} for ${lived}; ${target} needs ${formatDuration(needed)} (${short} more; from ${iso(best.from)})`, { details, data });
  }
  // The longest span is over, and waiting will not lengthen it.
  return result('soak', 'fail', `${subject} was live in ${from} for only ${lived} (${span}); ${target} needs ${formatDuration(needed)} (${short} short), and it is no longer pinned there`, { details, data });
}

interface Span { from: Date; to?: Date; ms: number }

/** The continuous spans in which `candidate` was the model's stable version, oldest first. */
function stableSpans(newestFirst: PinEvent[], model: string, candidate: string, now: Date): Span[] {
  const spans: Span[] = [];
  let open: Date | undefined;
  for (let i = newestFirst.length - 1; i >= 0; i--) {
    const e = newestFirst[i]!;
    if (!e.pins) continue; // unreadable file: it pinned nothing new
    const stable = e.pins[model]?.version === candidate;
    if (stable && !open) open = e.at;
    if (!stable && open) {
      spans.push({ from: open, to: e.at, ms: Math.max(0, e.at.getTime() - open.getTime()) });
      open = undefined;
    }
  }
  if (open) spans.push({ from: open, ms: Math.max(0, now.getTime() - open.getTime()) });
  return spans;
}

function describeSpan(s: Span): string {
  return s.to ? `stable from ${iso(s.from)} to ${iso(s.to)}: ${formatDuration(s.ms)}` : `stable since ${iso(s.from)}: ${formatDuration(s.ms)} so far`;
}

function iso(d: Date): string {
  return d.toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z');
}

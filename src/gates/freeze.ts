// Freeze gate: is `now` inside one of the policy's freeze windows? Fixed windows run from/to;
// recurring ones start at each cron occurrence (in the window's time zone) and last `duration`.

import { CronExpressionParser } from 'cron-parser';
import type { Policy } from '../config/types.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';
import { formatDuration, parseDuration } from '../model/durations.js';

export type FreezeWindow = NonNullable<Policy['freeze']>[number];

export interface WindowVerdict {
  name: string;
  reason: string;
  /** recurring windows' zone, to show the end in local time too */
  timezone?: string;
  status: GateStatus;
  /** the occurrence containing now, when one does */
  active?: { from: string; to: string };
  /** the next time this window starts, when now is outside it */
  next?: string;
  /** why the window could not be evaluated */
  problem?: string;
}

/** Judges a change made at `now` against the freeze windows; rollbacks pass unless a window blocks them. */
export function freezeGate(input: { now: Date; windows: Policy['freeze']; isRollback: boolean }): GateResult {
  const { now, isRollback } = input;
  const windows = input.windows ?? [];
  if (!windows.length) return result('freeze', 'skipped', 'the policy has no freeze windows');

  const verdicts = windows.map((w): WindowVerdict => {
    const found = locate(w, now);
    if ('problem' in found) return { name: w.name, reason: w.reason, status: 'error', problem: found.problem };
    if (!found.active) return { name: w.name, reason: w.reason, status: 'pass', ...(found.next ? { next: iso(found.next) } : {}) };
    const active = { from: iso(found.active.from), to: iso(found.active.to) };
    const blocks = !isRollback || w.blockRollbacks === true;
    return { name: w.name, reason: w.reason, ...(w.timezone ? { timezone: w.timezone } : {}), status: blocks ? 'fail' : 'pass', active };
  });

  const data = { now: now.toISOString(), isRollback, windows: verdicts };
  const status = worst(verdicts.map((v) => v.status));
  const blocking = verdicts.filter((v) => v.status === 'fail');
  const broken = verdicts.filter((v) => v.status === 'error');
  const active = verdicts.filter((v) => v.active);
  const details = [
    ...broken.map((v) => `freeze window "${v.name}" cannot be evaluated: ${v.problem}`),
    ...active.map((v) => `"${v.name}" (${v.reason}) runs ${v.active!.from} to ${v.active!.to}${v.status === 'pass' ? '; rollbacks are exempt' : ''}`),
  ];

  if (status === 'error' && !blocking.length) {
    return result('freeze', 'error', `freeze window "${broken[0]!.name}" cannot be evaluated: ${broken[0]!.problem}`, { details, data });
  }
  if (blocking.length) {
    const w = blocking[0]!;
    const left = formatDuration(Date.parse(w.active!.to) - now.getTime());
    const rollbacks = isRollback ? ', rollbacks included' : '';
    const more = blocking.length > 1 ? `; also frozen by ${blocking.slice(1).map((b) => `"${b.name}"`).join(', ')}` : '';
    return result('freeze', 'fail', `frozen by "${w.name}" until ${w.active!.to}${local(w.active!.to, w.timezone)}, in ${left}${rollbacks}: ${w.reason}${more}`, { details, data });
  }
  if (active.length) {
    const w = active[0]!;
    return result('freeze', 'pass', `rollback allowed during freeze "${w.name}" (${w.reason}), which ends ${w.active!.to}`, { details, data });
  }
  const upcoming = verdicts.filter((v) => v.next).sort((a, b) => Date.parse(a.next!) - Date.parse(b.next!))[0];
  return result('freeze', 'pass', `no freeze window is active${upcoming ? `; next: "${upcoming.name}" from ${upcoming.next}` : ''}`, { data });
}

type Located = { problem: string } | { active?: { from: Date; to: Date }; next?: Date };

function locate(w: FreezeWindow, now: Date): Located {
  if (w.cron === undefined) {
    if (w.from === undefined || w.to === undefined) return { problem: 'it needs either from and to, or cron and duration' };
    const from = new Date(w.from);
    const to = new Date(w.to);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return { problem: `from/to are not timestamps (${w.from}, ${w.to})` };
    if (now >= from && now < to) return { active: { from, to } };
    return now < from ? { next: from } : {};
  }
  return locateRecurring(w, w.cron, now);
}

// An occurrence is [start, start + duration). Only the latest start at or before now can hold
// now: any earlier one ends no later. Occurrences may overlap (a 30h window every day), so the
// freeze lasts until the first occurrence end that no later occurrence bridges.
const MAX_CHAIN = 1000;

function locateRecurring(w: FreezeWindow, cron: string, now: Date): Located {
  const length = w.duration !== undefined ? parseDuration(w.duration) : undefined;
  if (!length) return { problem: `a recurring window needs a duration such as 30h; found ${JSON.stringify(w.duration ?? null)}` };
  const tz = w.timezone ?? 'UTC';
  if (!validTimeZone(tz)) return { problem: `unknown time zone ${JSON.stringify(tz)}` };
  try {
    // cron-parser's prev() is strictly before currentDate; start one second later so an
    // occurrence exactly at now is found (and skip one that falls in that extra second).
    const back = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1000), tz });
    let start = back.prev().toDate();
    if (start > now) start = back.prev().toDate();
    let end = new Date(start.getTime() + length);
    const ahead = CronExpressionParser.parse(cron, { currentDate: now, tz });
    if (end <= now) return { next: ahead.next().toDate() };
    for (let i = 0; i < MAX_CHAIN; i++) {
      const following = ahead.next().toDate();
      if (following > end) break;
      end = new Date(following.getTime() + length);
    }
    return { active: { from: start, to: end } };
  } catch (e) {
    return { problem: `cron ${JSON.stringify(cron)}: ${(e as Error).message}` };
  }
}

/** Each distinct zone is checked once (an Intl.DateTimeFormat per window adds up over many windows). */
const knownZones = new Map<string, boolean>();

function validTimeZone(tz: string): boolean {
  const known = knownZones.get(tz);
  if (known !== undefined) return known;
  let valid: boolean;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    valid = true;
  } catch {
    valid = false; // RangeError: the only signal Intl gives for an unknown zone
  }
  knownZones.set(tz, valid);
  return valid;
}

/** 2026-11-26T00:00Z: minutes are the resolution of every window. */
function iso(d: Date): string {
  return d.toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z');
}

/** " (19:00 America/New_York)" for windows defined in a local zone, so the end reads as people planned it. */
function local(at: string, timezone: string | undefined): string {
  if (!timezone || timezone === 'UTC') return '';
  const text = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(at));
  return ` (${text.replace(',', '')} ${timezone})`;
}

import t from 'tap';
import { freezeGate, type FreezeWindow, type WindowVerdict } from '../../src/gates/freeze.js';

// The production policy's two windows, as policies/production.yaml states them.
const blackFriday: FreezeWindow = {
  name: 'black-friday', reason: 'Peak card volume; no model changes from Thanksgiving to Cyber Monday.',
  from: '2026-11-26T00:00:00Z', to: '2026-12-01T08:00:00Z',
};
const monthEnd: FreezeWindow = {
  name: 'month-end-close', reason: 'Finance close; the disputes queue must not change under the analysts.',
  cron: '0 18 L * *', duration: '30h', timezone: 'America/New_York',
};
const windows = [blackFriday, monthEnd];
const at = (iso: string, isRollback = false, w: FreezeWindow[] = windows) => freezeGate({ now: new Date(iso), windows: w, isRollback });
const verdict = (r: ReturnType<typeof at>, name: string) => (r.data!.windows as WindowVerdict[]).find((v) => v.name === name)!;

t.test('a promotion on an ordinary day passes and names the next window', async (t) => {
  const r = at('2026-11-18T15:00:00Z');
  t.equal(r.status, 'pass');
  t.equal(r.summary, 'no freeze window is active; next: "black-friday" from 2026-11-26T00:00Z');
});

t.test('a promotion during Black Friday fails with the reason and the end', async (t) => {
  const r = at('2026-11-27T14:00:00Z');
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'frozen by "black-friday" until 2026-12-01T08:00Z, in 90h: Peak card volume; no model changes from Thanksgiving to Cyber Monday.');
  t.same(verdict(r, 'black-friday').active, { from: '2026-11-26T00:00Z', to: '2026-12-01T08:00Z' });
});

t.test('fixed windows include their start and exclude their end', async (t) => {
  t.equal(at('2026-11-26T00:00:00Z').status, 'fail');
  t.equal(at('2026-11-25T23:59:59Z').status, 'pass');
  t.equal(at('2026-12-01T07:59:59Z').status, 'fail');
  t.equal(at('2026-12-01T08:00:00Z', false, [blackFriday]).status, 'pass');
});

t.test('rollbacks are exempt unless the window says blockRollbacks', async (t) => {
  const r = at('2026-11-27T14:00:00Z', true);
  t.equal(r.status, 'pass');
  t.match(r.summary, /^rollback allowed during freeze "black-friday" \(Peak card volume.*\), which ends 2026-12-01T08:00Z$/);
  const strict = at('2026-11-27T14:00:00Z', true, [{ ...blackFriday, blockRollbacks: true }]);
  t.equal(strict.status, 'fail');
  t.match(strict.summary, /^frozen by "black-friday" until 2026-12-01T08:00Z, in 90h, rollbacks included: /);
});

t.test('month-end close: the last day of the month at 18:00 New York time, for 30 hours', async (t) => {
  // 2026-10-31 18:00 EDT is 22:00Z; New York leaves daylight time on 2026-11-01, and the
  // window lasts 30 real hours: it ends at 04:00Z, 23:00 EST.
  const r = at('2026-11-01T12:00:00Z');
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'frozen by "month-end-close" until 2026-11-02T04:00Z (2026-11-01 23:00 America/New_York), in 16h: '
    + 'Finance close; the disputes queue must not change under the analysts.');
  t.same(verdict(r, 'month-end-close').active, { from: '2026-10-31T22:00Z', to: '2026-11-02T04:00Z' });
});

t.test('recurring windows include their start and exclude their end', async (t) => {
  t.equal(at('2026-10-31T22:00:00Z').status, 'fail', 'exactly at the start');
  const before = at('2026-10-31T21:59:00Z');
  t.equal(before.status, 'pass');
  t.equal(before.summary, 'no freeze window is active; next: "month-end-close" from 2026-10-31T22:00Z');
  t.equal(at('2026-11-02T03:59:00Z').status, 'fail');
  t.equal(at('2026-11-02T04:00:00Z').status, 'pass', 'exactly at the end');
});

t.test('L is the last day of each month in the window\'s zone, not in UTC', async (t) => {
  // 2026-09-30 18:00 EDT = 22:00Z. In UTC the 30th at 18:00 would start four hours earlier.
  t.equal(at('2026-09-30T20:00:00Z').status, 'pass');
  t.equal(at('2026-09-30T22:30:00Z').status, 'fail');
  // February has 28 days in 2027: 2027-02-28 18:00 EST = 23:00Z
  t.equal(at('2027-02-28T23:30:00Z').status, 'fail');
  t.equal(at('2027-02-27T23:30:00Z').status, 'pass');
});

t.test('a window without a time zone is evaluated in UTC', async (t) => {
  const nightly: FreezeWindow = { name: 'batch-window', reason: 'Nightly scoring.', cron: '0 2 * * *', duration: '2h' };
  t.equal(at('2026-11-18T03:00:00Z', false, [nightly]).status, 'fail');
  t.equal(at('2026-11-18T04:00:00Z', false, [nightly]).status, 'pass');
});

t.test('overlapping occurrences extend the freeze until one is not bridged', async (t) => {
  // Monday and Tuesday at 00:00 UTC, 30h each: Monday's occurrence runs into Tuesday's.
  const early: FreezeWindow = { name: 'reconciliation', reason: 'Weekly reconciliation.', cron: '0 0 * * 1,2', duration: '30h' };
  const r = at('2026-11-16T12:00:00Z', false, [early]); // a Monday
  t.equal(r.status, 'fail');
  t.same(verdict(r, 'reconciliation').active, { from: '2026-11-16T00:00Z', to: '2026-11-18T06:00Z' });
  t.equal(at('2026-11-17T03:00:00Z', false, [early]).status, 'fail', 'Tuesday 03:00: still inside both');
});

t.test('two active windows: the summary names the first and mentions the other', async (t) => {
  const r = at('2026-11-30T23:30:00Z'); // Black Friday week and November's month-end close
  t.equal(r.status, 'fail');
  t.match(r.summary, /^frozen by "black-friday" .*; also frozen by "month-end-close"$/);
  t.equal(r.details?.length, 2);
});

t.test('a window that cannot be evaluated is an error, never a pass', async (t) => {
  const badZone = at('2026-11-18T15:00:00Z', false, [{ ...monthEnd, timezone: 'America/Gotham' }]);
  t.equal(badZone.status, 'error');
  t.match(badZone.summary, /freeze window "month-end-close" cannot be evaluated: unknown time zone "America\/Gotham"/);
  const badCron = at('2026-11-18T15:00:00Z', false, [{ ...monthEnd, cron: '0 25 L * *' }]);
  t.equal(badCron.status, 'error');
  t.match(badCron.summary, /cron "0 25 L \* \*"/);
  const noDuration = at('2026-11-18T15:00:00Z', false, [{ name: 'x', reason: 'y', cron: '0 0 * * *' }]);
  t.equal(noDuration.status, 'error');
  // but a window that blocks is still a definite fail
  t.equal(at('2026-11-27T14:00:00Z', false, [blackFriday, { ...monthEnd, timezone: 'America/Gotham' }]).status, 'fail');
});

t.test('no windows: skipped', async (t) => {
  t.equal(freezeGate({ now: new Date(), windows: undefined, isRollback: false }).status, 'skipped');
  t.equal(freezeGate({ now: new Date(), windows: [], isRollback: false }).status, 'skipped');
});

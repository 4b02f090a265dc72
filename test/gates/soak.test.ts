import t from 'tap';
import { soakGate, type PinEvent, type SoakSpan } from '../../src/gates/soak.js';

// staging's history of fraud-detector pins, written oldest first here for reading, passed newest first.
const h = (hoursAfter: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + hoursAfter * 3_600_000);
const pinned = (at: Date, version: string | undefined, extra: Partial<NonNullable<PinEvent['pins']>[string]> = {}): PinEvent => ({
  commit: `c${at.getTime()}`, at,
  pins: { 'chargeback-risk': { version: '2026.11.01-1' }, ...(version ? { 'fraud-detector': { version, ...extra } } : {}) },
});
const newestFirst = (...events: PinEvent[]) => [...events].reverse();

const soak = (timeline: PinEvent[], now: Date, candidate = '2026.11.20-1') =>
  soakGate({ candidate, model: 'fraud-detector', from: 'staging', to: 'production', soak: '48h', now, timeline });

const promoted = newestFirst(pinned(h(-200), '2026.11.13-1'), pinned(h(0), '2026.11.20-1'));

t.test('a staging soak that is 1 h short must fail', async (t) => {
  const r = soak(promoted, h(47));
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'fraud-detector 2026.11.20-1 has been live in staging for 47h; production needs 48h (1h more; from 2026-11-20T10:00Z)');
});

t.test('exactly enough soak passes', async (t) => {
  const r = soak(promoted, h(48));
  t.equal(r.status, 'pass');
  t.equal(r.summary, 'fraud-detector 2026.11.20-1 has been live in staging for 48h (since 2026-11-20T10:00Z); production needs 48h');
  t.same(r.data!.spans as SoakSpan[], [{ from: '2026-11-20T10:00Z', hours: 48 }]);
});

t.test('a canary in staging does not count toward the soak', async (t) => {
  const timeline = newestFirst(
    pinned(h(-200), '2026.11.13-1'),
    pinned(h(-100), '2026.11.13-1', { canary: { version: '2026.11.20-1', traffic: 10 } }), // canary for 100h
    pinned(h(0), '2026.11.20-1'),
  );
  const r = soak(timeline, h(20));
  t.equal(r.status, 'fail');
  t.match(r.summary, /has been live in staging for 20h; production needs 48h \(28h more; from 2026-11-20T10:00Z\)/);

  const onlyCanary = soak(newestFirst(pinned(h(-200), '2026.11.13-1'), pinned(h(-100), '2026.11.13-1', { canary: { version: '2026.11.20-1', traffic: 10 } })), h(0));
  t.equal(onlyCanary.status, 'fail');
  t.equal(onlyCanary.summary, 'fraud-detector 2026.11.20-1 has never been the stable version in staging (it ran there only as a canary, which does not count); production needs 48h there first');
});

t.test('never live in staging fails with a clear message', async (t) => {
  const r = soak(promoted, h(100), '2026.11.27-1');
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'fraud-detector 2026.11.27-1 has never been the stable version in staging; production needs 48h there first');
  t.equal(soak([], h(0)).status, 'fail', 'an empty history too');
});

t.test('staging has moved on: the past span still counts', async (t) => {
  const timeline = newestFirst(...[pinned(h(0), '2026.11.20-1'), pinned(h(60), '2026.11.27-1')]);
  const r = soak(timeline, h(100));
  t.equal(r.status, 'pass');
  t.equal(r.summary, 'fraud-detector 2026.11.20-1 was live in staging for 60h (from 2026-11-20T10:00Z to 2026-11-22T22:00Z); production needs 48h');
});

t.test('a past span that was too short fails and says waiting will not help', async (t) => {
  const timeline = newestFirst(pinned(h(0), '2026.11.20-1'), pinned(h(30), '2026.11.27-1'));
  const r = soak(timeline, h(100));
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'fraud-detector 2026.11.20-1 was live in staging for only 30h (from 2026-11-20T10:00Z to 2026-11-21T16:00Z); production needs 48h (18h short), and it is no longer pinned there');
});

t.test('the span must be continuous: two short spans do not add up', async (t) => {
  const timeline = newestFirst(
    pinned(h(0), '2026.11.20-1'),
    pinned(h(30), '2026.11.13-1'), // rolled back
    pinned(h(40), '2026.11.20-1'), // re-pinned
  );
  const r = soak(timeline, h(70));
  t.equal(r.status, 'fail', '30h + 30h is not 48h continuous');
  t.match(r.summary, /has been live in staging for 30h; production needs 48h \(18h more; from 2026-11-22T02:00Z\)/);
  t.equal((r.data!.spans as SoakSpan[]).length, 2);
  t.equal(r.details!.length, 2);
});

t.test('commits that leave the stable pin alone do not break the span', async (t) => {
  const timeline = newestFirst(
    pinned(h(0), '2026.11.20-1'),
    pinned(h(10), '2026.11.20-1', { canary: { version: '2026.11.27-1', traffic: 10 } }), // next candidate canaries beside it
    pinned(h(20), '2026.11.20-1'),
  );
  t.equal(soak(timeline, h(48)).status, 'pass');
});

t.test('the model removed from staging ends the span', async (t) => {
  const timeline = newestFirst(pinned(h(0), '2026.11.20-1'), pinned(h(10), undefined));
  t.match(soak(timeline, h(100)).summary, /was live in staging for only 10h/);
});

t.test('an unreadable historical file changes nothing and is noted', async (t) => {
  const broken: PinEvent = { commit: 'deadbeefcafe0000', at: h(20), note: 'environments/staging.yaml does not parse: bad indentation (line 3)' };
  const r = soak(newestFirst(pinned(h(0), '2026.11.20-1'), broken), h(48));
  t.equal(r.status, 'pass');
  t.ok(r.details!.includes('deadbeefcafe: environments/staging.yaml does not parse: bad indentation (line 3)'));
});

t.test('a malformed soak time is an error, not a pass', async (t) => {
  const r = soakGate({ candidate: '2026.11.20-1', model: 'fraud-detector', from: 'staging', soak: 'two days', now: h(100), timeline: promoted });
  t.equal(r.status, 'error');
});

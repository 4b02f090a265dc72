import t from 'tap';
import { heldGate, holdsIn, type PinEvent } from '../../src/gates/held.js';
import type { Pin } from '../../src/model/pins.js';

// production's history of fraud-detector pins, written oldest first here for reading, passed newest first.
const h = (hoursAfter: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + hoursAfter * 3_600_000);
let n = 0;
const at = (hours: number, pin: Pin | undefined, subject = ''): PinEvent => ({
  commit: `c${String(++n).padStart(3, '0')}`.padEnd(40, '0'), at: h(hours), subject,
  pins: { 'chargeback-risk': { version: '2026.10.15-1' }, ...(pin ? { 'fraud-detector': pin } : {}) },
});
const newestFirst = (...events: PinEvent[]) => [...events].reverse();

t.test('a git revert of a promotion holds the version it took away', async (t) => {
  const holds = holdsIn(newestFirst(
    at(-100, { version: '2026.11.06-1' }),
    at(0, { version: '2026.11.20-1' }, 'promote(production): fraud-detector 2026.11.06-1 → 2026.11.20-1'),
    at(3, { version: '2026.11.06-1' }, 'Revert "promote(production): fraud-detector 2026.11.06-1 → 2026.11.20-1"'),
  ), 'fraud-detector');
  t.same(holds.map((x) => [x.version, x.how, x.restored, x.at.toISOString()]), [['2026.11.20-1', 'rollback', '2026.11.06-1', h(3).toISOString()]]);
  t.match(holds[0]!.subject, /^Revert /);
});

t.test('a promotion to a newer version holds nothing; other models are ignored', async (t) => {
  t.same(holdsIn(newestFirst(
    at(-100, { version: '2026.11.06-1' }),
    at(0, { version: '2026.11.13-1' }),
    at(10, { version: '2026.11.20-1' }),
  ), 'fraud-detector'), []);
  t.same(holdsIn(newestFirst(at(-100, { version: '2026.11.06-1' }), at(0, { version: '2026.11.20-1' })), 'chargeback-risk'), []);
});

t.test('an aborted canary holds its version; a promoted one does not', async (t) => {
  const aborted = holdsIn(newestFirst(
    at(0, { version: '2026.11.06-1' }),
    at(1, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 5 } }),
    at(2, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 25 } }),
    at(3, { version: '2026.11.06-1' }),
  ), 'fraud-detector');
  t.same(aborted.map((x) => [x.version, x.how, x.restored]), [['2026.11.20-1', 'canary-abort', '2026.11.06-1']]);
  t.same(holdsIn(newestFirst(
    at(0, { version: '2026.11.06-1' }),
    at(1, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 25 } }),
    at(3, { version: '2026.11.20-1' }),
  ), 'fraud-detector'), [], 'canary promoted: the old stable is replaced, not rolled back');
});

t.test('pinning a held version again (the gate let it through) ends the hold; a second rollback holds it again', async (t) => {
  const events = [
    at(0, { version: '2026.11.06-1' }),
    at(1, { version: '2026.11.20-1' }),
    at(2, { version: '2026.11.06-1' }),
    at(3, { version: '2026.11.20-1' }),
  ];
  t.same(holdsIn(newestFirst(...events), 'fraud-detector'), []);
  const again = holdsIn(newestFirst(...events, at(4, { version: '2026.11.06-1' })), 'fraud-detector');
  t.same(again.map((x) => x.version), ['2026.11.20-1']);
  t.equal(again[0]!.at.getTime(), h(4).getTime(), 'the newest rollback is the one that counts');
});

t.test('a rollback two versions back, after an unrelated promotion, still holds', async (t) => {
  const holds = holdsIn(newestFirst(
    at(0, { version: '2026.11.06-1' }),
    at(1, { version: '2026.11.20-1' }),
    at(2, { version: '2026.11.06-1' }),
    at(5, { version: '2026.11.27-1' }),
  ), 'fraud-detector');
  t.same(holds.map((x) => x.version), ['2026.11.20-1']);
});

t.test('an unreadable file in the history is skipped, not read as a removal', async (t) => {
  const broken: PinEvent = { commit: 'f'.repeat(40), at: h(1.5) };
  t.same(holdsIn([at(2, { version: '2026.11.20-1' }), broken, at(1, { version: '2026.11.20-1' }), at(0, { version: '2026.11.06-1' })], 'fraud-detector'), []);
});

const hold = holdsIn(newestFirst(at(0, { version: '2026.11.06-1' }), at(1, { version: '2026.11.20-1' }), at(3, { version: '2026.11.06-1' }, 'Revert "promote"')), 'fraud-detector');
const gate = (extra: { reason?: string; previousReason?: string; version?: string } = {}) =>
  heldGate({ environment: 'production', model: 'fraud-detector', version: extra.version ?? '2026.11.20-1', holds: hold, ...extra });

t.test('the held gate fails a re-pin without a reason, and says how to give one', async (t) => {
  const r = gate();
  t.equal(r.status, 'fail');
  t.match(r.summary, /^fraud-detector 2026\.11\.20-1 was rolled back in production by c\d{3}0{8} at 2026-11-20T13:00Z \(back to 2026\.11\.06-1\) and is held there; say why it may run again: reason: on fraud-detector in environments\/production\.yaml/);
  t.match(r.details, [/^c\d{3}0{8} Revert "promote"$/]);
});

t.test('a reason carried over from the previous pin is not a reason for this one', async (t) => {
  const r = gate({ reason: 'weekly retrain', previousReason: 'weekly retrain' });
  t.equal(r.status, 'fail');
  t.match(r.summary, /the reason on the entry is the one from before this change/);
});

t.test('a new reason lets the held version through, and the report shows it', async (t) => {
  const r = gate({ reason: 'fixed the feature join that caused the rollback (INC-4411)', previousReason: 'weekly retrain' });
  t.equal(r.status, 'pass');
  t.match(r.summary, /pinned again because: fixed the feature join that caused the rollback \(INC-4411\)$/);
  t.equal(r.data?.reason, 'fixed the feature join that caused the rollback (INC-4411)');
});

t.test('a version that is not held passes; unreadable history is an error, never a pass', async (t) => {
  t.equal(gate({ version: '2026.11.27-1' }).status, 'pass');
  t.equal(gate({ version: '2026.11.27-1' }).summary, 'fraud-detector 2026.11.27-1 is not held in production');
  const e = heldGate({ environment: 'production', model: 'fraud-detector', version: '2026.11.20-1', holds: { error: 'git: log failed' } });
  t.equal(e.status, 'error');
  t.match(e.summary, /could not tell whether fraud-detector 2026\.11\.20-1 is held in production: git: log failed/);
});

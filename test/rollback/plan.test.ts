import t from 'tap';
import { UsageError, RefusedError } from '../../src/errors.js';
import type { PinEvent } from '../../src/gates/held.js';
import type { Pin } from '../../src/model/pins.js';
import { historyIsEnough, planRollback } from '../../src/rollback/plan.js';

// production's history, written oldest first for reading and passed newest first.
const h = (hours: number) => new Date(Date.parse('2026-11-20T10:00:00Z') + hours * 3_600_000);
const sha = (n: number) => String(n).padEnd(40, '0');
const at = (n: number, pin: Pin | undefined, subject = `commit ${n}`): PinEvent => ({
  commit: sha(n), at: h(n), subject, pins: { 'chargeback-risk': { version: '2026.10.15-1' }, ...(pin ? { 'fraud-detector': pin } : {}) },
});
const newestFirst = (...e: PinEvent[]) => [...e].reverse();
const plan = (history: PinEvent[], extra: { to?: string; commit?: string } = {}) =>
  planRollback({ environment: 'production', model: 'fraud-detector', history, ...extra });

const promoted = newestFirst(at(1, { version: '2026.11.06-1' }), at(2, { version: '2026.11.20-1' }, 'promote(production): fraud-detector 2026.11.06-1 → 2026.11.20-1'));

t.test('the last promotion is the commit to revert, back to the version before it', async (t) => {
  const p = plan(promoted);
  t.equal(p.kind, 'rollback');
  t.equal(p.commit.sha, sha(2));
  t.equal(p.commit.move, 'promote');
  t.same(p.to, { version: '2026.11.06-1' });
  t.equal(p.takenAway, '2026.11.20-1');
  t.notOk(p.write, 'a clean revert');
  t.ok(historyIsEnough(promoted, 'fraud-detector'));
  t.notOk(historyIsEnough(promoted.slice(0, 1), 'fraud-detector'), 'one commit does not say what ran before');
});

t.test('--to another version writes the pin instead of reverting', async (t) => {
  const p = plan(newestFirst(at(0, { version: '2026.10.30-1' }), ...promoted.slice().reverse()), { to: '2026.10.30-1' });
  t.same(p.to, { version: '2026.10.30-1' });
  t.match(p.write, /--to 2026\.10\.30-1 is not the version before 20{11} \(2026\.11\.06-1\); 2026\.10\.30-1 is written as the stable pin instead/);
});

t.test('a finished canary is rolled back by writing the pin: reverting it would put the canary back', async (t) => {
  const p = plan(newestFirst(
    at(1, { version: '2026.11.06-1' }),
    at(2, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 25 } }),
    at(3, { version: '2026.11.20-1' }),
  ));
  t.equal(p.commit.move, 'canary-promote');
  t.same(p.to, { version: '2026.11.06-1' });
  t.match(p.write, /finished a canary; reverting it would put the canary back/);
});

t.test('a running canary is aborted: its start reverted, or removed when it was stepped since', async (t) => {
  const started = [at(1, { version: '2026.11.06-1' }), at(2, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 5 } })];
  const p = plan(newestFirst(...started));
  t.equal(p.kind, 'canary-abort');
  t.equal(p.commit.sha, sha(2));
  t.equal(p.commit.move, 'canary-start');
  t.same(p.to, { version: '2026.11.06-1' });
  t.equal(p.takenAway, '2026.11.20-1');
  t.notOk(p.write);

  const stepped = plan(newestFirst(...started, at(3, { version: '2026.11.06-1', canary: { version: '2026.11.20-1', traffic: 25 } })));
  t.equal(stepped.commit.sha, sha(2), 'still the start');
  t.match(stepped.write, /the canary was changed since it started \(30{11}\)/);
  t.throws(() => plan(newestFirst(...started), { to: '2026.10.30-1' }), UsageError);
});

t.test('refusals: nothing deployed, nothing earlier, already there', async (t) => {
  t.throws(() => plan(newestFirst(at(1, undefined))), new RefusedError('fraud-detector is not deployed in production on main; there is nothing to roll back'));
  t.throws(() => plan(newestFirst(at(1, { version: '2026.11.06-1' }))), /has run 2026\.11\.06-1 since it was added to production; there is no earlier version to roll back to/);
  t.throws(() => plan(promoted, { to: '2026.11.20-1' }), /already the stable version in production/);
});

t.test('--commit must be the promotion the rollback reverts', async (t) => {
  const history = newestFirst(at(0, { version: '2026.10.30-1' }), at(1, { version: '2026.11.06-1' }), at(2, { version: '2026.11.20-1' }), at(3, { version: '2026.11.20-1' }, 'production: more replicas'));
  t.equal(plan(history, { commit: sha(2) }).commit.sha, sha(2));
  t.throws(() => plan(history, { commit: sha(3) }), /30{11} is not a promotion to roll back in production: it does not change the pin of fraud-detector in production/);
  t.throws(() => plan(history, { commit: sha(1) }), /is not the change that put 2026\.11\.20-1 there: that is 20{11}/);
  t.throws(() => plan(history, { commit: sha(9) }), /it does not change environments\/production\.yaml on main's first-parent line/);
});

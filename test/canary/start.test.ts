import t from 'tap';
import { canaryStartedAt } from '../../src/canary/start.js';
import type { Pin, PinCommit } from '../../src/model/pins.js';

// The story: production runs 2026.11.13-1; the candidate 2026.11.20-1 canaries at 5%, then steps to 25%.
const at = (hour: number) => new Date(Date.UTC(2026, 10, 21, hour));
const commit = (hour: number, pin: Pin | undefined): PinCommit => ({ commit: `c${hour}`, at: at(hour), subject: '', trailers: {}, pins: pin ? { 'fraud-detector': pin } : {} });
const unreadable = (hour: number): PinCommit => ({ commit: `c${hour}`, at: at(hour), subject: '', trailers: {}, note: 'does not parse' });
const stable = { version: '2026.11.13-1' };
const canary = (traffic: number): Pin => ({ ...stable, canary: { version: '2026.11.20-1', traffic } });
const newestFirst = (...c: PinCommit[]) => c.reverse();

t.test('a canary started when it was first pinned at its share', async (t) => {
  const history = newestFirst(commit(1, stable), commit(2, canary(5)), commit(3, canary(5)));
  t.same(canaryStartedAt(history, 'fraud-detector', { version: '2026.11.20-1', traffic: 5 }), at(2));
});

t.test('a traffic step is a new step: the window restarts when the share changed', async (t) => {
  const history = newestFirst(commit(1, stable), commit(2, canary(5)), commit(5, canary(25)));
  t.same(canaryStartedAt(history, 'fraud-detector', { version: '2026.11.20-1', traffic: 25 }), at(5));
});

t.test('a commit whose file could not be read neither breaks nor extends the run', async (t) => {
  const history = newestFirst(commit(1, stable), commit(2, canary(5)), unreadable(3), commit(4, canary(5)));
  t.same(canaryStartedAt(history, 'fraud-detector', { version: '2026.11.20-1', traffic: 5 }), at(2));
});

t.test('a different canary version is a different canary', async (t) => {
  const history = newestFirst(commit(2, { ...stable, canary: { version: '2026.11.19-1', traffic: 5 } }), commit(4, canary(5)));
  t.same(canaryStartedAt(history, 'fraud-detector', { version: '2026.11.20-1', traffic: 5 }), at(4));
  t.equal(canaryStartedAt(newestFirst(commit(4, stable)), 'fraud-detector', { version: '2026.11.20-1', traffic: 5 }), undefined, 'not running at the newest commit: unknown');
});

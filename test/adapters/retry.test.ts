import t from 'tap';
import { parseRetryAfter, retry } from '../../src/adapters/retry.js';

class Flaky extends Error {
  constructor(readonly retryAfterMs?: number) { super('flaky'); }
}
const flaky = (e: unknown) => e instanceof Flaky;

/** A function that fails `failures` times with `error()`, then answers 'ok'; counts its calls. */
function failing(failures: number, error: () => Error = () => new Flaky()) {
  const f = async () => {
    f.calls++;
    if (f.calls <= failures) throw error();
    return 'ok';
  };
  f.calls = 0;
  return f;
}

t.test('a failure that passes is retried, with full-jitter waits that double up to the cap', async (t) => {
  const waits: number[] = [];
  const f = failing(3);
  const r = await retry(f, { attempts: 4, baseDelayMs: 100, maxDelayMs: 300, retryable: flaky, random: () => 0.5, sleep: async (ms) => void waits.push(ms) });
  t.equal(r, 'ok');
  t.equal(f.calls, 4);
  t.same(waits, [50, 100, 150], 'half of 100, 200, then of the 300 ms cap');
});

t.test('bounded: the last failure is thrown once the attempts are spent', async (t) => {
  const f = failing(10);
  await t.rejects(retry(f, { attempts: 3, baseDelayMs: 0, retryable: flaky }), { message: 'flaky' });
  t.equal(f.calls, 3);
});

t.test('a failure the predicate refuses is thrown at once', async (t) => {
  const f = failing(10, () => new TypeError('bad query'));
  await t.rejects(retry(f, { attempts: 5, baseDelayMs: 0, retryable: flaky }), TypeError);
  t.equal(f.calls, 1);
});

t.test('Retry-After is honoured; one longer than the longest wait is not retried early', async (t) => {
  const waits: number[] = [];
  const asked = (e: unknown) => (e as Flaky).retryAfterMs;
  const f = failing(1, () => new Flaky(2_000));
  t.equal(await retry(f, { attempts: 3, baseDelayMs: 10, retryable: flaky, retryAfterMs: asked, sleep: async (ms) => void waits.push(ms) }), 'ok');
  t.same(waits, [2_000]);
  const g = failing(1, () => new Flaky(120_000));
  await t.rejects(retry(g, { attempts: 3, baseDelayMs: 10, maxDelayMs: 30_000, retryable: flaky, retryAfterMs: asked }), { message: 'flaky' });
  t.equal(g.calls, 1);
});

t.test('an abort ends the wait and throws the last failure', async (t) => {
  const controller = new AbortController();
  const f = failing(10);
  const started = Date.now();
  setTimeout(() => controller.abort(), 20);
  await t.rejects(retry(f, { attempts: 5, baseDelayMs: 60_000, retryable: flaky, random: () => 0.99, signal: controller.signal }), { message: 'flaky' });
  t.equal(f.calls, 1);
  t.ok(Date.now() - started < 5_000, 'did not wait out the backoff');
});

t.test('Retry-After: seconds or an HTTP date', async (t) => {
  t.equal(parseRetryAfter('7'), 7_000);
  t.equal(parseRetryAfter('Sun, 06 Dec 2026 00:00:30 GMT', Date.parse('2026-12-06T00:00:00Z')), 30_000);
  t.equal(parseRetryAfter(undefined), undefined);
  t.equal(parseRetryAfter('soon'), undefined);
});

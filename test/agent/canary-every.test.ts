// MODELSHIP_CANARY_EVERY: the demo's knob for how often the agent runs canary watch (src/agent/duties.ts).
import t from 'tap';
import { ModelshipError } from '../../src/errors.js';
import { canaryEveryMs } from '../../src/agent/duties.js';

t.test('unset or empty: the policy decides (undefined)', async (t) => {
  t.equal(canaryEveryMs({}), undefined);
  t.equal(canaryEveryMs({ MODELSHIP_CANARY_EVERY: '' }), undefined);
});

t.test('a duration: that many milliseconds, below the 60 s floor too', async (t) => {
  t.equal(canaryEveryMs({ MODELSHIP_CANARY_EVERY: '2s' }), 2000);
  t.equal(canaryEveryMs({ MODELSHIP_CANARY_EVERY: '5m' }), 300_000);
});

t.test('not a duration: refused with what was expected and found', async (t) => {
  t.throws(() => canaryEveryMs({ MODELSHIP_CANARY_EVERY: 'often' }), { message: 'MODELSHIP_CANARY_EVERY expects a duration such as 30s or 2m, found "often"' });
  t.throws(() => canaryEveryMs({ MODELSHIP_CANARY_EVERY: '0s' }), { message: 'MODELSHIP_CANARY_EVERY expects a duration such as 30s or 2m, found "0s"' });
  try {
    canaryEveryMs({ MODELSHIP_CANARY_EVERY: 'often' });
  } catch (e) {
    t.ok(e instanceof ModelshipError, 'a ModelshipError: canaryDuty logs it and watches again after the default interval');
  }
});

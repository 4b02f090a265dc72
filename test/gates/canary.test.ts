// The canary gate with AcmeRisk's production canary policy (policies/production.yaml):
// minDuration 2h, minTraffic 5%, error-rate ≤ 0.01, gateway p99 ≤ 150 ms and model-server predict
// p99 ≤ 60 ms with ≥ 500 requests, decline-rate ratio in [0.8, 1.25].
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import type { Policy } from '../../src/config/types.js';
import { canaryGate, type CanaryCheckRow, type CanaryInput, type CanaryObservation } from '../../src/gates/canary.js';
import { projectRoot } from '../helpers/cli.js';

const policy = (parse(readFileSync(`${projectRoot}policies/production.yaml`, 'utf8')) as Policy).canary!;
const now = new Date('2026-11-21T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);

const healthy: CanaryObservation[] = [
  { check: 'error-rate', value: 0.0042, requests: 18_250 },
  { check: 'p99-latency-ms', value: 98.27, requests: 18_250 },
  { check: 'p99-predict-ms', value: 41.3, requests: 18_250 },
  { check: 'decline-rate-ratio', value: 1.04, requests: 1_900 },
];

function gate(overrides: Partial<CanaryInput> = {}, replace: CanaryObservation[] = []) {
  const observations = healthy.map((o) => replace.find((r) => r.check === o.check) ?? o);
  return canaryGate({
    policy, now, observations, change: 'promote-canary',
    canary: { version: '2026.11.20-1', traffic: 10, startedAt: hoursAgo(3) },
    ...overrides,
  });
}
const checkRows = (r: ReturnType<typeof canaryGate>) => r.data!.checks as CanaryCheckRow[];

t.test('a healthy canary that ran long enough may be promoted', async (t) => {
  const r = gate();
  t.equal(r.status, 'pass');
  t.equal(r.summary, 'canary 2026.11.20-1 at 10% for 3h: 4 checks in bounds '
    + '(error-rate: 0.0042 ≤ 0.01; p99-latency-ms: 98.27 ≤ 150; p99-predict-ms: 41.3 ≤ 60; decline-rate-ratio: 1.04 in [0.8, 1.25])');
  t.same(checkRows(r).map((c) => c.status), ['pass', 'pass', 'pass', 'pass']);
  t.match(r.data!.canary, { version: '2026.11.20-1', traffic: 10, ranForMs: 3 * 3_600_000 });
});

t.test('promotion before the minimum duration fails and says how long is left', async (t) => {
  const r = gate({ canary: { version: '2026.11.20-1', traffic: 10, startedAt: new Date(now.getTime() - 70 * 60_000) } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'canary 2026.11.20-1 at 10% for 1h 10m: canary has run 1h 10m of the required 2h (50m to go)');
});

t.test('exactly the minimum duration is enough', async (t) => {
  t.equal(gate({ canary: { version: '2026.11.20-1', traffic: 10, startedAt: hoursAgo(2) } }).status, 'pass');
});

t.test('a step is held to the same evidence as a promotion', async (t) => {
  const r = gate({ change: 'step', canary: { version: '2026.11.20-1', traffic: 5, startedAt: hoursAgo(1) } });
  t.equal(r.status, 'fail');
  t.match(r.summary, /canary has run 1h of the required 2h/);
});

t.test('a canary below the minimum traffic share fails', async (t) => {
  const r = gate({ canary: { version: '2026.11.20-1', traffic: 2, startedAt: hoursAgo(3) } });
  t.equal(r.status, 'fail');
  t.match(r.summary, /canary serves 2% of traffic; needs ≥ 5%/);
});

t.test('an error rate above the bound fails, naming value and bound', async (t) => {
  const r = gate({}, [{ check: 'error-rate', value: 0.0312, requests: 18_250 }]);
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'canary 2026.11.20-1 at 10% for 3h: error-rate: 0.0312 > max 0.01');
  t.same(r.details, ['✗ error-rate: 0.0312 > max 0.01', '✓ p99-latency-ms: 98.27 ≤ 150', '✓ p99-predict-ms: 41.3 ≤ 60', '✓ decline-rate-ratio: 1.04 in [0.8, 1.25]']);
});

t.test('a ratio below its lower bound fails', async (t) => {
  const r = gate({}, [{ check: 'decline-rate-ratio', value: 0.71, requests: 1_900 }]);
  t.equal(r.status, 'fail');
  t.match(r.summary, /decline-rate-ratio: 0\.71 < min 0\.8/);
});

t.test('values on a bound are inside it', async (t) => {
  t.equal(gate({}, [{ check: 'error-rate', value: 0.01, requests: 500 }, { check: 'decline-rate-ratio', value: 0.8, requests: 1_900 }]).status, 'pass');
});

t.test('too few requests fail even when the value looks fine', async (t) => {
  const r = gate({}, [{ check: 'error-rate', value: 0, requests: 212.4 }]);
  t.equal(r.status, 'fail');
  t.match(r.summary, /error-rate: not enough traffic: 212 requests, need 500/);
});

t.test('a request count the source could not give fails a check that needs one', async (t) => {
  const r = gate({}, [{ check: 'p99-latency-ms', value: 80 }]);
  t.equal(r.status, 'fail');
  t.match(r.summary, /p99-latency-ms: request count unknown; need ≥ 500/);
});

t.test('no data is a failure, never a pass (empty result or NaN from 0/0)', async (t) => {
  const empty = gate({}, [{ check: 'decline-rate-ratio' }]);
  t.equal(empty.status, 'fail');
  t.match(empty.summary, /decline-rate-ratio: no data \(is the canary receiving traffic\?\)/);
  const nan = gate({}, [{ check: 'error-rate', value: NaN, requests: 900 }]);
  t.equal(nan.status, 'fail');
  t.match(nan.summary, /error-rate: no data/);
});

t.test('a source that timed out makes the gate an error, whatever else failed', async (t) => {
  const r = gate({}, [
    { check: 'p99-latency-ms', error: 'prometheus: query at 2026-11-21T12:00:00.000Z: timed out after 5000 ms (3 attempts)' },
    { check: 'error-rate', value: 0.5, requests: 18_250 },
  ]);
  t.equal(r.status, 'error');
  t.match(r.summary, /error-rate: 0\.5 > max 0\.01; p99-latency-ms: could not be measured: prometheus: .*timed out/);
  t.equal(checkRows(r).find((c) => c.name === 'p99-latency-ms')!.status, 'error');
});

t.test('a check nobody measured is an error', async (t) => {
  const r = canaryGate({ policy, now, change: 'promote-canary', canary: { version: '2026.11.20-1', traffic: 10, startedAt: hoursAgo(3) }, observations: healthy.slice(0, 2) });
  t.equal(r.status, 'error');
  t.match(r.summary, /decline-rate-ratio: not measured \(no observation from warehouse\)/);
});

t.test('an unknown start time is an error: the duration cannot be checked', async (t) => {
  const r = gate({ canary: { version: '2026.11.20-1', traffic: 10 } });
  t.equal(r.status, 'error');
  t.match(r.summary, /when the canary started is unknown/);
});

t.test('starting a canary is skipped: there is no evidence yet, and the note says what promotion will need', async (t) => {
  const r = canaryGate({ policy, now, change: 'start', canary: { version: '2026.11.20-1', traffic: 5 }, observations: [] });
  t.equal(r.status, 'skipped');
  t.equal(r.summary, 'canary 2026.11.20-1 starts at 5% traffic; promotion needs 2h at ≥ 5% traffic and 4 checks in bounds');
});

t.test('promoting when no canary runs fails', async (t) => {
  const r = canaryGate({ policy, now, change: 'promote-canary', canary: undefined, observations: [] });
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'no canary is running; nothing to promote');
});

t.test('an environment without a canary policy skips the gate', async (t) => {
  t.match(canaryGate({ policy: undefined, now, change: 'promote-canary', canary: undefined, observations: [] }), { status: 'skipped', summary: 'no canary policy for this environment' });
});

import t from 'tap';
import { judgeGuardrails, type IntervalObservations } from '../../src/canary/guardrails.js';
import type { CanaryPolicy } from '../../src/gates/canary.js';

const policy: CanaryPolicy = {
  failureThreshold: 3, interval: '5m',
  checks: [
    { name: 'error-rate', source: 'prometheus', query: 'q', max: 0.01, minRequests: 500 },
    { name: 'decline-rate-ratio', source: 'warehouse', query: 'sql', min: 0.8, max: 1.25 },
  ],
};
const end = (minutesAgo: number) => new Date(Date.parse('2026-11-22T12:00:00Z') - minutesAgo * 60_000);
const iv = (minutesAgo: number, errorRate: number | undefined | Error, extra: { requests?: number } = {}): IntervalObservations => ({
  end: end(minutesAgo),
  observations: [errorRate instanceof Error ? { check: 'error-rate', error: errorRate.message }
    : { check: 'error-rate', ...(errorRate !== undefined ? { value: errorRate } : {}), requests: extra.requests ?? 600 }],
});
const judge = (...intervals: IntervalObservations[]) => judgeGuardrails({ policy, intervals, intervalText: '5m' });

t.test('a breach in each of the last 3 intervals rolls back, and says why with the numbers', async (t) => {
  const v = judge(iv(10, 0.021), iv(5, 0.034), iv(0, 0.031));
  t.equal(v.status, 'breached');
  t.equal(v.checks[0]!.streak, 3);
  t.same(v.reasons, ['error-rate (prometheus) was outside ≤ 0.01 in each of the last 3 intervals of 5m (11:50Z 0.021, 11:55Z 0.034, 12:00Z 0.031); the policy rolls back after 3']);
});

t.test('two breaches in a row, or three that are not consecutive, do not', async (t) => {
  t.equal(judge(iv(10, 0.004), iv(5, 0.034), iv(0, 0.031)).status, 'healthy');
  t.equal(judge(iv(10, 0.004), iv(5, 0.034), iv(0, 0.031)).checks[0]!.streak, 2);
  t.equal(judge(iv(15, 0.02), iv(10, 0.02), iv(5, 0.004), iv(0, 0.02)).status, 'healthy');
});

t.test('missing data never rolls back: no data, too little traffic, and a source that is down (an alert)', async (t) => {
  t.equal(judge(iv(10, 0.03), iv(5, 0.03), iv(0, undefined)).status, 'healthy', 'no data breaks the streak');
  t.equal(judge(iv(10, 0.03), iv(5, 0.03), iv(0, 0.03, { requests: 120 })).status, 'healthy', 'too few requests to judge');
  const down = judge(iv(10, 0.03), iv(5, 0.03), iv(0, new Error('prometheus: query: cannot connect: ECONNREFUSED')));
  t.equal(down.status, 'unknown');
  t.same(down.alerts, ['error-rate: prometheus did not answer: prometheus: query: cannot connect: ECONNREFUSED']);
  t.same(down.reasons, []);
});

t.test('a warehouse check is read for the newest interval only: it cannot reach a threshold of 3 alone', async (t) => {
  const v = judge(iv(10, 0.004), iv(5, 0.004), { end: end(0), observations: [{ check: 'error-rate', value: 0.004, requests: 600 }, { check: 'decline-rate-ratio', value: 1.9 }] });
  t.equal(v.status, 'healthy');
  t.same(v.checks[1]!.intervals.map((i) => i.state), ['breach']);
  t.equal(judgeGuardrails({ policy: { ...policy, failureThreshold: 1 }, intervals: [{ end: end(0), observations: [{ check: 'decline-rate-ratio', value: 1.9 }] }], intervalText: '5m' }).status, 'breached');
});

// A canary's request metrics with a breach in them, for the canary watch tests (the CLI's and the
// agent's duty): fraud-detector 2026.11.20-1 in production (raw mode behind an Istio gateway:
// what the gateway reports for the canary's backend Service) started 2 h before `bad`; from
// `bad` on it throws 3 % server errors (healthy: 0.3 %), at 2 requests/s.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { inferenceServiceName, predictorServiceName } from '../../src/sync/render/kubernetes.js';
import { openMetrics, type Series } from '../adapters/prometheus-server.js';
import { runCli } from './cli.js';
import type { TestRepo } from './repo.js';
import { makeRun } from './runs.js';

export const minute = 60_000;
export const bad = new Date(Math.floor(Date.now() / minute) * minute - 60 * minute);
export const started = new Date(bad.getTime() - 120 * minute);
export const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
/** `m` minutes after `bad`, as an ISO time */
export const after = (m: number) => iso(new Date(bad.getTime() + m * minute));

/** The OpenMetrics text of istio_requests_total for the canary, from before it started to 40 min after `bad`. */
export function breachSeries(): string {
  const times: Date[] = [];
  for (let at = started.getTime() - 10 * minute; at <= bad.getTime() + 40 * minute; at += 30_000) times.push(new Date(at));
  const service = predictorServiceName(inferenceServiceName('raw', 'fraud-detector', '2026.11.20-1'));
  const labels = {
    reporter: 'source', source_workload: 'ml-gateway-istio', source_workload_namespace: 'gateway-system',
    destination_service: `${service}.ml-serving.svc.cluster.local`, destination_service_name: service, destination_service_namespace: 'ml-serving',
    destination_workload: service, destination_workload_namespace: 'ml-serving', request_protocol: 'http', response_flags: '-',
  };
  // cumulative counts at 2 requests/s: the error share changes at `bad`
  const count = (share: (at: number) => number) => {
    let total = 0;
    let prev = times[0]!.getTime();
    return times.map((d): [Date, number] => {
      total += 2 * share(d.getTime()) * (d.getTime() - prev) / 1000;
      prev = d.getTime();
      return [d, Math.floor(total)];
    });
  };
  const errorShare = (at: number) => (at > bad.getTime() ? 0.03 : 0.003);
  const requests: Series[] = [
    { name: 'istio_requests_total', labels: { ...labels, response_code: '200' }, samples: count((at) => 1 - errorShare(at)) },
    { name: 'istio_requests_total', labels: { ...labels, response_code: '500' }, samples: count(errorShare) },
  ];
  return openMetrics([{ name: 'istio_requests_total', type: 'counter', series: requests }]);
}

/** Commits made from here on carry time `d` (git's author and committer dates). */
export const dated = (d: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: d, GIT_COMMITTER_DATE: d });

/**
 * In `repo` (pushed to its origin at each step): production's policy keeps only the Prometheus
 * error-rate guardrail (with `autoRollback`), then fraud-detector 2026.11.20-1 is registered
 * (into the registry `s3env` names), soaked in staging from 49 h before `started` and started in
 * production as a 5 % canary at `started`, each step merged to main as its pull request would be.
 */
export async function startCanary(t: Test, repo: TestRepo, s3env: NodeJS.ProcessEnv, autoRollback: 'pr' | 'direct' = 'pr'): Promise<void> {
  const policyFile = join(repo.root, 'policies/production.yaml');
  const policy = readFileSync(policyFile, 'utf8');
  const checks = policy.slice(policy.indexOf('  checks:\n'), policy.indexOf('freeze:'));
  const errorRate = checks.slice(0, checks.indexOf('    - name: p99-latency-ms'));
  writeFileSync(policyFile, policy.replace(checks, errorRate).replace('autoRollback: pr', `autoRollback: ${autoRollback}`));
  repo.git('commit', '-qam', 'production: the error-rate guardrail only');
  repo.git('push', '-q', 'origin', 'main');
  const registered = { SOURCE_DATE_EPOCH: String(Math.floor(started.getTime() / 1000) - 50 * 3600) };
  t.equal((await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3env, ...registered } })).code, 0);
  for (const [when, args] of [[new Date(started.getTime() - 49 * 3_600_000), ['--to', 'staging']], [started, ['--to', 'production', '--canary', '5']]] as const) {
    dated(iso(when));
    const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', ...args, '--json', '-C', repo.root], { env: s3env });
    t.equal(p.code, 0, p.stderr);
    repo.git('checkout', '-q', 'main');
    repo.git('merge', '-q', '--no-ff', '-m', `Merge ${JSON.parse(p.stdout).branch}`, JSON.parse(p.stdout).branch);
    repo.git('push', '-q', 'origin', 'main');
  }
}

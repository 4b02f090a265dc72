// A canary's request metrics with a breach in them, for the canary watch tests (the CLI's and the
// agent's duty): fraud-detector 2026.11.20-1 in production (raw mode behind an Istio gateway:
// what the gateway reports for the canary's backend Service) started 2 h before `bad`; from
// `bad` on it throws 3 % server errors (healthy: 0.3 %), at 2 requests/s.
import { inferenceServiceName, predictorServiceName } from '../../src/sync/render/kubernetes.js';
import { openMetrics, type Series } from '../adapters/prometheus-server.js';

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

// `modelship serve` put together: the GitHub App, the webhook intake, the work queue and the
// evaluator, listening until stopped. The command (commands/serve.ts) only reads flags into
// ServeOptions and waits for a signal.

import type { AddressInfo } from 'node:net';
import { connectApp, webhookSignatureCheck } from '../adapters/github/app.js';
import { evaluator } from './evaluate.js';
import type { EvaluationJob } from './events.js';
import { intakeServer, webhookPath, type IntakeStats } from './intake.js';
import { WorkQueue } from './queue.js';
import { startAgent, type Agent, type AgentOptions } from '../agent/agent.js';
import { noMetrics, type Metrics } from './metrics.js';

export interface ServeOptions {
  appId: number;
  privateKey: string;
  webhookSecret: string;
  /** https://api.github.com by default */
  apiUrl?: string;
  /** host:port; port 0 picks a free one */
  listen: string;
  mirrorDir: string;
  concurrency: number;
  releaseBranch?: string;
  maxPayloadBytes: number;
  prometheusUrl?: string;
  log: (line: string) => void;
  /** the checker role (default on): judge pull requests and merge groups */
  check?: boolean;
  /** the agent role (src/agent/): reconcile these environments from the release branch */
  agent?: Omit<AgentOptions, 'app' | 'mirrorDir' | 'metrics' | 'log' | 'releaseBranch'>;
  metrics?: Metrics;
}

export interface Service {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  webhookUrl: string;
  queue: WorkQueue<EvaluationJob>;
  stats: IntakeStats;
  /** the agent role, when it runs */
  agent?: Agent;
  /** stops taking deliveries, lets running evaluations finish for up to graceMs, then abandons them */
  stop(graceMs: number): Promise<{ dropped: number; abandoned: string[] }>;
}

/** Default payload cap: GitHub caps webhook payloads at 25 MB and does not deliver larger ones (docs: webhook events and payloads). */
export const defaultMaxPayloadBytes = 25 * 1024 * 1024;

export async function startService(o: ServeOptions): Promise<Service> {
  const app = await connectApp({ appId: o.appId, privateKey: o.privateKey, ...(o.apiUrl ? { baseUrl: o.apiUrl } : {}) });
  o.log(`authenticated as GitHub App ${app.slug} (id ${app.id})`);
  const evaluate = evaluator({
    app, mirrorDir: o.mirrorDir, log: o.log,
    ...(o.releaseBranch ? { releaseBranch: o.releaseBranch } : {}), ...(o.prometheusUrl ? { prometheusUrl: o.prometheusUrl } : {}),
  });
  const queue = new WorkQueue<EvaluationJob>(o.concurrency, evaluate, (job, e) => o.log(`${job.repo.owner}/${job.repo.repo} ${job.describe}: failed: ${(e as Error).message}`));
  let closing = false;
  const pushes = new LastPushes();
  const agent = o.agent ? await startAgent({
    ...o.agent, app, mirrorDir: o.mirrorDir, metrics: o.metrics ?? noMetrics, log: o.log, ...(o.releaseBranch ? { releaseBranch: o.releaseBranch } : {}),
  }) : undefined;
  const { server, stats } = intakeServer({
    verify: await webhookSignatureCheck(o.webhookSecret), appId: app.id, maxPayloadBytes: o.maxPayloadBytes, log: o.log,
    ...(o.check === false ? {} : { enqueue: (job: EvaluationJob) => queue.push(pushes.fill(job)) }),
    ...(agent && o.agent ? { agent: { release: { repository: o.agent.repository, ...(o.releaseBranch ? { branch: o.releaseBranch } : {}) }, pushed: (p) => agent.pushed(p) } } : {}),
    // ready: listening, and (agent role) the release branch fetched once
    ready: () => !closing && (agent?.ready() ?? true),
    ...(agent ? { state: () => ({ agent: agent.status() }) } : {}),
  });
  const at = o.listen.lastIndexOf(':');
  const host = at > 0 ? o.listen.slice(0, at).replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = Number(at >= 0 ? o.listen.slice(at + 1) : o.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  }).catch(async (e: unknown) => {
    await agent?.stop(0);
    throw e;
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url, webhookUrl: `${url}${webhookPath}`, queue, stats, ...(agent ? { agent } : {}),
    async stop(graceMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const [outcome] = await Promise.all([queue.close(graceMs), agent?.stop(graceMs)]);
      server.closeAllConnections();
      await closed;
      return outcome;
    },
  };
}

/**
 * Who pushed each pull request's head, from its synchronize event, so a later review or re-run
 * of the same head still counts them among the pushers. Bounded: the oldest pull requests are
 * forgotten first (their pushers then come from the commit's author and committer alone).
 */
class LastPushes {
  private readonly byPull = new Map<string, { sha: string; login: string }>();

  constructor(private readonly capacity = 10_000) {}

  fill(job: EvaluationJob): EvaluationJob {
    if (job.pusher) {
      this.byPull.delete(job.key);
      this.byPull.set(job.key, { sha: job.event.headSha, login: job.pusher });
      if (this.byPull.size > this.capacity) this.byPull.delete(this.byPull.keys().next().value!);
      return job;
    }
    const last = this.byPull.get(job.key);
    return last && last.sha === job.event.headSha ? { ...job, pusher: last.login } : job;
  }
}

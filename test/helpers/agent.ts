// The world the agent tests run in: the real @kubernetes/client-node and snowflake-sdk against the
// Kubernetes and Snowflake stand-ins, the App authenticating against the GitHub stand-in (JWT,
// installation token, GET /repos/{owner}/{repo}/installation), a real git origin as the
// repository's clone URL, and push webhooks signed as GitHub signs them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { connectApp, type GitHubApp } from '../../src/adapters/github/app.js';
import { startAgent, type Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { Metrics } from '../../src/serve/metrics.js';
import { defaultMaxPayloadBytes, startService, type Service } from '../../src/serve/service.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { promoteFraudDetector, stage, type Stage } from './stage.js';
import { appKeys, deliver, example, inRepository } from './webhooks.js';

export const owner = 'acmerisk';
export const name = 'model-releases';
export const secret = 'whsec-modelship-test';
export const appInfo = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
export const keys = appKeys();

/** Lease times as kube-apiserver wants them: RFC 3339 with microseconds. */
export const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export interface World {
  s: Stage;
  gh: GitHubStandIn;
  app: GitHubApp;
  origin: string;
  mirrorDir: string;
  logs: string[];
  metrics: Array<[string, ...unknown[]]>;
  /** records into `metrics` */
  recorder: Metrics;
  /** main's commit in the origin */
  main(): string;
  /** commits a promotion of production's fraud-detector and pushes it to the origin; returns the commit */
  promote(version: string): string;
  agent(o?: Partial<AgentOptions>): Promise<Agent>;
}

export async function world(t: Test): Promise<World> {
  // the agent's tests follow commits made during the test, not when the repository's first one was
  const s = await stage(t, { reuse: true });
  const origin = join(s.root, '..', 'origin.git');
  const gh = await startGitHub({ owner, repo: name, cloneUrl: origin, apps: [{ ...appInfo, publicKey: keys.publicKey }] });
  const mirrorDir = mkdtempSync(join(tmpdir(), 'modelship-agent-mirrors-'));
  const logs: string[] = [];
  t.teardown(async () => {
    if (!t.passing()) t.comment(logs.join('\n'));
    // Runs after the test's agents stopped and before the stand-ins stop (teardowns run last
    // first). A reconcile cut short (leadership lost) can leave a Snowflake statement of its own
    // still going; stopped under it, the snowflake-sdk would retry it against a closed port for
    // minutes (16 s waits) and hold the test process open long after its tests ended. So the
    // Snowflake stand-in first answers whatever is still coming: until it has had no statement
    // for a second (at most 15 s).
    for (let n = -1, quietSince = Date.now(), end = Date.now() + 15_000; Date.now() < end;) {
      if (s.snow.queries.length !== n) [n, quietSince] = [s.snow.queries.length, Date.now()];
      else if (Date.now() - quietSince >= 1000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await gh.stop();
    rmSync(mirrorDir, { recursive: true, force: true });
  });
  const app = await connectApp({ appId: appInfo.id, privateKey: keys.privateKey, baseUrl: gh.url });
  const recorded: World['metrics'] = [];
  const metrics: Metrics = {
    reconcile: (...a) => void recorded.push(['reconcile', ...a]), outOfSync: (...a) => void recorded.push(['outOfSync', ...a]),
    lastSuccessfulSync: (...a) => void recorded.push(['lastSuccessfulSync', ...a]), webhook: () => {}, gate: () => {},
    leader: (...a) => void recorded.push(['leader', ...a]),
  };
  return {
    s, gh, app, origin, mirrorDir, logs, metrics: recorded, recorder: metrics,
    main: () => s.git('rev-parse', 'main').trim(),
    promote(version) {
      const commit = promoteFraudDetector(s, version);
      s.git('push', '-q', 'origin', 'main');
      return commit;
    },
    async agent(o = {}) {
      const agent = await startAgent({
        repository: { owner, repo: name }, environments: ['production'], mirrorDir, resyncMs: 600_000, leaseDurationSeconds: 5,
        holder: 'agent-a', app, env: s.env, metrics, log: (l) => logs.push(l), readyTimeoutMs: 20_000, ...o,
      });
      t.teardown(() => agent.stop(1000));
      return agent;
    },
  };
}

/** Polls `check` every 100 ms until it holds, for at most `ms` (generous: the machine may be busy). */
export async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** production's managed Kubernetes objects with the commit each was last written at. */
export function production(w: { s: Stage }): Array<{ kind: string; version: string; commit: string }> {
  return [...w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving'), ...w.s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving')]
    .map((o) => ({ kind: o.kind as string, version: o.metadata.annotations?.['modelship.io/version'], commit: o.metadata.annotations?.['modelship.io/commit'] }))
    .sort((a, b) => a.kind.localeCompare(b.kind));
}

export const statusOf = (a: Agent) => (a.status() as { environments: Record<string, { leader: boolean; reconciles?: number; result?: string; commit?: string }> }).environments.production!;

export function pushEvent(w: World, o: { ref?: string; after: string; repo?: string; deleted?: boolean }): any {
  const payload = inRepository(example('push'), { owner, repo: o.repo ?? name, cloneUrl: w.origin, installationId: appInfo.installationId });
  Object.assign(payload, { ref: o.ref ?? 'refs/heads/main', after: o.after, deleted: o.deleted ?? false });
  return payload;
}

export async function serve(t: Test, w: World): Promise<Service> {
  const service = await startService({
    appId: appInfo.id, privateKey: keys.privateKey, webhookSecret: secret, apiUrl: w.gh.url, listen: '127.0.0.1:0', mirrorDir: w.mirrorDir,
    concurrency: 1, maxPayloadBytes: defaultMaxPayloadBytes, log: (l) => w.logs.push(l), check: false, metrics: w.recorder,
    agent: { repository: { owner, repo: name }, environments: ['production'], resyncMs: 600_000, leaseDurationSeconds: 5, holder: 'serve-a', env: w.s.env, readyTimeoutMs: 20_000 },
  });
  t.teardown(() => service.stop(1000));
  return service;
}


// Benchmark: the in-cluster agent (`modelship serve --environments …`, dist/cli.js as child
// processes) reconciling a generated 30 models × 3 environments repository (the sync benchmark's
// shape) from a local bare origin, against the loopback Kubernetes, Snowflake and GitHub (App
// mode) stand-ins. The benchmark plays GitHub's webhook deliverer (signed push deliveries).
// (1) Push webhook → converged for a one-model promotion in production: from the POST of the push
//     to the agent's log line "production: converged at <the pushed commit>", median of 5 (each
//     round promotes another model). Reference: a cold `validate --rev HEAD` of the same repository.
// (2) Warm no-op resync of all 3 environments: the same refresh a resync timer runs, started by a
//     push of the unchanged head (the timer itself is set far off, so nothing else runs): from the
//     POST to the third environment's "unchanged" line, median of 5; requests per managed object
//     from the stand-ins' logs in that window (Kubernetes requests other than the Leases' +
//     Snowflake statements, / 240 objects); the Lease requests in the window are shown apart.
// (3) Failover: a second replica is started (its cold start to GET /readyz 200 is reported), then
//     the leader is killed (SIGKILL: no lease released); the time from the kill to the second
//     replica's first reconcile of each environment, against the lease duration + 5 s.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { startKubernetesStandIn, type KubernetesStandIn } from '../../tools/sandbox/kubernetes/server.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appKeys, deliver, example, inRepository, type Target } from '../helpers/webhooks.js';
import { childEnv, measure, median } from './measure.js';
import { modelName } from './generate-repo.js';
import { generateSyncRepo, gitIn, managedObjects, namespaces, pin, setPin, shape, versionsOf } from './sync.js';
import { ms, ratio, type Row } from './table.js';
import { freePort } from '../helpers/ports.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const owner = 'acmerisk';
const name = 'bench-releases';
const secret = 'whsec-bench-agent';
const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const rounds = 5;
const leaseSeconds = 15;
const targets = { convergedMs: 5000, noopMs: 200, requestsPerObject: 2, failoverMs: (leaseSeconds + 5) * 1000, readyMs: 2000 };
/** The models whose production pin each round moves one version up (other than the sync benchmark's). */
const changed = Array.from({ length: rounds }, (_, i) => modelName(3 * i + 5, shape.models));

export function agentNotes(): string[] {
  return [
    `agent: dist/cli.js serve --environments ${shape.environments.join(',')} (checker and agent roles; --resync 1h so no timer runs during a measurement; --lease-duration ${leaseSeconds}s, client-go's default) as child processes; the sync benchmark's generated repository (${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments, 240 managed objects) in a local bare origin the agent mirrors; the Kubernetes stand-in (toy KServe controller, status 0 ms after a spec change) plays every cluster, the Snowflake stand-in the tasks, the GitHub stand-in the App. The benchmark delivers GitHub's push webhook (signed; the stand-in delivers none). Times are taken from the POST to the moment the benchmark reads the agent's log line (stderr, piped); the agent's own reconcile time is the "in … s" of that line. Requests from the stand-ins' logs (every HTTP request to the Kubernetes stand-in, including discovery; every statement sent to Snowflake). Failover: the second replica was started (cold start reported) after the rounds above, then the leader got SIGKILL.`,
  ];
}

interface Line { text: string; at: number }

/** A `modelship serve` child process whose stderr lines are kept with the time they were read. */
class Replica {
  readonly lines: Line[] = [];
  readonly exited: Promise<void>;
  private partial = '';
  readonly started = performance.now();

  constructor(readonly name: string, readonly child: ChildProcess, readonly port: number) {
    child.stderr!.on('data', (d: Buffer) => {
      const parts = (this.partial + d.toString()).split('\n');
      this.partial = parts.pop()!;
      const at = performance.now();
      for (const text of parts) this.lines.push({ text, at });
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The first line from index `from` on that matches; waits for it. */
  async line(re: RegExp, from: number, timeoutMs = 60_000): Promise<Line> {
    const deadline = performance.now() + timeoutMs;
    for (let i = from; ; ) {
      for (; i < this.lines.length; i++) if (re.test(this.lines[i]!.text)) return this.lines[i]!;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before logging ${re}:\n${this.tail()}`);
      if (performance.now() > deadline) throw new Error(`${this.name} did not log ${re} within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => l.text).join('\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

export async function agentBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-agent-'));
  const dir = join(work, 'repo');
  const origin = join(work, 'origin.git');
  let kube: KubernetesStandIn | undefined;
  let snow: SnowflakeStandIn | undefined;
  let gh: GitHubStandIn | undefined;
  const replicas: Replica[] = [];
  try {
    options.log(`agent: generating ${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments`);
    generateSyncRepo(dir);
    const git = gitIn(dir);
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'generated release repository');
    git('clone', '-q', '--bare', dir, origin);
    git('remote', 'add', 'origin', origin);
    const plainEnv = childEnv();

    kube = await startKubernetesStandIn({ namespaces: Object.values(namespaces), controller: { delayMs: 0 } });
    snow = await startSnowflakeStandIn();
    const keys = appKeys();
    gh = await startGitHub({ owner, repo: name, token: 'ghp_ada', login: 'ada', cloneUrl: origin, apps: [{ ...app, publicKey: keys.publicKey }] } as Parameters<typeof startGitHub>[0]);
    let head = git('rev-parse', 'HEAD').trim();
    gh.setBranch('main', head);
    writeFileSync(join(work, 'key.pem'), keys.privateKey);
    writeFileSync(join(work, 'secret'), secret);
    const env = childEnv({
      MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!,
      SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
      MODELSHIP_SNOWFLAKE_URL: snow.url,
    });
    const start = async (replica: string): Promise<Replica> => {
      const port = await freePort();
      const child = spawn(process.execPath, [cli, 'serve', '--app-id', String(app.id), '--private-key-file', join(work, 'key.pem'), '--webhook-secret-file', join(work, 'secret'),
        '--github-api-url', gh!.url, '--listen', `127.0.0.1:${port}`, '--mirror-dir', join(work, `mirrors-${replica}`),
        '--repository', `${owner}/${name}`, '--environments', shape.environments.join(','), '--resync', '1h', '--lease-duration', `${leaseSeconds}s`], {
        env: { ...env, POD_NAME: replica }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      const r = new Replica(replica, child, port);
      replicas.push(r);
      return r;
    };
    const ready = async (r: Replica): Promise<number> => {
      const deadline = performance.now() + 60_000;
      for (;;) {
        if (r.child.exitCode !== null) throw new Error(`${r.name} exited ${r.child.exitCode}:\n${r.tail()}`);
        if (await fetch(`${r.url}/readyz`).then((x) => x.status === 200, () => false)) return performance.now() - r.started;
        if (performance.now() > deadline) throw new Error(`${r.name} was not ready within 60 s:\n${r.tail()}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    const target: Target = { owner, repo: name, cloneUrl: origin, installationId: app.installationId };
    const push = async (r: Replica, before: string, after: string) => {
      const payload = inRepository(example('push'), target);
      Object.assign(payload, { ref: 'refs/heads/main', before, after, created: false, deleted: false, forced: false });
      const answer = await deliver(`${r.url}/webhooks`, 'push', payload, secret);
      if (answer.status !== 202) throw new Error(`${r.name} answered the push ${answer.status}: ${answer.body.message}`);
    };
    const reconciled = (e: string, sha: string, results = 'converged|unchanged') => new RegExp(`\\b${e}: (${results}) at ${sha.slice(0, 12)} in ([0-9.]+) s`);

    // The leader: starts, converges every environment from empty (not measured).
    const a = await start('agent-a');
    await ready(a);
    options.log('agent: agent-a converging all environments from empty');
    for (const e of shape.environments) await a.line(reconciled(e, head, 'converged'), 0, 120_000);
    const objects = managedObjects(kube, snow);
    const total = Object.values(objects).reduce((x, o) => x + o.total, 0);

    // (1) push → converged, one model promoted in production per round.
    const versions = versionsOf(dir, changed[0]!);
    const converged: Array<{ wall: number; agent: number }> = [];
    const validate: number[] = [];
    for (const model of changed) {
      const from = pin(dir, 'production', model);
      const to = versions[versions.indexOf(from) + 1];
      if (!to) throw new Error(`${model} in production is at ${from}, the newest version`);
      setPin(dir, 'production', model, to);
      git('commit', '-qam', `promote(production): ${model} ${from} → ${to}`);
      git('push', '-q', 'origin', 'main');
      const before = head;
      head = git('rev-parse', 'HEAD').trim();
      gh.setBranch('main', head);
      const mark = a.lines.length;
      const t0 = performance.now();
      await push(a, before, head);
      const line = await a.line(reconciled('production', head, 'converged'), mark);
      const agentSeconds = Number(reconciled('production', head, 'converged').exec(line.text)![2]);
      converged.push({ wall: line.at - t0, agent: agentSeconds * 1000 });
      options.log(`agent: ${model} ${from} → ${to}: converged ${ms(line.at - t0)} after the push (reconcile ${ms(agentSeconds * 1000)})`);
      // the other environments reconcile the same head (unchanged) before the next round
      for (const e of shape.environments) await a.line(reconciled(e, head), mark);
      validate.push((await measure(process.execPath, [cli, 'validate', '-C', dir, '--rev', 'HEAD'], { env: plainEnv })).wallMs);
    }

    // (2) warm no-op: a push of the unchanged head.
    const noop: Array<{ wall: number; agent: number[]; kube: number; lease: number; statements: number; writes: number }> = [];
    for (let i = 0; i < rounds; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const mark = a.lines.length;
      const k0 = kube.requests.length;
      const s0 = snow.queries.length;
      const t0 = performance.now();
      await push(a, head, head);
      const lines = [];
      for (const e of shape.environments) lines.push(await a.line(reconciled(e, head, 'unchanged|converged'), mark));
      const end = Math.max(...lines.map((l) => l.at));
      const kubeReqs = kube.requests.slice(k0);
      const sql = snow.queries.slice(s0).map((q) => q.sqlText);
      const writes = kubeReqs.filter((r) => r.method !== 'GET' && !r.path.includes('/leases')).length + sql.filter((q) => !/^\s*(SHOW|SELECT)\b/i.test(q)).length;
      noop.push({
        wall: end - t0, agent: lines.map((l, j) => Number(reconciled(shape.environments[j]!, head, 'unchanged|converged').exec(l.text)![2]) * 1000),
        kube: kubeReqs.filter((r) => !r.path.includes('/leases')).length, lease: kubeReqs.filter((r) => r.path.includes('/leases')).length, statements: sql.length, writes,
      });
      if (lines.some((l) => !/: unchanged at/.test(l.text))) throw new Error(`a no-op resync wrote:\n${lines.map((l) => l.text).join('\n')}`);
    }
    options.log(`agent: no-op resyncs ${noop.map((n) => ms(n.wall)).join(', ')}`);

    // (3) failover: a second replica (cold start to ready measured), then the leader killed.
    const b = await start('agent-b');
    const bReady = await ready(b);
    // a standby now: its elections try the Leases agent-a holds every retry period (2 s for a 15 s lease)
    await new Promise((r) => setTimeout(r, 3000));
    if (shape.environments.some((e) => b.lines.some((l) => reconciled(e, head).test(l.text)))) throw new Error(`agent-b reconciled while agent-a led:\n${b.tail()}`);
    const mark = b.lines.length;
    const killedAt = performance.now();
    a.child.kill('SIGKILL');
    await a.exited;
    const takeovers: Record<string, number> = {};
    for (const e of shape.environments) takeovers[e] = (await b.line(reconciled(e, head), mark, targets.failoverMs + 30_000)).at - killedAt;
    const failover = Math.max(...Object.values(takeovers));
    options.log(`agent: failover ${Object.entries(takeovers).map(([e, t]) => `${e} ${ms(t)}`).join(', ')}`);

    const what = `${shape.models} models × ${shape.environments.length} environments, ${total} managed objects`;
    const validateMedian = median(validate);
    const perObject = noop.map((n) => (n.kube + n.statements) / total);
    const noopWall = median(noop.map((n) => n.wall));
    const last = noop[noop.length - 1]!;
    return [
      {
        figure: `agent: push webhook → production converged, one-model promotion (${what}), median of ${rounds}`,
        target: `< ${ms(targets.convergedMs)}`,
        measured: `${ms(median(converged.map((c) => c.wall)))} (max ${ms(Math.max(...converged.map((c) => c.wall)))}; the agent's reconcile ${ms(median(converged.map((c) => c.agent)))})`,
        reference: `validate --rev HEAD (cold): ${ms(validateMedian)}`,
        ratio: ratio(median(converged.map((c) => c.wall)), validateMedian),
        met: median(converged.map((c) => c.wall)) < targets.convergedMs,
      },
      {
        figure: `agent: warm no-op resync of all 3 environments (${what}), median of ${rounds}`,
        target: `< ${ms(targets.noopMs)}`,
        measured: `${ms(noopWall)} (push received → 3rd environment reconciled; reconciles ${shape.environments.map((e, j) => `${e} ${ms(median(noop.map((n) => n.agent[j]!)))}`).join(', ')})`,
        reference: `validate --rev HEAD (cold): ${ms(validateMedian)}`,
        ratio: ratio(noopWall, validateMedian),
        met: noopWall < targets.noopMs,
      },
      {
        figure: `agent: warm no-op resync, requests per managed object (Kubernetes requests + Snowflake statements) / ${total}`,
        target: `< ${targets.requestsPerObject}, 0 writes`,
        measured: `${median(perObject).toFixed(3)} (${last.kube} Kubernetes requests + ${last.statements} Snowflake statements); writes ${Math.max(...noop.map((n) => n.writes))}`,
        reference: `Lease requests in the same window (not counted): ${last.lease}`,
        ratio: 'n/a',
        met: Math.max(...perObject) < targets.requestsPerObject && noop.every((n) => n.writes === 0),
      },
      {
        figure: `agent: failover, leader SIGKILLed → the other replica leads and reconciles every environment (lease ${leaseSeconds} s)`,
        target: `< ${ms(targets.failoverMs)} (lease + 5 s)`,
        measured: `${ms(failover)} (${Object.entries(takeovers).map(([e, t]) => `${e} ${ms(t)}`).join(', ')})`,
        reference: `lease duration ${leaseSeconds} s`,
        ratio: ratio(failover, leaseSeconds * 1000),
        met: failover < targets.failoverMs,
      },
      {
        figure: 'agent: a replica\'s cold start to ready (spawn → GET /readyz 200: listening, App authenticated, release branch fetched)',
        target: `< ${ms(targets.readyMs)}`,
        measured: ms(bReady),
        reference: '',
        ratio: '',
        met: bReady < targets.readyMs,
      },
    ];
  } finally {
    for (const r of replicas) await r.stop();
    await gh?.stop();
    await kube?.stop();
    await snow?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}


// Benchmark: `modelship serve` as a child process (dist/cli.js serve), a GitHub App against the
// GitHub stand-in, mirroring a local bare origin. (1) Webhook delivery to check run posted, for a
// one-model promotion: 20 signed pull_request deliveries one after another, p95 of the time from
// POST to the stand-in answering the check run's create/update. Reference in the same run: a cold
// `modelship check` of the same change (node start, load, judge; no GitHub). (2) A burst of 20
// pull requests (distinct heads), each delivered twice (opened, then a synchronize of the same
// head with its own delivery id) all at once: check runs per head (must be one), comments per
// pull request (one), and the serve process's peak RSS (VmHWM; git children not included).
// (3) Cold start to ready: `node dist/cli.js serve` spawned on a port chosen beforehand, GET
// /readyz polled every 5 ms from the spawn until it answers 200 (the App authenticated against
// the stand-in, the listener up); the process is then stopped (SIGTERM) and the next one started.
// Reference in the same run, interleaved: a cold `node -e ''`.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Octokit } from '@octokit/rest';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { appKeys, deliver, pullRequestEvent, type Target } from '../helpers/webhooks.js';
import { childEnv, measure, median } from './measure.js';
import { mb, ms, ratio, type Row } from './table.js';
import { freePort } from '../helpers/ports.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const owner = 'acmerisk';
const name = 'model-releases';
const branch = 'promote/staging/fraud-detector-2026.11.20-1';
const secret = 'whsec-bench';
const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const deliveries = 20;
const burst = 20;
const latencyTarget = 3000;
const rssTarget = 300e6;
const coldStarts = 10;
const coldTarget = 2000;

export function serveNotes(): string[] {
  return [
    `serve: dist/cli.js serve as a child process (concurrency 2) against the GitHub stand-in (App auth, installation token) and a local bare origin; ${deliveries} sequential signed deliveries for the latency; a burst of ${burst} pull requests × 2 deliveries for duplicates and peak RSS (VmHWM of the serve process, polled; its git children not counted); cold start: ${coldStarts} spawns of dist/cli.js serve, each from spawn to the first 200 of GET /readyz (polled every 5 ms; includes authenticating as the App against the stand-in), interleaved with a cold node -e ''.`,
  ];
}

export async function serveBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-serve-'));
  let s3: TestS3 | undefined;
  let repo: TestRepo | undefined;
  let gh: GitHubStandIn | undefined;
  let child: ChildProcess | undefined;
  try {
    s3 = await startCheckerS3({ seedArtifacts: false });
    repo = makeReleaseRepo();
    if ((await runCli(['register', makeRun().dir, '-C', repo.root], { env: s3.env })).code !== 0) throw new Error('register failed');
    if ((await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '-C', repo.root], { env: s3.env })).code !== 0) throw new Error('promote failed');
    const head = repo.git('rev-parse', branch).trim();
    const base = repo.git('rev-parse', 'main').trim();
    // Pull requests 1..burst+1: #1 the promotion itself; the others each one empty commit on top of it (distinct heads).
    const heads = [head];
    repo.git('checkout', '-q', branch);
    for (let i = 1; i <= burst; i++) {
      repo.git('commit', '-q', '--allow-empty', '-m', `retry ${i}`);
      heads.push(repo.git('rev-parse', 'HEAD').trim());
    }
    const pushes = heads.map((h, i) => `${h}:refs/pull/${i + 1}/head`);
    repo.git('push', '-q', 'origin', ...pushes);

    const keys = appKeys();
    gh = await startGitHub({ owner, repo: name, token: 'ghp_ada', login: 'ada', apps: [{ ...app, publicKey: keys.publicKey }] });
    gh.setBranch('main', base);
    const ada = new Octokit({ baseUrl: gh.url, auth: 'ghp_ada', log: { debug() {}, info() {}, warn() {}, error() {} } });
    for (const [i, h] of heads.entries()) {
      const ref = i === 0 ? branch : `${branch}-retry-${i}`;
      await ada.rest.pulls.create({ owner, repo: name, head: ref, base: 'main', title: `promote #${i + 1}` });
      gh.setBranch(ref, h);
      gh.setCommit(h, { author: 'ada', committer: 'ada' });
    }
    writeFileSync(join(work, 'key.pem'), keys.privateKey);
    writeFileSync(join(work, 'secret'), secret);

    // The service, as a user runs it.
    child = spawn(process.execPath, [cli, 'serve', '--app-id', String(app.id), '--private-key-file', join(work, 'key.pem'), '--webhook-secret-file', join(work, 'secret'),
      '--github-api-url', gh.url, '--listen', '127.0.0.1:0', '--mirror-dir', join(work, 'mirrors'), '--concurrency', '2'], {
      env: childEnv(s3.env), stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /webhooks at (http:\/\/[^\s,]+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${stderr}`)));
    });
    let peak = 0;
    const pid = child.pid!;
    const poll = setInterval(() => (peak = Math.max(peak, vmHwm(pid))), 20);

    const target: Target = { owner, repo: name, cloneUrl: repo.origin, installationId: app.installationId };
    const posted = () => gh!.requests.filter((r) => (r.operationId === 'checks/create' || r.operationId === 'checks/update') && r.status < 300).length;
    const latencies: number[] = [];
    for (let i = 0; i < deliveries; i++) {
      const before = posted();
      const started = performance.now();
      const r = await deliver(url, 'pull_request', pullRequestEvent(target, { number: 1, head, headRef: branch, base }, i === 0 ? 'opened' : 'synchronize'), secret);
      if (r.status !== 202) throw new Error(`delivery answered ${r.status}: ${r.body.message}`);
      await until(() => posted() > before, 60_000, `the check run for delivery ${i + 1}`);
      latencies.push(performance.now() - started);
    }
    options.log(`serve: latencies ${latencies.map((l) => Math.round(l)).join(', ')} ms`);

    // The burst: every pull request opened, and each synchronized again with the same head, all at once.
    const burstStarted = performance.now();
    const events = heads.slice(1).flatMap((h, i) => {
      const pull = { number: i + 2, head: h, headRef: `${branch}-retry-${i + 1}`, base };
      return [pullRequestEvent(target, pull, 'opened'), pullRequestEvent(target, pull, 'synchronize')];
    });
    const answers = await Promise.all(events.map((e) => deliver(url, 'pull_request', e, secret)));
    if (answers.some((a) => a.status !== 202)) throw new Error(`burst answers: ${answers.map((a) => a.status).join(', ')}`);
    const burstHeads = new Set(heads.slice(1));
    const runsOf = () => gh!.state.checkRuns.filter((c) => burstHeads.has(c.headSha));
    await until(() => new Set(runsOf().map((c) => c.headSha)).size === burst && runsOf().every((c) => c.status === 'completed'), 300_000, 'a check run on every burst head');
    await new Promise((r) => setTimeout(r, 1500)); // any straggling second evaluation posts within this
    const burstMs = performance.now() - burstStarted;
    clearInterval(poll);
    peak = Math.max(peak, vmHwm(pid));
    const perHead = [...burstHeads].map((h) => runsOf().filter((c) => c.headSha === h).length);
    const duplicates = perHead.filter((n) => n > 1).length;
    const comments = gh.state.comments.filter((c) => c.issueNumber >= 2);
    const commentsPerPull = new Set(comments.map((c) => c.issueNumber)).size;

    // The reference: a cold `modelship check` of the same change.
    const cold: number[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await measure(process.execPath, [cli, 'check', '--base', base, '--head', head, '-C', repo.root], { env: childEnv(s3.env) });
      if (m.code !== 0 && m.code !== 1) throw new Error(`check exited ${m.code}: ${m.stderr}`);
      cold.push(m.wallMs);
    }
    const p95 = percentile(latencies, 95);
    const coldMedian = median(cold);

    // Cold start to ready, interleaved with a bare node start.
    const serveArgs = (port: number) => [cli, 'serve', '--app-id', String(app.id), '--private-key-file', join(work, 'key.pem'), '--webhook-secret-file', join(work, 'secret'),
      '--github-api-url', gh!.url, '--listen', `127.0.0.1:${port}`, '--mirror-dir', join(work, 'mirrors')];
    const starts: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < coldStarts; i++) {
      starts.push(await coldStart(serveArgs, childEnv(s3.env)));
      bare.push((await measure(process.execPath, ['-e', ''], { env: childEnv() })).wallMs);
    }
    options.log(`serve: cold starts to ready ${starts.map((l) => Math.round(l)).join(', ')} ms`);
    const startMedian = median(starts);
    const bareMedian = median(bare);
    return [
      { figure: 'serve: webhook → check run posted, p95', target: `< ${ms(latencyTarget)}`, measured: `${ms(p95)} (median ${ms(median(latencies))}, n=${deliveries})`, reference: `cold check: ${ms(coldMedian)}`, ratio: ratio(p95, coldMedian), met: p95 < latencyTarget },
      { figure: `serve: burst of ${burst} PRs × 2 deliveries, check runs`, target: `${burst}, no duplicate`, measured: `${runsOf().length} on ${burst} heads, ${duplicates} duplicated; ${comments.length} comments on ${commentsPerPull} PRs; ${ms(burstMs)}`, reference: '', ratio: '', met: runsOf().length === burst && duplicates === 0 && comments.length === burst },
      { figure: 'serve: peak RSS (the serve process)', target: `< ${mb(rssTarget)}`, measured: mb(peak), reference: '', ratio: '', met: peak > 0 && peak < rssTarget },
      { figure: `serve: cold start to ready (spawn → GET /readyz 200), median of ${coldStarts}`, target: `< ${ms(coldTarget)}`, measured: `${ms(startMedian)} (max ${ms(Math.max(...starts))})`, reference: `node -e '': ${ms(bareMedian)}`, ratio: ratio(startMedian, bareMedian), met: startMedian < coldTarget },
    ];
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await gh?.stop();
    await s3?.stop();
    repo?.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
}


/** Spawns serve on a free port and polls GET /readyz from the spawn until 200; ms from spawn to that answer. Stops it again. */
async function coldStart(args: (port: number) => string[], env: NodeJS.ProcessEnv): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args(port), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode} before it was ready:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() - started > 30_000) throw new Error(`serve was not ready within 30 s:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function vmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited between two polls
  }
}

// The demo's `modelship serve`: the built program (dist/cli.js) as a child process, on a tether
// (tools/sandbox/tether.ts: it dies with the demo however the demo ends), authenticating as a
// GitHub App against the GitHub stand-in. The stand-in does not deliver webhooks, so the demo
// plays GitHub's webhook deliverer: it builds the payload of the event GitHub would send, signs it
// with the webhook secret as GitHub does (X-Hub-Signature-256: HMAC-SHA256 of the body, hex;
// https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries) and POSTs it
// with GitHub's delivery headers
// (https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers).

import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTethered } from '../sandbox/tether.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** The demo's GitHub App: its id, slug, installation on the release repository and key pair. */
export interface DemoApp {
  id: number;
  slug: string;
  installationId: number;
  privateKey: string;
  publicKey: string;
  webhookSecret: string;
}

export function demoApp(): DemoApp {
  // GitHub hands an App an RSA key; the stand-in verifies the App's JWTs with the public half.
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { id: 4242, slug: 'modelship-acme', installationId: 9000, ...keys, webhookSecret: randomUUID() };
}

export interface RunningServe {
  /** the command line, as shown (files, no secrets) */
  line: string;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  webhookUrl: string;
  /** every line serve logged so far */
  log(): string[];
  /** SIGTERM; waits for it to exit (SIGKILL after `graceMs` more) */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `modelship serve` with the App's key and secret in files under `dir` (never in argv),
 * `args` added; resolves once it listens. Its log goes to `logFile` as well.
 */
export async function startServe(o: { app: DemoApp; githubUrl: string; dir: string; env: NodeJS.ProcessEnv; args?: string[]; logFile: string; /** paths under it are shown as ./… */ shownFrom: string }): Promise<RunningServe> {
  const keyFile = join(o.dir, 'app-private-key.pem');
  const secretFile = join(o.dir, 'webhook-secret');
  writeFileSync(keyFile, o.app.privateKey, { mode: 0o600 });
  writeFileSync(secretFile, o.app.webhookSecret, { mode: 0o600 });
  const args = ['serve', '--app-id', String(o.app.id), '--private-key-file', keyFile, '--webhook-secret-file', secretFile,
    '--github-api-url', o.githubUrl, '--listen', '127.0.0.1:0', '--mirror-dir', join(o.dir, 'mirrors'), '--shutdown-grace', '5', ...(o.args ?? [])];
  const child = spawnTethered(process.execPath, [cli, ...args], { stdout: 'ignore', stderr: 'pipe', env: o.env }).process;
  const lines: string[] = [];
  let partial = '';
  // 'close': exited and its stderr read to the end (the last log lines are in the log)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const parts = text.split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        appendFileSync(o.logFile, l + '\n');
        const m = /webhooks at (http:\/\/\S+?)\/webhooks\b/.exec(l);
        if (m) resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`modelship serve exited ${code} before it listened:\n${[...lines, partial].join('\n')}`)));
    setTimeout(() => reject(new Error(`modelship serve did not listen within 30 s:\n${lines.join('\n')}`)), 30_000).unref();
  });
  return {
    line: `modelship ${args.map((a) => a.startsWith(o.shownFrom) ? a.replace(o.shownFrom, '.') : a).join(' ')}`,
    url, webhookUrl: `${url}/webhooks`,
    log: () => [...lines],
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Repository {
  owner: string;
  name: string;
  /** where git fetches it from: the demo's bare origin */
  cloneUrl: string;
  defaultBranch: string;
}

/**
 * The fields of a pull_request (or pull_request_review) delivery that a receiver reads: action,
 * number, the pull request's head and base, the repository, the installation and the sender.
 * GitHub's payloads carry many more (https://docs.github.com/webhooks/webhook-events-and-payloads#pull_request).
 */
export function pullRequestPayload(app: DemoApp, repo: Repository, p: { action: string; number: number; head: string; headRef: string; base: string; author: string; sender: string }): Record<string, unknown> {
  return {
    action: p.action, number: p.number,
    pull_request: {
      number: p.number, state: 'open', user: { login: p.author },
      head: { sha: p.head, ref: p.headRef, repo: { full_name: `${repo.owner}/${repo.name}` } },
      base: { sha: p.base, ref: repo.defaultBranch, repo: { full_name: `${repo.owner}/${repo.name}` } },
    },
    ...common(app, repo, p.sender),
  };
}

export function reviewPayload(app: DemoApp, repo: Repository, p: { number: number; head: string; headRef: string; base: string; author: string; reviewer: string }): Record<string, unknown> {
  const pull = pullRequestPayload(app, repo, { ...p, action: 'submitted', sender: p.reviewer });
  return { ...pull, review: { state: 'approved', commit_id: p.head, user: { login: p.reviewer } } };
}

/** A push to a branch (https://docs.github.com/webhooks/webhook-events-and-payloads#push). */
export function pushPayload(app: DemoApp, repo: Repository, p: { ref: string; before: string; after: string; pusher: string }): Record<string, unknown> {
  return { ref: p.ref, before: p.before, after: p.after, created: false, deleted: false, forced: false, pusher: { name: p.pusher }, ...common(app, repo, p.pusher) };
}

function common(app: DemoApp, repo: Repository, sender: string): Record<string, unknown> {
  return {
    repository: { name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner }, clone_url: repo.cloneUrl, default_branch: repo.defaultBranch, private: true },
    installation: { id: app.installationId },
    sender: { login: sender },
  };
}

/** POSTs one signed delivery, as GitHub's webhook deliverer does; the status and message serve answered. */
export async function deliver(serve: RunningServe, app: DemoApp, event: string, payload: unknown): Promise<{ status: number; message: string; id: string }> {
  const body = JSON.stringify(payload);
  const id = randomUUID();
  const res = await fetch(serve.webhookUrl, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/modelship-demo', 'x-github-event': event, 'x-github-delivery': id,
      'x-github-hook-id': '1', 'x-github-hook-installation-target-type': 'integration', 'x-github-hook-installation-target-id': String(app.id),
      'x-hub-signature-256': `sha256=${createHmac('sha256', app.webhookSecret).update(body).digest('hex')}`,
    },
  });
  const answer = (await res.json().catch(() => ({}))) as { message?: string };
  return { status: res.status, message: answer.message ?? '', id };
}

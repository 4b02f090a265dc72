// GitHub webhook deliveries for tests and benches: GitHub's published example payloads
// (@octokit/webhooks-examples) pointed at a test repository, signed with the webhook secret the
// way GitHub signs them (X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body) in hex), and
// POSTed over HTTP with GitHub's delivery headers.
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';

const definitions = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8')) as WebhookDefinition[];

/** A deep copy of GitHub's published example of this event (and action). */
export function example(event: string, action?: string): any {
  const found = definitions.find((d) => d.name === event)?.examples.find((e) => !action || (e as { action?: string }).action === action);
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${event} ${action ?? ''} example`);
  return structuredClone(found);
}

export interface Target {
  owner: string;
  repo: string;
  /** where git fetches the repository from (a local bare repository in tests) */
  cloneUrl: string;
  installationId: number;
}

/** Points a payload's repository and installation at the target. */
export function inRepository(payload: any, t: Target): any {
  Object.assign(payload.repository, { full_name: `${t.owner}/${t.repo}`, name: t.repo, clone_url: t.cloneUrl, default_branch: 'main' });
  payload.repository.owner.login = t.owner;
  payload.installation = { id: t.installationId, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTAwMA==' };
  return payload;
}

export interface PullAt {
  number: number;
  head: string;
  headRef: string;
  base: string;
}

/** Points an example pull request object at the test's pull request. */
export function atPull(pr: any, p: PullAt): void {
  pr.number = p.number;
  Object.assign(pr.head, { sha: p.head, ref: p.headRef });
  Object.assign(pr.base, { sha: p.base, ref: 'main' });
}

export function pullRequestEvent(t: Target, p: PullAt, action: 'opened' | 'synchronize' | 'reopened' | 'edited', sender = 'ada'): any {
  // The examples have no `edited` pull request: an `opened` one with the action and `changes` set stands in.
  const payload = inRepository(example('pull_request', action === 'edited' ? 'opened' : action), t);
  payload.action = action;
  payload.number = p.number;
  atPull(payload.pull_request, p);
  payload.sender.login = sender;
  if ('after' in payload) payload.after = p.head;
  return payload;
}

export function reviewEvent(t: Target, p: PullAt, reviewer: string, action: 'submitted' | 'dismissed' = 'submitted'): any {
  const payload = inRepository(example('pull_request_review', action), t);
  atPull(payload.pull_request, p);
  Object.assign(payload.review, { state: action === 'submitted' ? 'approved' : 'dismissed', commit_id: p.head });
  payload.review.user.login = reviewer;
  payload.sender.login = reviewer;
  return payload;
}

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface Delivered {
  status: number;
  body: { message?: string };
  id: string;
}

/** POSTs one delivery; `signature` overrides the correct one (null: none). */
export async function deliver(url: string, event: string, payload: unknown, secret: string, o: { id?: string; signature?: string | null } = {}): Promise<Delivered> {
  const body = JSON.stringify(payload);
  const id = o.id ?? randomUUID();
  const signature = o.signature === undefined ? sign(secret, body) : o.signature;
  const res = await fetch(url, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/modelship-test', 'x-github-event': event, 'x-github-delivery': id,
      'x-github-hook-id': '1', 'x-github-hook-installation-target-type': 'integration', 'x-github-hook-installation-target-id': '4242',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
  });
  return { status: res.status, body: (await res.json()) as { message?: string }, id };
}

/** An RSA key pair as a GitHub App has (GitHub hands out PKCS#1; @octokit/auth-app takes PKCS#8 too). */
export function appKeys(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

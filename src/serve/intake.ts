// The HTTP side of `modelship serve`: POST /webhooks takes GitHub's deliveries, GET /healthz and
// GET /readyz answer probes. A delivery is read up to the size cap (413 beyond), verified
// against X-Hub-Signature-256 (401, nothing done, when missing or wrong), deduplicated by
// X-GitHub-Delivery, routed to a job, queued, and answered 202 before any work: GitHub waits
// 10 seconds for an answer (https://docs.github.com/webhooks/using-webhooks/best-practices-for-using-webhooks#respond-within-10-seconds).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SignatureCheck } from '../adapters/github/app.js';
import { SeenDeliveries } from './deliveries.js';
import { route, type EvaluationJob, type PushRequest, type ReleaseTarget } from './events.js';

export const webhookPath = '/webhooks';

export interface IntakeOptions {
  verify: SignatureCheck;
  appId: number;
  maxPayloadBytes: number;
  /** the checker role; without it pull request events are ignored */
  enqueue?: (job: EvaluationJob) => string;
  /** the agent role: pushes to its release branch reconcile at once */
  agent?: { release: ReleaseTarget; pushed(p: PushRequest): void };
  ready: () => boolean;
  /** GET /state: what the service is doing (the agent's environments), as JSON */
  state?: () => unknown;
  log: (line: string) => void;
  /** delivery ids remembered for deduplication */
  deliveryMemory?: number;
}

export interface IntakeStats {
  accepted: number;
  duplicates: number;
  unauthorized: number;
  tooLarge: number;
  ignored: number;
}

export function intakeServer(o: IntakeOptions): { server: Server; stats: IntakeStats } {
  const seen = new SeenDeliveries(o.deliveryMemory);
  const stats: IntakeStats = { accepted: 0, duplicates: 0, unauthorized: 0, tooLarge: 0, ignored: 0 };

  async function delivery(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxPayloadBytes) return tooLarge(res);
    const body = await readCapped(req, o.maxPayloadBytes);
    if (body === undefined) return tooLarge(res);
    const signature = header(req, 'x-hub-signature-256');
    if (!(await o.verify(body, signature))) {
      stats.unauthorized++;
      o.log(`refused a delivery with ${signature ? 'a wrong' : 'no'} X-Hub-Signature-256`);
      return reply(res, 401, { message: signature ? 'the X-Hub-Signature-256 signature does not match the payload and the webhook secret' : 'X-Hub-Signature-256 is missing: deliveries must be signed with the webhook secret' });
    }
    const event = header(req, 'x-github-event');
    const id = header(req, 'x-github-delivery');
    if (!event || !id) return reply(res, 400, { message: 'X-GitHub-Event and X-GitHub-Delivery are required' });
    if (!seen.add(id)) {
      stats.duplicates++;
      return reply(res, 200, { message: `delivery ${id} was already received; not evaluated again` });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch (e) {
      return reply(res, 400, { message: `the payload is not JSON: ${(e as Error).message}` });
    }
    const routed = route(event, payload, o.appId, id, o.agent?.release);
    if ('push' in routed) {
      stats.accepted++;
      const p = routed.push;
      o.agent!.pushed(p);
      o.log(`${p.repo.owner}/${p.repo.repo} push of ${p.after.slice(0, 12)} to ${p.ref}: reconciling (delivery ${id})`);
      return reply(res, 202, { message: `reconciling: ${p.ref} at ${p.after.slice(0, 12)}` });
    }
    if ('job' in routed && !o.enqueue) {
      stats.ignored++;
      return reply(res, 200, { message: `ignored: ${event} (the checker role is not running)` });
    }
    if ('ignored' in routed) {
      stats.ignored++;
      return reply(res, 200, { message: `ignored: ${routed.ignored}` });
    }
    stats.accepted++;
    const outcome = o.enqueue!(routed.job);
    if (outcome === 'closed') return reply(res, 503, { message: 'modelship serve is shutting down; redeliver later' });
    o.log(`${routed.job.repo.owner}/${routed.job.repo.repo} ${routed.job.describe}: ${outcome} (delivery ${id})`);
    reply(res, 202, { message: `${outcome}: ${routed.job.describe}` });
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === webhookPath) {
      if (req.method !== 'POST') return reply(res, 405, { message: 'POST only' }, { allow: 'POST' });
      delivery(req, res).catch((e: unknown) => {
        o.log(`delivery failed: ${(e as Error).message}`);
        if (!res.headersSent) reply(res, 500, { message: 'internal error' });
      });
      return;
    }
    if (path === '/healthz') return reply(res, 200, { status: 'ok' });
    if (path === '/readyz') return o.ready() ? reply(res, 200, { status: 'ready' }) : reply(res, 503, { status: 'not ready' });
    if (path === '/state' && o.state) return reply(res, 200, o.state());
    reply(res, 404, { message: 'not found' });
  });

  function tooLarge(res: ServerResponse): void {
    stats.tooLarge++;
    reply(res, 413, { message: `the payload is larger than ${o.maxPayloadBytes} bytes (--max-payload)` }, { connection: 'close' });
    res.once('finish', () => res.req.destroy());
  }

  return { server, stats };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The body as text, or undefined once it passes `max` bytes (reading stops; the connection is closed after the answer). */
function readCapped(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body) + '\n');
}

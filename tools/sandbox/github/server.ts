// A loopback stand-in for the GitHub REST API, for tests and the demo (`npm run demo`): the real Octokit
// talks to it as to api.github.com. Each request is checked against its operation's schema in
// GitHub's OpenAPI description (422 when it does not validate), and each response against the
// response schema (500 when the stand-in itself is wrong).
// Authentication: one token (`token`, acting as `login` with GitHub Actions' app, as a workflow's
// GITHUB_TOKEN does), and/or GitHub Apps (`apps`): a JWT signed with the app's key (RS256) for
// the app endpoints, and installation tokens it mints, acting as `<slug>[bot]` (see auth.ts).
// It does not do: webhooks or events, git data (trees, diffs, file lists; commits only as a test
// declares them; branch heads are made-up shas unless a test sets them), permissions, rate
// limits, conditional requests (ETag/304), media types other than JSON, GraphQL, milestones,
// and it answers 501 for the operations of openapi-subset.json that handlers.ts does not implement.
// Outages are simulated only on request: `fail` answers a chosen request with an error status.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubError, handlers, type ListReply, type Reply } from './handlers.js';
import { matchRoute, validateBody, validateParams, validateResponse, type FieldError, type Operation } from './openapi.js';
import { authenticate } from './auth.js';
import { renderer } from './render.js';
import { GitHubState, type GitHubStateOptions, type ReviewRecord, type ReviewState } from './state.js';

export { GitHubState, type ReviewState, type ReviewRecord } from './state.js';
export { githubActionsApp } from './state.js';

export interface RecordedRequest {
  method: string;
  path: string;
  /** undefined when no operation of the subset matched */
  operationId?: string;
  /** as sent: strings (arrays for repeated keys) */
  query: Record<string, string | string[]>;
  /** the parsed JSON body; undefined when there was none */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  /** the status the stand-in answered */
  status: number;
}

/**
 * Decides whether GitHub "fails" a request: a status (500, 502, 503, 429, 403 ...) is answered
 * instead of the operation, with GitHub's `{message}` body and nothing changed; undefined lets it
 * through. Sees the request after authentication and route matching (operationId and the parsed
 * body are set), before validation.
 */
export type GitHubFault = (request: RecordedRequest) => number | undefined;

export interface GitHubStandInOptions extends GitHubStateOptions {
  /** when set, every request must carry `Authorization: token <t>` or `Bearer <t>` */
  token?: string;
  /** injected failures (see GitHubFault); also settable later as `standIn.fail` */
  fail?: GitHubFault;
}

export interface GitHubStandIn {
  /** the base URL to give Octokit, e.g. http://127.0.0.1:40123 */
  url: string;
  state: GitHubState;
  /** every request received, in order */
  requests: RecordedRequest[];
  /** submits a review as `login` would on github.com */
  addReview(pull: number, login: string, state: ReviewState, options?: { body?: string; commitId?: string }): ReviewRecord;
  /** points a branch at a commit (pull requests from it follow) */
  setBranch(name: string, sha: string): void;
  /** declares a commit GET /repos/{owner}/{repo}/commits/{ref} answers for, with its author's and committer's logins */
  setCommit(sha: string, commit: { author: string | null; committer: string | null; message?: string }): void;
  /** injected failures, read on every request: set it to simulate an outage, unset it to end one */
  fail: GitHubFault | undefined;
  stop(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

/** The messages GitHub sends with these statuses. */
const faultMessages: Record<number, string> = {
  403: 'Resource not accessible by integration', 429: 'API rate limit exceeded', 500: 'Server Error',
  502: 'Server Error', 503: 'Service Unavailable', 504: 'We couldn\'t respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.',
};

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Starts the stand-in on 127.0.0.1 on a free port. */
export async function startGitHub(options: GitHubStandInOptions): Promise<GitHubStandIn> {
  const state = new GitHubState(options);
  const requests: RecordedRequest[] = [];
  let url = '';
  let render: ReturnType<typeof renderer>;
  // Filled in once listening; `fail` lives here so a test can change it while the server runs.
  const standIn = { fail: options.fail } as GitHubStandIn;

  const server = createServer((req, res) => {
    void serve(req, res).catch((e: unknown) => send(res, { status: 500, body: { message: `stand-in failure: ${(e as Error).stack ?? e}` } }));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url);
    const raw = await readBody(req);
    const rec: RecordedRequest = {
      method: req.method ?? 'GET', path: target.pathname, query: queryObject(target.searchParams),
      body: undefined, headers: { ...req.headers }, status: 0,
    };
    requests.push(rec);
    const answer = respond(rec, req.headers.authorization, raw, target);
    rec.status = answer.status;
    send(res, answer);
  }

  function respond(rec: RecordedRequest, authorization: string | undefined, raw: string, target: URL): Answer {
    const actor = authenticate(state, options.token, authorization);
    if ('refused' in actor) return { status: 401, body: { message: actor.refused, documentation_url: DOCS, status: '401' } };
    const route = matchRoute(rec.method, rec.path);
    if (!route) return { status: 404, body: { message: 'Not Found', documentation_url: DOCS, status: '404' } };
    const op = route.op;
    // A JWT authenticates the app only for the app's own endpoints; an installation token not for those.
    if (actor.jwt ? !op.id.startsWith('apps/') : op.id.startsWith('apps/') && state.apps.size > 0) {
      return { status: 401, body: { message: actor.jwt ? 'Bad credentials' : 'A JSON web token could not be decoded', documentation_url: DOCS, status: '401' } };
    }
    state.actor = actor;
    rec.operationId = op.id;
    if (raw.trim() !== '') {
      try {
        rec.body = JSON.parse(raw);
      } catch {
        return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: op.documentation_url, status: '400' } };
      }
    }
    const fault = standIn.fail?.(rec);
    if (fault !== undefined) return { status: fault, body: { message: faultMessages[fault] ?? 'Injected failure', documentation_url: op.documentation_url, status: String(fault) } };
    const params = { path: route.params as Record<string, unknown>, query: { ...rec.query } as Record<string, unknown> };
    const problems = [
      ...validateParams(op, params),
      ...(rec.body !== undefined || op.requestBody?.required ? validateBody(op, rec.body) : []),
    ];
    if (problems.length) return { status: 422, body: invalidRequest(op, problems) };
    const { owner, repo } = params.path;
    if (typeof owner === 'string' && typeof repo === 'string'
      && (owner.toLowerCase() !== state.owner.toLowerCase() || repo.toLowerCase() !== state.repo.toLowerCase())) {
      return { status: 404, body: { message: 'Not Found', documentation_url: op.documentation_url, status: '404' } };
    }
    const handler = handlers[op.id];
    if (!handler) {
      return { status: 501, body: { message: `modelship's GitHub stand-in does not implement ${op.id} (${op.method} ${op.path})`, documentation_url: op.documentation_url } };
    }
    let answer: Answer;
    try {
      const reply: Reply = handler({ path: params.path, query: params.query, body: rec.body }, state, render);
      answer = 'items' in reply ? paginate(reply, params.query, target) : reply;
    } catch (e) {
      if (!(e instanceof GitHubError)) throw e;
      answer = { status: e.status, body: { ...e.body, documentation_url: op.documentation_url, status: String(e.status) } };
    }
    const wrong = validateResponse(op, answer.status, answer.body);
    if (wrong) return { status: 500, body: { message: `the stand-in's ${answer.status} answer to ${op.id} does not match GitHub's schema: ${wrong}` } };
    return answer;
  }

  /** One page of a list, with GitHub's Link header (absolute URLs: Octokit's paginate follows them). */
  function paginate(reply: ListReply, query: Record<string, unknown>, target: URL): Answer {
    const perPage = Math.min(100, Math.max(1, Number(query.per_page ?? 30)));
    const page = Math.max(1, Number(query.page ?? 1));
    const last = Math.max(1, Math.ceil(reply.items.length / perPage));
    const items = reply.items.slice((page - 1) * perPage, page * perPage).map(reply.render);
    const at = (n: number, rel: string) => {
      const u = new URL(target.pathname + target.search, url);
      u.searchParams.set('page', String(n));
      return `<${u.href}>; rel="${rel}"`;
    };
    const links = [
      ...(page > 1 ? [at(page - 1, 'prev')] : []),
      ...(page < last ? [at(page + 1, 'next'), at(last, 'last')] : []),
      ...(page > 1 ? [at(1, 'first')] : []),
    ];
    return {
      status: reply.status,
      body: reply.wrap ? reply.wrap(items, reply.items.length) : items,
      ...(links.length ? { headers: { link: links.join(', ') } } : {}),
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  render = renderer(state, url);

  Object.assign(standIn, {
    url,
    state,
    requests,
    addReview: (pull, login, reviewState, o) => state.addReview(pull, login, reviewState, o),
    setBranch: (name, sha) => state.setBranch(name, sha),
    setCommit: (sha, c) => state.commits.set(sha, { author: c.author, committer: c.committer, message: c.message ?? 'commit' }),
    stop: () => new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      server.closeAllConnections();
    }),
  } satisfies Omit<GitHubStandIn, 'fail'>);
  return standIn;
}

/** GitHub's answer to a request that fails its schema. */
function invalidRequest(op: Operation, problems: FieldError[]) {
  return {
    message: `Invalid request.\n\n${problems.map((p) => p.message).join('\n')}`,
    errors: problems,
    documentation_url: op.documentation_url,
    status: '422',
  };
}

let requestCounter = 0;

function send(res: ServerResponse, a: Answer): void {
  const text = a.status === 204 ? '' : JSON.stringify(a.body);
  res.writeHead(a.status, {
    'content-type': 'application/json; charset=utf-8',
    'x-github-media-type': 'github.v3; format=json',
    'x-github-request-id': `5A7E:${(++requestCounter).toString(16).toUpperCase()}`,
    ...a.headers,
  });
  res.end(text);
}

function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// The story `npm run demo` tells, step by step, with the real commands (each the built `modelship`
// program, run in this process against the stand-ins, its output shown): a new fraud-detector
// version is registered, promoted to staging through a pull request and merged; then started as
// a 5 % canary in production, where a guardrail breaks, the revert is opened and merged, and the
// previous version serves again; the audit trail is verified and answers the regulator. Then the
// candidate runs as a shadow to see why, and the pull request promoting it from the shadow is
// blocked by the shadow gate (its answers differ too much from the stable version's).
// Checker and agent are one `modelship serve --environments staging,production` (the GitHub App),
// running beside the story as a child process. The demo plays GitHub's webhook deliverer (the
// GitHub stand-in sends no webhooks): opening or approving a pull request delivers a signed
// pull_request / pull_request_review webhook and the story reads back the check run serve posts;
// merging delivers the push, and the story waits for the agent's log to say it converged the
// environment and recorded the deployment in the audit trail. The agent's own canary watch
// (every 2 s here: MODELSHIP_CANARY_EVERY) notices the breach and opens the revert as the App.
//
// The git history runs on a fixed story clock (commits, registration and reviews are dated, so
// the soak time is that of the story, whatever day the demo runs); the checker judges, and syncs,
// readiness and audit records happen, in real time.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runModelship } from '../sandbox/modelship.js';
import { deliver, pullRequestPayload, pushPayload, reviewPayload, type Repository, type RunningServe } from './serve.js';
import { owner, people, repoName, versionOf, type World } from './world.js';


export interface StoryOutput {
  /** a step begins: its number, the total and a title */
  step(n: number, total: number, title: string): void;
  /** a command and what it printed (already trimmed) */
  command(line: string, output: string): void;
  /** one line of narration */
  say(line: string): void;
}

export interface StoryResult {
  files: { report: string; dashboard: string; audit: string; log: string; transcript: string };
  traced: string;
}

type Ran = import('../sandbox/modelship.js').Ran;

/** The story's clock: when each thing in git happened. */
const clock = {
  registered: '2026-11-20T06:00:00Z',
  stagingPr: '2026-11-20T07:00:00Z',
  stagingCheck: '2026-11-20T07:05:00Z',
  stagingMerge: '2026-11-20T08:00:00Z',
  canaryPr: '2026-11-23T09:00:00Z',
  canaryCheck: '2026-11-23T09:05:00Z',
  canaryMerge: '2026-11-23T09:30:00Z',
  revertMerge: '2026-11-23T10:10:00Z',
  shadowPr: '2026-11-24T09:00:00Z',
  shadowMerge: '2026-11-24T09:30:00Z',
  shadowPromotePr: '2026-11-25T10:00:00Z',
};

/** `signal`: aborting it stops the command that is running (Ctrl-C) and the story. */
export async function tellStory(world: World, out: StoryOutput, signal?: AbortSignal): Promise<StoryResult> {
  const files = {
    report: join(world.dir, 'reports/production-canary.md'),
    dashboard: join(world.dir, 'dashboard/index.html'),
    audit: `s3://acme-audit-trail (the S3 stand-in, in ${join(world.dir, 's3')})`,
    log: join(world.dir, 'serve/serve.log'),
    transcript: join(world.dir, 'transcript.txt'),
  };
  mkdirSync(join(world.dir, 'reports'), { recursive: true });
  mkdirSync(join(world.dir, 'keys'), { recursive: true });
  const keyFile = join(world.dir, 'keys/audit-demo.pem');
  const total = 13;
  let n = 0;
  const step = (title: string) => out.step(++n, total, title);

  /** Runs `modelship <args>` in the clone; shows the command and its output; fails the story on an unexpected exit code. */
  const run = async (args: string[], options: { at?: string; expect?: number[]; show?: (r: Ran) => string; env?: Record<string, string>; noRepo?: boolean } = {}): Promise<Ran> => {
    const r = await modelship(options.noRepo ? args : [...args, '-C', world.repo], { ...world.env, ...(options.at ? dated(options.at) : {}), ...options.env }, signal);
    const shown = (options.show ?? ((x) => x.stdout + (x.code ? x.stderr : '')))(r);
    const line = `modelship ${args.map(quote).join(' ')}`;
    out.command(line, trim(shown));
    appendFileSync(files.transcript, `$ ${line}\n${r.stdout}${r.stderr}\n`);
    if (!(options.expect ?? [0]).includes(r.code)) throw new Error(`\`${line}\` exited ${r.code}:\n${r.stderr || r.stdout}`);
    return r;
  };

  // --- the audit key the policies trust (the demo's; production signs with KMS) ---
  step('set up: a local audit signing key the policies trust; modelship serve (checker and agent) brings the environments to main');
  const keygen = await run(['audit', 'keygen', '--id', 'demo-2026', '--out', keyFile], { noRepo: true, show: (r) => r.stdout.split('\n').slice(0, 4).join('\n') });
  trustKey(world, keygen.stdout);
  commit(world, clock.registered, 'policies: the demo\'s audit trail (local store, demo key)', ['policies']);
  // The agent signs audit records with the demo's key (production: KMS), names itself as a pod
  // would (POD_NAME), and watches canaries every 2 s instead of the policy's 5 minutes.
  const serveEnv = { MODELSHIP_AUDIT_KEY_FILE: keyFile, POD_NAME: 'modelship-0', MODELSHIP_CANARY_EVERY: '2s' };
  const serve = await world.startServe(['--repository', `${owner}/${repoName}`, '--environments', 'staging,production', '--lease-duration', '15s'], serveEnv);
  const shownEnv = Object.entries(serveEnv).map(([k, v]) => `${k}=${v.replace(world.dir, '.')}`).join(' ');
  out.command(`${shownEnv} ${serve.line}`, trim(serve.log().filter((l) => /authenticated as|webhooks at/.test(l)).map((l) => l.replace(/^\S+Z /, '')).join('\n')));
  appendFileSync(files.transcript, `$ ${shownEnv} ${serve.line} &\n${serve.log().join('\n')}\n`);
  const github = playingGitHub(world, serve, out, files.transcript);
  const agent = watchingAgent(serve, out);
  out.say('(the agent fetches main, takes the Lease of each environment, converges it and records the deployment in the audit trail)');
  await agent.reconciled(['staging', 'production'], mainHead(world), 0);

  // --- 1. register ---
  step('register a new fraud-detector training run: artifact uploaded to the registry and verified');
  await run(['register', join(world.dir, 'runs/fraud-detector-run-8812')], { at: clock.registered });
  const candidate = '2026.11.20-1';
  const registeredFrom = mainHead(world);
  commit(world, clock.registered, `register fraud-detector ${candidate}`, ['models']);
  await github.pushed(registeredFrom, mainHead(world), agent, []);

  // --- 2. staging: PR, check, review, merge, sync, audit ---
  step('promote it to staging as a pull request');
  const stagingPr = await run(['promote', `fraud-detector@${candidate}`, '--to', 'staging', '--reason', 'weekly retrain', '--open-pr'], { at: clock.stagingPr });
  const stagingBranch = branchOf(stagingPr.stdout);
  const stagingNumber = prNumberOf(stagingPr.stdout);
  const stagingPull = github.opened(stagingBranch, stagingNumber);
  step('the checker (modelship serve, the GitHub App) gates it with staging\'s policy from main; a lead approves');
  await github.delivered('pull_request', pullRequestPayload(world.app, github.repository, { ...stagingPull, action: 'opened', sender: people.author }), stagingPull);
  const stagingApproval = approve(world, stagingNumber, people.leads[0]!, clock.stagingCheck);
  await github.delivered('pull_request_review', reviewPayload(world.app, github.repository, { ...stagingPull, reviewer: people.leads[0]! }), stagingPull, 'success');
  step('merge; GitHub tells the agent (push), which makes staging run it (plan, apply, ready) and records it in the audit trail');
  const beforeStaging = mainHead(world);
  merge(world, stagingBranch, stagingNumber, clock.stagingMerge, [stagingApproval]);
  await github.pushed(beforeStaging, mainHead(world), agent, ['staging']);

  // --- 3. production canary ---
  step('three days later: start it in production as a 5 % canary (pull request, two approvals)');
  const stable = versionOf(world.repo, 'production', 'fraud-detector');
  const canaryPr = await run(['promote', `fraud-detector@${candidate}`, '--to', 'production', '--canary', '5', '--reason', 'weekly retrain', '--open-pr'], { at: clock.canaryPr });
  const canaryBranch = branchOf(canaryPr.stdout);
  const canaryNumber = prNumberOf(canaryPr.stdout);
  const canaryPull = github.opened(canaryBranch, canaryNumber);
  await github.delivered('pull_request', pullRequestPayload(world.app, github.repository, { ...canaryPull, action: 'opened', sender: people.author }), canaryPull);
  const approvals = [approve(world, canaryNumber, people.leads[1]!, clock.canaryCheck)];
  await github.delivered('pull_request_review', reviewPayload(world.app, github.repository, { ...canaryPull, reviewer: people.leads[1]! }), canaryPull);
  approvals.push(approve(world, canaryNumber, people.modelRisk[0]!, clock.canaryCheck));
  const canaryRun = await github.delivered('pull_request_review', reviewPayload(world.app, github.repository, { ...canaryPull, reviewer: people.modelRisk[0]! }), canaryPull, 'success');
  // The report the App posted on the pull request (the audit record keeps its digest).
  writeFileSync(files.report, `${canaryRun.output.summary ?? ''}\n`);
  step('merge; the agent makes production serve the canary to 5 % of traffic');
  const beforeCanary = mainHead(world);
  merge(world, canaryBranch, canaryNumber, clock.canaryMerge, approvals);
  await github.pushed(beforeCanary, mainHead(world), agent, ['production']);
  // The moment the regulator will ask about: the next whole second, when the canary serves for sure
  // (rounded up, not down: rounding down could land before it was ready), and past before the story goes on.
  const traced = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await new Promise((r) => setTimeout(r, Date.parse(traced) - Date.now() + 100));

  // --- the guardrail breaks ---
  step('the canary declines far more transactions than the stable version: the guardrail breaks');
  const breachMark = agent.mark();
  await injectDeclines(world, candidate, stable);
  out.say(`(the demo writes the last hour of authorisations into the warehouse: ${stable} declined 2 %, the canary ${candidate} 6 %)`);
  return finishStory({ world, out, run, step, files, keyFile, candidate, stable, traced, clock, github, agent, breachMark });
}

/** The second half (canary watch → revert → sync → verify → trace): see finishStory. */
async function finishStory(ctx: StoryContext): Promise<StoryResult> {
  const { world, out, run, step, files, keyFile, candidate, stable, traced } = ctx;
  step('the agent\'s canary watch (its own timer) sees the guardrail broken and opens the revert pull request as the App');
  const revert = await ctx.agent.revertOpened(world, ctx.breachMark, 30_000);
  const revertNumber = revert.number;
  const revertBranch = revert.branch;
  const revertPull = ctx.github.opened(revertBranch, revertNumber);
  step('a lead and model risk approve the revert (production\'s two approvals), it is merged; the agent puts the stable version back');
  await ctx.github.delivered('pull_request', pullRequestPayload(world.app, ctx.github.repository, { ...revertPull, action: 'opened', sender: revertPull.author }), revertPull);
  const revertApprovals: string[] = [];
  for (const [i, reviewer] of [people.leads[0]!, people.modelRisk[0]!].entries()) {
    revertApprovals.push(approve(world, revertNumber, reviewer, ctx.clock.revertMerge));
    await ctx.github.delivered('pull_request_review', reviewPayload(world.app, ctx.github.repository, { ...revertPull, reviewer }), revertPull, i === 1 ? 'success' : undefined);
  }
  const beforeRevert = mainHead(world);
  merge(world, revertBranch, revertNumber, ctx.clock.revertMerge, revertApprovals);
  await ctx.github.pushed(beforeRevert, mainHead(world), ctx.agent, ['production']);
  out.say(`production runs ${versionOf(world.repo, 'production', 'fraud-detector')} again (the canary ${candidate} is gone; stable ${stable})`);

  step('the auditor: the trail is complete and unaltered, and answers the regulator');
  await run(['audit', 'verify']);
  const result: StoryResult = { files, traced };
  await run(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', traced]);
  step('why did it decline more? production shadows it (a copy of every request, both answers logged); promoting it from the shadow is blocked by the shadow gate: its answers differ too much');
  await shadowStep(ctx);
  step('where everything is');
  await run(['status', '--html', join(files.dashboard, '..'), '--no-drift'], { expect: [0, 1] });
  return result;
}

/**
 * The shadow step: the shadow's pull request (two approvals, merged; the agent mirrors production's
 * traffic to it and logs both versions' answers), a day of the prediction log in the warehouse,
 * then the pull request promoting the shadow, which the checker blocks on the shadow gate.
 */
async function shadowStep(ctx: StoryContext): Promise<void> {
  const { world, out, run, candidate, stable, github } = ctx;
  const opened = async (args: string[], at: string) => {
    const r = await run(args, { at });
    const number = prNumberOf(r.stdout);
    return github.opened(branchOf(r.stdout), number);
  };
  const shadowPull = await opened(['promote', `fraud-detector@${candidate}`, '--to', 'production', '--shadow', '--reason', 'shadow it: why did it decline more?', '--open-pr'], ctx.clock.shadowPr);
  const approvals = [people.leads[0]!, people.modelRisk[0]!].map((reviewer) => approve(world, shadowPull.number, reviewer, ctx.clock.shadowPr));
  out.say('(a lead and model risk approve it)');
  await github.delivered('pull_request', pullRequestPayload(world.app, github.repository, { ...shadowPull, action: 'opened', sender: people.author }), shadowPull, 'success');
  const before = mainHead(world);
  merge(world, shadowPull.headRef, shadowPull.number, ctx.clock.shadowMerge, approvals);
  await github.pushed(before, mainHead(world), ctx.agent, ['production']);
  await injectShadowLog(world, candidate, stable);
  out.say(`(the demo writes the last 24 h of production's prediction log into the warehouse, as the platform lands KServe's logger events: 24,000 requests, each answered by ${stable} and by the shadow ${candidate}, same request id; the shadow scores every request higher)`);
  const promotePull = await opened(['promote', `fraud-detector@${candidate}`, '--to', 'production', '--reason', 'promote it from the shadow', '--open-pr'], ctx.clock.shadowPromotePr);
  const check = await github.delivered('pull_request', pullRequestPayload(world.app, github.repository, { ...promotePull, action: 'opened', sender: people.author }), promotePull, 'failure');
  // The shadow gate's row of the report the App posted: | | shadow | ❌ fail **(blocking)** | <what it found> |
  const row = (check.output.summary ?? '').split('\n').find((l) => /^\|[^|]*\| shadow \|/.test(l));
  const cells = row?.split('|').map((c) => c.trim());
  if (!cells || !/fail \*\*\(blocking\)\*\*/.test(cells[3] ?? '')) throw new Error(`the shadow gate did not block the promotion:\n${check.output.summary ?? ''}`);
  out.say(`shadow gate: ${cells[3]!.replace(/\*\*/g, '')} — ${cells[4]}`);
  // The pull request stays open; the clone goes back to main (what status reads).
  world.git('checkout', '-q', 'main');
}

interface StoryContext {
  world: World;
  out: StoryOutput;
  run: (args: string[], options?: { at?: string; expect?: number[]; show?: (r: Ran) => string }) => Promise<Ran>;
  step: (title: string) => void;
  files: StoryResult['files'];
  keyFile: string;
  candidate: string;
  stable: string;
  traced: string;
  clock: typeof clock;
  github: GitHubPlayer;
  agent: AgentWatch;
  /** serve's log length when the guardrail broke */
  breachMark: number;
}

/** The main branch's head in the origin (what GitHub holds). */
function mainHead(world: World): string {
  return world.gitIn(world.origin, 'rev-parse', 'refs/heads/main').trim();
}

interface AgentWatch {
  /** waits until the agent logged a reconcile of each environment at `sha` (from log line `since`); shows what it did */
  reconciled(envs: string[], sha: string, since: number, converging?: string[]): Promise<void>;
  /** the revert pull request the agent's canary watch opened (waits for it); shows the watch's lines */
  revertOpened(world: World, since: number, timeoutMs: number): Promise<{ number: number; branch: string }>;
  /** the log's length now */
  mark(): number;
}

/** The agent's lines in serve's log, as the story shows them: without the time and the repository, only what it did. */
function watchingAgent(serve: RunningServe, out: StoryOutput): AgentWatch {
  const prefix = /^\S+Z agent [^:\s]+: /;
  const agentLines = (since: number) => serve.log().slice(since).filter((l) => prefix.test(l)).map((l) => l.replace(prefix, '').replace(/^(\S+): \1: /, '$1: '));
  const shown = (l: string) => /: (converged|unchanged|not-converged|refused|error) at [0-9a-f]{12}|: audit |leading|: could not/.test(l) || /^main is at/.test(l);
  const wait = async (ok: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`the agent did not ${what} within ${timeoutMs / 1000} s; serve's log ends:\n${serve.log().slice(-25).join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    mark: () => serve.log().length,
    async reconciled(envs, sha, since, converging = envs) {
      const short = sha.slice(0, 12);
      const done = (e: string) => agentLines(since).some((l) => new RegExp(`^${e}: (${converging.includes(e) ? 'converged' : 'converged|unchanged'}) at ${short} `).test(l));
      const failed = () => agentLines(since).find((l) => new RegExp(`^\\S+: (not-converged|refused|error) at ${short} `).test(l));
      await wait(() => {
        const f = failed();
        if (f) throw new Error(`the agent did not converge: ${f}`);
        return envs.every(done);
      }, `reconcile ${envs.join(', ')} at ${short}`, 60_000);
      // its audit record follows a reconcile that wrote; a failure to write it stops the story
      const wrote = (e: string) => agentLines(since).some((l) => new RegExp(`^${e}: converged at ${short} `).test(l));
      const recorded = (e: string) => agentLines(since).some((l) => new RegExp(`^${e}: audit ${e}: (\\d+ records? written|nothing to record|skipped)`).test(l));
      await wait(() => {
        const f = agentLines(since).find((l) => /^\S+: audit: /.test(l));
        if (f) throw new Error(`the agent could not record the deployment: ${f}`);
        return envs.every((e) => !wrote(e) || recorded(e));
      }, 'record the deployment', 30_000);
      for (const l of agentLines(since).filter(shown)) out.say(`agent: ${l}`);
    },
    async revertOpened(world, since, timeoutMs) {
      let found: { number: number; branch: string } | undefined;
      await wait(() => {
        const pr = world.github.state.pulls().find((p) => p.state === 'open' && /^(revert|rollback)\//.test(p.pull.headRef));
        if (pr) found = { number: pr.number, branch: pr.pull.headRef };
        return !!found;
      }, 'open a revert pull request', timeoutMs);
      // its log line comes once the watch is done (the pull request is open on GitHub before)
      await wait(() => agentLines(since).some((x) => new RegExp(`revert pull request #${found!.number} opened`).test(x)), 'log the revert pull request', 15_000);
      // the watch that acted: its lines up to the revert pull request it opened
      const watch = agentLines(since).filter((x) => /^production: canary watch production: /.test(x));
      const acted = watch.findIndex((x) => /revert pull request #\d+ opened/.test(x));
      const first = watch.slice(0, acted + 1).findLastIndex((x, i) => i < acted && !/BREACHED|why:|revert pull request|rollback/.test(x));
      for (const l of watch.slice(first + 1, acted + 1)) out.say(`agent: ${l}`);
      return found!;
    },
  };
}

type CheckRun = World['github']['state']['checkRuns'][number];
interface OpenPull { number: number; head: string; headRef: string; base: string; author: string }
interface GitHubPlayer {
  repository: Repository;
  /** what GitHub does when a pull request is opened: keeps its head as refs/pull/N/head, knows the head commit */
  opened(branch: string, number: number): OpenPull;
  /** delivers a signed webhook to serve and waits for the check run it posts (`want`: the conclusion the story needs) */
  delivered(event: string, payload: Record<string, unknown>, pull: OpenPull, want?: string): Promise<CheckRun>;
  /** delivers the push of main (before → after) and waits for the agent to reconcile `envs` (the others at least unchanged) */
  pushed(before: string, after: string, agent: AgentWatch, envs: string[]): Promise<void>;
}

/** The demo in GitHub's place: the git side of an opened pull request, and webhook deliveries to serve. */
function playingGitHub(world: World, serve: RunningServe, out: StoryOutput, transcript: string): GitHubPlayer {
  const origin = (...args: string[]) => world.gitIn(world.origin, ...args).trim();
  const repository: Repository = { owner, name: repoName, cloneUrl: world.origin, defaultBranch: 'main' };
  let told = false;
  const tell = () => {
    if (!told) out.say('(the demo plays GitHub\'s webhook deliverer — the GitHub stand-in sends no webhooks: it POSTs the event GitHub would send, signed with the App\'s webhook secret as GitHub signs it)');
    told = true;
  };
  const posted = () => world.github.requests.filter((r) => (r.operationId === 'checks/create' || r.operationId === 'checks/update') && r.status < 300).length;
  return {
    repository,
    opened(branch, number) {
      const head = origin('rev-parse', `refs/heads/${branch}`);
      origin('update-ref', `refs/pull/${number}/head`, head);
      world.github.setBranch(branch, head);
      const author = world.github.state.pull(number)!.user;
      world.github.setCommit(head, { author, committer: author });
      return { number, head, headRef: branch, base: origin('rev-parse', 'refs/heads/main'), author };
    },
    async pushed(before, after, agent, envs) {
      const since = agent.mark();
      tell();
      const r = await deliver(serve, world.app, 'push', pushPayload(world.app, repository, { ref: 'refs/heads/main', before, after, pusher: people.leads[0]! }));
      const sent = `GitHub → serve: push to main ${before.slice(0, 12)} → ${after.slice(0, 12)}, signed with the webhook secret → ${r.status} ${r.message}`;
      out.say(sent);
      appendFileSync(transcript, `${sent}\n`);
      if (r.status !== 202) throw new Error(`serve answered the push delivery ${r.status}: ${r.message}`);
      await agent.reconciled(['staging', 'production'], after, since, envs);
    },
    async delivered(event, payload, pull, want) {
      tell();
      const before = posted();
      const action = typeof payload.action === 'string' ? `.${payload.action}` : '';
      const r = await deliver(serve, world.app, event, payload);
      const sent = `GitHub → serve: ${event}${action} of #${pull.number}, signed with the webhook secret → ${r.status} ${r.message}`;
      out.say(sent);
      appendFileSync(transcript, `(the demo delivers the webhook GitHub would send; the GitHub stand-in sends none)\n${sent}\n`);
      if (r.status !== 202) throw new Error(`serve answered the ${event} delivery ${r.status}: ${r.message}`);
      const deadline = Date.now() + 60_000;
      while (posted() === before) {
        if (Date.now() > deadline) throw new Error(`serve posted no check run for #${pull.number} within 60 s; its log:\n${serve.log().slice(-20).join('\n')}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const run = world.github.state.checkRuns.find((c) => c.headSha === pull.head && c.appId === world.app.id && c.status === 'completed');
      if (!run) throw new Error(`no completed check run of ${world.app.slug} on ${pull.head.slice(0, 12)}`);
      const line = `check run "${run.name}" on ${pull.head.slice(0, 12)} by ${world.app.slug}[bot]: ${run.conclusion} — ${run.output.title ?? ''}`;
      out.say(line);
      appendFileSync(transcript, `${line}\n${run.output.summary ?? ''}\n\n`);
      if (want && run.conclusion !== want) throw new Error(`the check run on #${pull.number} is ${run.conclusion}, the story needs ${want}:\n${run.output.summary ?? ''}`);
      return run;
    },
  };
}

// --- helpers ---


/** The command, in this process (the built program, as the binary runs it); stops the story when interrupted. */
async function modelship(args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<Ran> {
  if (signal?.aborted) throw new Error('interrupted');
  return runModelship(args, { env: { ...process.env, ...env, FORCE_COLOR: '0' } });
}

/** Environment for a command at a story time: git dates and the registry's clock. */
function dated(at: string): Record<string, string> {
  return { GIT_AUTHOR_DATE: at, GIT_COMMITTER_DATE: at, SOURCE_DATE_EPOCH: String(Date.parse(at) / 1000) };
}

function commit(world: World, at: string, message: string, paths: string[]): void {
  world.git('add', '--', ...paths);
  if (!world.git('status', '--porcelain', '--', ...paths).trim()) return;
  world.gitAt(at, 'commit', '-q', '-m', message);
  world.gitAt(at, 'push', '-q', 'origin', 'main');
  world.github.setBranch('main', world.git('rev-parse', 'HEAD').trim());
}


/** A reviewer approves on GitHub (the stand-in); returns the trailer the merge carries. */
function approve(world: World, pull: number, login: string, at: string): string {
  // submitted at the story's time, so the review comes before the merge on the story's clock
  world.github.addReview(pull, login, 'APPROVED').submittedAt = at;
  return `Approved-by: ${login} ${at}`;
}

/** GitHub's merge button: a merge commit on main naming the pull request, pushed; the PR closed as merged. */
function merge(world: World, branch: string, pull: number, at: string, approvals: string[]): void {
  const pr = world.github.state.pull(pull)!;
  world.git('checkout', '-q', 'main');
  // The branch as pushed to the origin (the tool that opened the PR may not have left it here).
  world.git('fetch', '-q', 'origin', branch);
  world.gitAt(at, 'merge', '--no-ff', '-q', '-m', `Merge pull request #${pull} from ${branch}\n\n${pr.title}\n\nPull-Request-Author: ${pr.user}\n${approvals.join('\n')}`, 'FETCH_HEAD');
  world.gitAt(at, 'push', '-q', 'origin', 'main');
  const sha = world.git('rev-parse', 'HEAD').trim();
  world.github.setBranch('main', sha);
  Object.assign(pr, { state: 'closed', closedAt: at });
  Object.assign(pr.pull, { mergedAt: at, mergedBy: people.leads[0], mergeCommitSha: sha });
}

function branchOf(stdout: string): string {
  const m = /\b(promote\/[^\s'"`]+|rollback\/[^\s'"`]+|revert\/[^\s'"`]+)/.exec(stdout);
  if (!m) throw new Error(`no branch in:\n${stdout}`);
  return m[1]!.replace(/[.,;:]$/, '');
}

function prNumberOf(stdout: string): number {
  const m = /\/pull\/(\d+)|#(\d+)/.exec(stdout);
  if (!m) throw new Error(`no pull request in:\n${stdout}`);
  return Number(m[1] ?? m[2]);
}

/**
 * The policies trust the demo key. Their store names the production bucket; the demo writes to a
 * local folder with the same write-once rules instead (--store).
 */
function trustKey(world: World, keygenOut: string): void {
  const entry = keygenOut.split('\n').filter((l) => /^(- |  )\S/.test(l));
  for (const env of ['staging', 'production']) {
    const file = join(world.repo, 'policies', `${env}.yaml`);
    const audit = ['audit:', `  store: s3://acme-audit-trail/${env}`, '  retentionDays: 365', '  keys:', ...entry.map((l) => `    ${l}`)];
    writeFileSync(file, `${readFileSync(file, 'utf8').trimEnd()}\n${audit.join('\n')}\n`);
  }
}

/**
 * An hour of authorisations, written into the warehouse (DuckDB): per minute 40 by the stable
 * version, declining 2 %, and 12 by the canary, declining 6 %. Versions are the repository's
 * validated names, so they can stand in this SQL text.
 */
async function injectDeclines(world: World, canary: string, stable: string): Promise<void> {
  const rows = (version: string, perMinute: number, declinePer50: number) => `
    SELECT now() - to_seconds(m * 60 + j), 'fraud-detector', '${version}',
           CASE WHEN (m * ${perMinute} + j) % 50 < ${declinePer50} THEN 'decline' ELSE 'approve' END
    FROM range(0, 60) a(m), range(0, ${perMinute}) b(j)`;
  await world.snow.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATIONS ${rows(stable, 40, 1)} UNION ALL ${rows(canary, 12, 3)}`);
}

/**
 * A day of production's prediction log (README, "Prediction logs": one row per request and
 * version), as the platform would land KServe's logger events: 24,000 requests, one every 3.5 s
 * up to now, each answered by the stable version and by the shadow with the same request id; the
 * shadow's score is 0.6 + 0.4 × the stable's, its latency a millisecond more. A quarter of the
 * requests come from the EU (the policy's region=eu slice). Versions are the repository's
 * validated names, so they can stand in this SQL text.
 */
async function injectShadowLog(world: World, shadow: string, stable: string): Promise<void> {
  await world.snow.run(`INSERT INTO ANALYTICS.INFERENCE.PREDICTION_LOG (REQUEST_ID, MODEL_NAME, MODEL_VERSION, SCORE, DECISION, LATENCY_MS, ERROR, REQUESTED_AT, REGION)
    SELECT 'req-' || i, 'fraud-detector', v.version, CASE WHEN v.shadow THEN 0.6 + 0.4 * s ELSE s END, NULL,
           10 + i % 7 + CASE WHEN v.shadow THEN 1 ELSE 0 END, NULL,
           now() - to_milliseconds(i * 3500) + to_milliseconds(CASE WHEN v.shadow THEN 2 ELSE 0 END), CASE WHEN i % 4 = 0 THEN 'eu' ELSE 'us' END
    FROM (SELECT i, ((i * 7919) % 1000) / 1000.0 AS s FROM range(0, 24000) t(i)) r,
         (VALUES ('${stable}', false), ('${shadow}', true)) v(version, shadow)`);
}

function quote(a: string): string {
  return /^[\w@./:=,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** At most 24 lines of a command's output, with how many were left out. */
function trim(text: string, max = 24): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.length <= max ? lines.join('\n') : [...lines.slice(0, max), `… (${lines.length - max} more lines in the transcript)`].join('\n');
}

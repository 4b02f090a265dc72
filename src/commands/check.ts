// `modelship check --base REV --head REV [--format text|markdown|json] [--github]`: gates a change
// to the release repository by the base branch's policies and prints (or posts) one report.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { ExitCode, UsageError } from '../errors.js';
import { loadRepository } from '../config/load.js';
import { validateSnapshot } from '../config/state.js';
import { diffStates, type FileDiff } from '../gates/changes.js';
import { renderJson, renderMarkdown, renderText, commentMarker } from '../gates/report/render.js';
import { evaluate, invalidReport, isBlocked, needs, type Report } from '../gates/run.js';
import { gitRevision, resolveRevision } from '../adapters/git/tree.js';
import { diffNameStatus, mergeBase } from '../adapters/git/search.js';
import { checkRunTextLimit, commentLimit, connectionFromEnv, getPull, listReviews, octokit, teamMembers, upsertCheckRun, upsertStickyComment } from '../adapters/github/client.js';
import { readEvent, type CheckEvent } from '../adapters/github/event.js';
import { previewMerge } from '../sync/preview.js';
import { commandOptions, repoRoot } from './context.js';
import { collectEvidence, wasStableBefore } from '../check/evidence.js';
import { printError, type Output } from './output.js';

interface Options { base?: string; head?: string; format?: 'text' | 'markdown' | 'json'; json?: boolean; github?: boolean; at?: string; output?: string; prometheusUrl?: string }

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  const format = opts.json ? 'json' : opts.format ?? 'text';
  try {
    const root = repoRoot(opts.repo);
    const now = opts.at ? parseTime(opts.at) : new Date();
    const event = opts.github ? readEvent() : undefined;
    const baseRev = event?.baseSha ?? opts.base ?? (await defaultBase(root));
    const headRev = event?.headSha ?? opts.head ?? 'HEAD';
    const report = await check({ root, baseRev, headRev, now, event, prometheusUrl: opts.prometheusUrl ?? process.env.MODELSHIP_PROMETHEUS_URL });

    if (opts.output) writeFileSync(opts.output, renderMarkdown(report) + '\n');
    // Printed before posting, so the job log has the report even when GitHub refuses the post
    // (a fork's read-only token) or is down.
    output.out(format === 'json' ? renderJson(report) : format === 'markdown' ? renderMarkdown(report) : renderText(report));
    if (event) await publish(event, report, output);
    return isBlocked(report) ? ExitCode.checkFailed : ExitCode.ok;
  } catch (e) {
    return printError(e, output, format === 'json');
  }
}

export interface CheckRequest {
  root: string;
  baseRev: string;
  headRev: string;
  now: Date;
  event?: CheckEvent;
  prometheusUrl?: string;
}

/** Loads base and head, diffs them, gathers evidence and evaluates. */
export async function check(req: CheckRequest): Promise<Report> {
  const { root, now } = req;
  const base = await resolveRevision(root, req.baseRev);
  const head = await resolveRevision(root, req.headRev);
  // What the pull request changes is measured from where it branched; the rules come from the base's tip.
  const forkPoint = (await mergeBase(root, base, head)) ?? base;
  const baseLabel = label(req.baseRev, base);
  const headLabel = label(req.headRev, head);

  const headSnapshot = await gitRevision(root, head);
  const validation = await validateSnapshot(headSnapshot, { versions: 'pinned' });
  if (!validation.ok) return invalidReport(baseLabel, headLabel, validation.problems, now);
  const headRepo = validation.repo;
  const rules = await loadRepository(await gitRevision(root, base), { versions: 'pinned' });
  const before = forkPoint === base ? rules : await loadRepository(await gitRevision(root, forkPoint), { versions: 'pinned' });
  // The base's policies judge; the fork point's pins are what changes are measured from.
  const baseRepo = { ...before, policies: rules.policies, label: baseLabel };

  const files = await fileDiff(root, forkPoint, head);
  const rollbacks = new Map<string, boolean>();
  for (const [env, e] of headRepo.environments) {
    for (const [model, d] of Object.entries(e.data.models)) {
      const was = before.environments.get(env)?.data.models[model]?.version;
      if (was && was !== d.version) {
        const registeredAt = headRepo.versions.get(model)?.get(d.version)?.data.registeredAt;
        rollbacks.set(`${env}/${model}/${d.version}`, await wasStableBefore(root, forkPoint, env, model, d.version, registeredAt));
      }
    }
  }
  const changes = diffStates({
    base: baseRepo, head: headRepo, files,
    liveBefore: (env, model) => new Set([...rollbacks].filter(([k, v]) => v && k.startsWith(`${env}/${model}/`)).map(([k]) => k.split('/')[2]!)),
  });

  const environmentDigests: Record<string, string> = {};
  const envFiles = [...headRepo.environments.values()].map((e) => e.file).sort();
  for (const [path, bytes] of await headSnapshot.read(envFiles, 1 << 20)) environmentDigests[path] = createHash('sha256').update(bytes).digest('hex');

  const state = { base: { ...baseRepo, label: baseLabel }, head: { ...headRepo, label: headLabel }, changes, environmentDigests };
  const request = needs(state);
  const namespaces = Object.fromEntries([...headRepo.environments].map(([n, e]) => [n, e.data.kubernetes?.namespace ?? n]));
  const review = req.event ? await reviewEvidence(req.event, request.teams) : undefined;
  const evidence = await collectEvidence(request, {
    root, base: forkPoint, now, namespaces,
    ...(req.prometheusUrl ? { prometheusUrl: req.prometheusUrl } : {}),
    ...(review ? { review } : {}),
  });
  const report = evaluate(state, evidence);
  const touched = changes.map((c) => c.environment).filter((e) => headRepo.environments.has(e));
  if (touched.length) report.preview = previewMerge(before, headRepo, touched, { base: forkPoint, head });
  return report;
}

async function reviewEvidence(event: CheckEvent, teams: Set<string>) {
  if (!event.pull) return undefined;
  const gh = octokit(githubConnection());
  const pull = await getPull(gh, event.repo, event.pull);
  const reviews = await listReviews(gh, event.repo, event.pull);
  const { members } = await teamMembers(gh, teams);
  return { author: pull.author, headSha: pull.headSha, reviews, teamMembers: members };
}

/** Posts the report: one check run on the commit, one sticky comment on the pull request. */
async function publish(event: CheckEvent, report: Report, output: Output): Promise<void> {
  const gh = octokit(githubConnection());
  const blocked = isBlocked(report);
  const conclusion = report.verdict === 'no-changes' ? 'neutral' : blocked ? 'failure' : 'success';
  const run = await upsertCheckRun(gh, event.repo, {
    name: 'modelship', headSha: event.checkSha, conclusion,
    output: { title: report.headline, summary: renderMarkdown(report, { limit: checkRunTextLimit }) },
  });
  output.err(`check run ${run.created ? 'created' : 'updated'} on ${event.checkSha.slice(0, 12)}: ${conclusion}`);
  if (event.pull && event.name !== 'merge_group') {
    const c = await upsertStickyComment(gh, event.repo, event.pull, commentMarker, renderMarkdown(report, { limit: commentLimit }));
    output.err(`report comment ${c.created ? 'posted' : 'updated'} on #${event.pull}`);
  }
}

function githubConnection() {
  const c = connectionFromEnv();
  if (!c) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with checks: write, pull-requests: write)');
  return c;
}

async function fileDiff(root: string, from: string, to: string): Promise<FileDiff[]> {
  const out = await diffNameStatus(root, from, to, ['environments', 'models', 'policies']);
  const parts = out.split('\0').filter(Boolean);
  const files: FileDiff[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i]!.startsWith('A') ? 'added' : parts[i]!.startsWith('D') ? 'deleted' : 'modified';
    files.push({ path: parts[i + 1]!, status });
  }
  return files;
}

async function defaultBase(root: string): Promise<string> {
  for (const ref of ['origin/HEAD', 'origin/main', 'main', 'master']) {
    try {
      await resolveRevision(root, ref);
      return ref;
    } catch {
      // try the next name
    }
  }
  throw new UsageError('cannot tell the base branch; pass --base <rev>');
}

function label(rev: string, commit: string): string {
  return rev === commit ? commit.slice(0, 12) : `${rev} (${commit.slice(0, 12)})`;
}

function parseTime(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--at expects a time such as 2026-11-20T10:00:00Z, found ${JSON.stringify(text)}`);
  return d;
}

// Who asked, who approved, what was tested: the change evidence of a commit on main. From GitHub
// (the pull request, its reviews, the checker's check run) when a token is at hand, else from the
// merge commit itself: GitHub's "Merge pull request #N" subject or a squash "(#N)" suffix, and
// trailers a merge bot (or the demo) writes:
//   Pull-Request-Author: <login>
//   Approved-by: <login> <RFC 3339 time>        (one per approval)
//   Break-Glass: <reason>                       (an emergency change pushed without review)

import { createHash } from 'node:crypto';
import type { Octokit } from '@octokit/rest';
import { ExternalError } from '../errors.js';
import { listReviews, type RepoRef } from '../github/client.js';
import type { CommitInfo } from './git.js';
import type { Approval, AuditPredicate, ChangeEvidence } from './record.js';

export type ReportDigest = NonNullable<AuditPredicate['tested']['report']>;

/** The pull request number a merge commit names, if any. */
export function pullNumberOf(subject: string): number | undefined {
  const m = /^Merge pull request #(\d+) from /.exec(subject) ?? /\(#(\d+)\)\s*$/.exec(subject);
  return m ? Number(m[1]) : undefined;
}

/** Evidence from the commit message alone. `sideTip` is the merged branch's tip (second parent), when a merge. */
export function changeFromGit(info: CommitInfo, sideTip: CommitInfo | undefined, reviewMs?: number): ChangeEvidence {
  const pr = pullNumberOf(info.subject);
  const breakGlass = info.trailers['Break-Glass']?.[0];
  const author = info.trailers['Pull-Request-Author']?.[0] ?? (sideTip ?? info).author;
  const approvers: Approval[] = (info.trailers['Approved-by'] ?? []).map(parseApproval).filter((a): a is Approval => !!a);
  const title = pr !== undefined && info.body ? info.body.split('\n').find((l) => l.trim() && !/^[A-Za-z-]+: /.test(l))?.trim() : undefined;
  return {
    kind: breakGlass ? 'break-glass' : pr !== undefined ? 'pull-request' : 'direct',
    pr: pr !== undefined ? { number: pr, ...(title ? { title } : {}) } : null,
    author, mergedBy: info.committer, mergedAt: info.committedAt, approvers,
    emergency: !!breakGlass, ...(breakGlass ? { emergencyReason: breakGlass } : {}),
    ...(breakGlass && reviewMs ? { reviewBy: new Date(Date.parse(info.committedAt) + reviewMs).toISOString().replace('.000Z', 'Z') } : {}),
    source: 'git',
  };
}

function parseApproval(text: string): Approval | undefined {
  const m = /^(\S+)\s+(\S+)$/.exec(text.trim());
  if (!m || Number.isNaN(Date.parse(m[2]!))) return undefined;
  return { login: m[1]!.replace(/^@/, ''), at: m[2]! };
}

/**
 * Evidence from GitHub: the merged pull request, the approvals standing at merge (a reviewer's
 * latest review counts), and the checker's "modelship" check run on the pull request's head.
 * Falls back to the commit message when the commit names no pull request.
 */
export async function changeFromGitHub(gh: Octokit, repo: RepoRef, info: CommitInfo, sideTip: CommitInfo | undefined, reviewMs?: number): Promise<{ change: ChangeEvidence; report?: ReportDigest }> {
  const fromGit = changeFromGit(info, sideTip, reviewMs);
  const number = pullNumberOf(info.subject);
  if (number === undefined) return { change: fromGit };
  let pull;
  try {
    pull = (await gh.rest.pulls.get({ ...repo, pull_number: number })).data;
  } catch (e) {
    throw new ExternalError('github', `read pull request #${number}`, (e as Error).message, { cause: e, ...(typeof (e as { status?: unknown }).status === 'number' ? { status: (e as { status: number }).status } : {}) });
  }
  const author = pull.user?.login ?? fromGit.author;
  const mergedAt = pull.merged_at ?? undefined;
  const latest = new Map<string, { state: string; at: string }>();
  for (const r of await listReviews(gh, repo, number)) {
    if (r.state === 'COMMENTED' || r.state === 'PENDING') continue; // a comment does not withdraw an approval
    if (mergedAt && r.submittedAt > mergedAt) continue;
    latest.set(r.user, { state: r.state, at: r.submittedAt });
  }
  const approvers = [...latest].filter(([, r]) => r.state === 'APPROVED').map(([login, r]) => ({ login, at: r.at }));
  let report: ReportDigest | undefined;
  try {
    const runs = (await gh.rest.checks.listForRef({ ...repo, ref: pull.head.sha, check_name: 'modelship', filter: 'latest', per_page: 1 })).data.check_runs;
    const run = runs[0];
    if (run?.output?.summary) {
      report = {
        sha256: createHash('sha256').update(run.output.summary).digest('hex'), source: `check-run:${run.id}`,
        ...(run.conclusion ? { verdict: run.conclusion } : {}),
      };
    }
  } catch (e) {
    throw new ExternalError('github', `read the modelship check run of ${pull.head.sha.slice(0, 12)}`, (e as Error).message, { cause: e });
  }
  return {
    change: {
      ...fromGit, kind: fromGit.kind === 'break-glass' ? 'break-glass' : 'pull-request',
      pr: { number, url: pull.html_url, title: pull.title }, author,
      ...(pull.merged_by?.login ? { mergedBy: pull.merged_by.login } : {}), ...(mergedAt ? { mergedAt } : {}),
      approvers, source: 'github',
    },
    ...(report ? { report } : {}),
  };
}

/** The digest of a gate report file (`modelship check --output`), with its verdict when the report says it. */
export function reportFromFile(name: string, bytes: Buffer): ReportDigest {
  const text = bytes.toString('utf8');
  let verdict: string | undefined;
  try {
    const json = JSON.parse(text) as { verdict?: unknown };
    if (typeof json.verdict === 'string') verdict = json.verdict;
  } catch {
    // markdown or text: the headline says the verdict
    const head = text.split('\n').find((l) => /modelship: /.test(l));
    if (head) verdict = head.replace(/^[#\s]*(?:✅|❌|⚠️|ℹ️)?\s*modelship:\s*/u, '').trim();
  }
  return { sha256: createHash('sha256').update(bytes).digest('hex'), source: `file:${name}`, ...(verdict ? { verdict } : {}) };
}

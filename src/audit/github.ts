// The change evidence from GitHub: the merged pull request, the approvals standing at merge and
// the checker's "modelship" check run. Imported only with --github (Octokit is not small).

import { createHash } from 'node:crypto';
import type { Octokit } from '@octokit/rest';
import { ExternalError } from '../errors.js';
import { listReviews, type RepoRef } from '../adapters/github/client.js';
import { changeFromGit, pullNumberOf, type ReportDigest } from './facts.js';
import type { CommitInfo } from '../adapters/git/audit.js';
import type { ChangeEvidence } from './record.js';

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
  const approvers = [...latest].filter(([, r]) => r.state === 'APPROVED').map(([login, r]) => ({ login, at: r.at })).sort((a, b) => a.at.localeCompare(b.at));
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

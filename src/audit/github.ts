// The change evidence from GitHub: the merged pull request, the approvals standing at merge and
// the checker's "modelship" check run. Imported only with --github (Octokit is not small).

import { createHash } from 'node:crypto';
import { getMergedPull, latestCheckRun, listReviews, pullsOfCommit, type GitHubClient, type RepoRef } from '../adapters/github/client.js';
import type { CommitInfo } from '../adapters/git/audit.js';
import { standingApprovals, type ApprovalRequirement } from '../model/approvals.js';
import { changeFromGit, type ReportDigest } from './facts.js';
import type { Approval, ChangeEvidence } from './record.js';

/** The parts of the environment's approval rule that decide whether an approval still stands. */
export type StandingRule = Pick<ApprovalRequirement, 'excludeAuthor' | 'dismissStale'>;

/**
 * Evidence from GitHub: the merged pull request, the approvals standing at merge, and the
 * checker's "modelship" check run on the pull request's head. The pull request is the one GitHub
 * says this commit merged (the commit's pull requests, the one whose merge commit it is), never
 * the number the commit's subject names: a direct push titled "… (#42)" is a direct push, with
 * nobody's approval. A merged pull request is reviewed, so a `Break-Glass:` line in its message
 * is text, not an emergency. The approvals are those the approvals gate counts by the same rule
 * (model/approvals.ts: a reviewer's standing review, logins case-insensitive, a stale approval
 * dropped when the policy dismisses them, the author excluded).
 */
export async function changeFromGitHub(gh: GitHubClient, repo: RepoRef, info: CommitInfo, sideTip: CommitInfo | undefined, reviewMs?: number, rule: StandingRule = {}): Promise<{ change: ChangeEvidence; report?: ReportDigest }> {
  const fromGit = changeFromGit(info, sideTip, reviewMs);
  const merged = (await pullsOfCommit(gh, repo, info.commit)).find((p) => p.mergedAt && p.mergeCommitSha === info.commit);
  if (!merged) {
    // No pull request merged this commit: what its message claims (a number, an author, approvals) is not evidence.
    const breakGlass = info.trailers['Break-Glass']?.[0];
    return {
      change: {
        kind: breakGlass ? 'break-glass' : 'direct', pr: null, author: info.author, mergedBy: info.committer, mergedAt: info.committedAt, approvers: [],
        emergency: !!breakGlass, ...(breakGlass ? { emergencyReason: breakGlass } : {}),
        ...(breakGlass && fromGit.reviewBy ? { reviewBy: fromGit.reviewBy } : {}),
        source: 'github',
      },
    };
  }
  const number = merged.number;
  const pull = await getMergedPull(gh, repo, number);
  const author = pull.author || fromGit.author;
  const reviews = await listReviews(gh, repo, number);
  const approvers = approversAtMerge({ reviews, headSha: pull.headSha, author, ...(pull.mergedAt ? { mergedAt: pull.mergedAt } : {}), rule });
  const run = await latestCheckRun(gh, repo, pull.headSha, 'modelship');
  const report: ReportDigest | undefined = run?.summary
    ? { sha256: createHash('sha256').update(run.summary).digest('hex'), source: `check-run:${run.id}`, ...(run.conclusion ? { verdict: run.conclusion } : {}) }
    : undefined;
  return {
    change: {
      kind: 'pull-request', pr: { number, url: pull.url, title: pull.title }, author,
      ...(pull.mergedBy ? { mergedBy: pull.mergedBy } : {}), ...(pull.mergedAt ? { mergedAt: pull.mergedAt } : {}),
      approvers, emergency: false, source: 'github', ...(fromGit.abOverride ? { abOverride: fromGit.abOverride } : {}),
    },
    ...(report ? { report } : {}),
  };
}

/** The approvals that stood when the pull request merged (a review after the merge was not part of the decision), oldest first. */
export function approversAtMerge(input: { reviews: Parameters<typeof standingApprovals>[0]['reviews']; headSha: string; author: string; mergedAt?: string; rule: StandingRule }): Approval[] {
  const { mergedAt } = input;
  const before = mergedAt ? input.reviews.filter((r) => Date.parse(r.submittedAt) <= Date.parse(mergedAt)) : input.reviews;
  return standingApprovals({ reviews: before, headSha: input.headSha, author: input.author, required: input.rule })
    .map((r) => ({ login: r.user, at: r.submittedAt }))
    .sort((a, b) => a.at.localeCompare(b.at));
}

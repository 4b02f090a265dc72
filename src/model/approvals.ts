// Reviews of a pull request and the one rule for which approvals still stand. The approvals gate
// counts by it and the audit trail records by it, so a signed record names the approvers the
// gate counted, never one it dropped.

export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';

export interface Review {
  user: string;
  state: ReviewState;
  commitId: string;
  submittedAt: string;
}

export interface ApprovalRequirement {
  count: number;
  /** "@org/team" slugs; when absent or empty, anyone who reviews qualifies (the runner fills the policy's default: the model's reviewers) */
  teams?: string[];
  /** default true */
  excludeAuthor?: boolean;
  /** approvals of another commit than the head do not count (default true, as policy.schema.json says) */
  dismissStale?: boolean;
}

/** GitHub logins and team slugs are case-insensitive: compare them through this. */
export function sameLogin(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Each reviewer's standing review, as GitHub computes it: the latest APPROVED, CHANGES_REQUESTED
 * or DISMISSED review wins. A later COMMENTED review neither approves nor withdraws an approval
 * (GitHub keeps the approval), so it only stands when the user did nothing else. PENDING
 * reviews are unsubmitted drafts and do not exist for anyone but their author. One entry per
 * login, whatever its case.
 */
export function standingReviews(reviews: Review[]): Review[] {
  const byUser = new Map<string, Review>();
  const ordered = reviews
    .map((r, i) => ({ r, i, at: Date.parse(r.submittedAt) }))
    .filter(({ r }) => r.state !== 'PENDING')
    .sort((a, b) => (a.at - b.at) || (a.i - b.i)) // same second: the API's order
    .map(({ r }) => r);
  for (const r of ordered) {
    const key = r.user.toLowerCase();
    const standing = byUser.get(key);
    if (r.state === 'COMMENTED' && standing && standing.state !== 'COMMENTED') continue;
    byUser.set(key, r);
  }
  return [...byUser.values()];
}

/** Why a reviewer's standing review is not an approval that stands at `headSha`; undefined when it stands. */
export function approvalLapse(review: Review, at: { headSha: string; dismissStale?: boolean }): string | undefined {
  if (review.state === 'CHANGES_REQUESTED') return 'requested changes';
  if (review.state === 'COMMENTED') return 'commented without approving';
  if (review.state === 'DISMISSED') return 'review dismissed';
  if (review.state !== 'APPROVED') return `review ${review.state.toLowerCase()}`;
  if ((at.dismissStale ?? true) && review.commitId !== at.headSha) return `approved an earlier commit ${review.commitId.slice(0, 7)}`;
  return undefined;
}

/**
 * Why a reviewer cannot approve this head at all, whatever their review: the author (unless the
 * policy allows it) and whoever pushed or committed the head commit (always: an approval must
 * come from someone other than the last hands on the code). Undefined when they may.
 */
export function disqualified(user: string, input: { author: string; pushers?: readonly string[]; excludeAuthor?: boolean }): string | undefined {
  if ((input.excludeAuthor ?? true) && sameLogin(user, input.author)) return 'the author';
  if (input.pushers?.some((p) => sameLogin(p, user))) return 'pushed the latest commit';
  return undefined;
}

/**
 * The approvals that still stand: each reviewer's standing review, approving, of the head
 * unless the policy keeps stale approvals (dismissStale: false), not by the author unless the
 * policy allows it, and never by one of `pushers` (who pushed or committed the head). Team
 * membership is a further qualification the gate judges with the teams' members.
 */
export function standingApprovals(input: { reviews: Review[]; headSha: string; author: string; pushers?: readonly string[]; required: Pick<ApprovalRequirement, 'excludeAuthor' | 'dismissStale'> }): Review[] {
  const who = { author: input.author, ...(input.pushers ? { pushers: input.pushers } : {}), ...(input.required.excludeAuthor !== undefined ? { excludeAuthor: input.required.excludeAuthor } : {}) };
  return standingReviews(input.reviews).filter((r) => disqualified(r.user, who) === undefined
    && approvalLapse(r, { headSha: input.headSha, ...(input.required.dismissStale !== undefined ? { dismissStale: input.required.dismissStale } : {}) }) === undefined);
}

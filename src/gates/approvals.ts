// Approvals gate: counts the pull request's qualified approvals the way GitHub reads reviews,
// and says for every reviewer whether they counted and, if not, why.

import { result, type GateResult } from './types.js';

export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';

export interface Review {
  user: string;
  state: ReviewState;
  commitId: string;
  submittedAt: string;
}

export interface ApprovalRequirement {
  count: number;
  /** "@org/team" slugs; when absent or empty, anyone who reviews qualifies */
  teams?: string[];
  /** default true */
  excludeAuthor?: boolean;
  /** approvals of another commit than the head do not count */
  dismissStale?: boolean;
}

export interface ReviewerVerdict {
  user: string;
  /** the review state that stands for this user (see standingReviews) */
  state: ReviewState;
  commitId: string;
  /** the listed teams this user belongs to */
  teams: string[];
  counted: boolean;
  /** a qualified reviewer's outstanding change request: fails the gate whatever the count */
  blocks: boolean;
  /** why this reviewer did not count */
  reason?: string;
}

/** Judges the reviews of a pull request at `headSha` by the environment's approval rules. */
export function approvalsGate(input: {
  reviews: Review[];
  headSha: string;
  author: string;
  teamMembers: Record<string, string[]>;
  required: ApprovalRequirement;
}): GateResult {
  const { headSha, required } = input;
  const excludeAuthor = required.excludeAuthor ?? true;
  const teams = required.teams ?? [];
  // GitHub logins and team slugs are case-insensitive.
  const author = input.author.toLowerCase();
  const members = new Map(Object.entries(input.teamMembers).map(([team, logins]) => [team.toLowerCase(), new Set(logins.map((l) => l.toLowerCase()))]));
  const unknownTeams = teams.filter((team) => !members.has(team.toLowerCase()));

  const verdicts: ReviewerVerdict[] = [];
  for (const review of standingReviews(input.reviews)) {
    const login = review.user.toLowerCase();
    const inTeams = teams.filter((team) => members.get(team.toLowerCase())?.has(login));
    const v: ReviewerVerdict = { user: review.user, state: review.state, commitId: review.commitId, teams: inTeams, counted: false, blocks: false };
    if (excludeAuthor && login === author) v.reason = 'the author';
    else if (teams.length && !inTeams.length) v.reason = `not in ${teams.join(', ')}`;
    else if (review.state === 'CHANGES_REQUESTED') {
      v.blocks = true;
      v.reason = 'requested changes';
    }
    else if (review.state === 'COMMENTED') v.reason = 'commented without approving';
    else if (review.state === 'DISMISSED') v.reason = 'review dismissed';
    else if (required.dismissStale && review.commitId !== headSha) v.reason = `approved an earlier commit ${review.commitId.slice(0, 7)}`;
    else v.counted = true;
    verdicts.push(v);
  }

  const counted = verdicts.filter((v) => v.counted);
  const blocking = verdicts.filter((v) => v.blocks);
  const notCounted = verdicts.filter((v) => !v.counted && !v.blocks);
  const data = { required: required.count, teams, headSha, counted: counted.length, reviewers: verdicts, ...(unknownTeams.length ? { unknownTeams } : {}) };
  const who = (v: ReviewerVerdict) => (v.teams.length ? `${v.user} (${v.teams.join(', ')})` : v.user);
  const details = [
    ...counted.map((v) => `counted: ${who(v)}`),
    ...blocking.map((v) => `blocking: ${who(v)} requested changes`),
    ...notCounted.map((v) => `not counted: ${v.user} (${v.state.toLowerCase().replace('_', ' ')}; ${v.reason})`),
    ...unknownTeams.map((team) => `the members of ${team} are unknown; nobody qualified through it`),
  ];
  const tally = `${counted.length} of ${required.count} required approval${required.count === 1 ? '' : 's'}`;
  const names = counted.length ? ` (${counted.map(who).join(', ')})` : '';
  const skipped = notCounted.length ? `; not counted: ${notCounted.map((v) => `${v.user} (${v.reason})`).join(', ')}` : '';

  if (blocking.length) {
    const by = blocking.map(who).join(', ');
    return result('approvals', 'fail', `${by} requested changes; ${tally}${names}${skipped}`, { details, data });
  }
  if (counted.length >= required.count) return result('approvals', 'pass', `${tally}${names}${skipped}`, { details, data });
  // A team we could not list might have held the missing approvers: that is not a decision.
  const couldFlip = unknownTeams.length > 0 && verdicts.some((v) => v.state === 'APPROVED' && !v.teams.length && v.reason?.startsWith('not in '));
  return result('approvals', couldFlip ? 'error' : 'fail',
    `${tally}${names}${skipped}${couldFlip ? `; members of ${unknownTeams.join(', ')} unknown` : ''}`, { details, data });
}

/**
 * Each reviewer's standing review, as GitHub computes it: the latest APPROVED, CHANGES_REQUESTED
 * or DISMISSED review wins. A later COMMENTED review neither approves nor withdraws an approval
 * (GitHub keeps the approval), so it only stands when the user did nothing else. PENDING
 * reviews are unsubmitted drafts and do not exist for anyone but their author.
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

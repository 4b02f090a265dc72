// Approvals gate: counts the pull request's qualified approvals the way GitHub reads reviews,
// and says for every reviewer whether they counted and, if not, why.

import { approvalLapse, disqualified, standingApprovals, standingReviews, type ApprovalRequirement, type Review, type ReviewState } from '../model/approvals.js';
import { result, type GateResult } from './types.js';

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
  /** who pushed or committed the head commit: none of them may approve it */
  pushers?: string[];
  teamMembers: Record<string, string[]>;
  required: ApprovalRequirement;
}): GateResult {
  const { headSha, required } = input;
  const teams = required.teams ?? [];
  const barredWho = { author: input.author, ...(input.pushers ? { pushers: input.pushers } : {}), ...(required.excludeAuthor !== undefined ? { excludeAuthor: required.excludeAuthor } : {}) };
  // GitHub logins and team slugs are case-insensitive.
  const members = new Map(Object.entries(input.teamMembers).map(([team, logins]) => [team.toLowerCase(), new Set(logins.map((l) => l.toLowerCase()))]));
  const unknownTeams = teams.filter((team) => !members.has(team.toLowerCase()));

  // Which approvals still stand is the audit trail's rule too (model/approvals.ts): the signed
  // record names these approvers, so the gate counts nobody outside them.
  const rule = { headSha, ...(required.dismissStale !== undefined ? { dismissStale: required.dismissStale } : {}) };
  const stands = new Set(standingApprovals({ reviews: input.reviews, headSha, author: input.author, ...(input.pushers ? { pushers: input.pushers } : {}), required }));
  const verdicts: ReviewerVerdict[] = [];
  for (const review of standingReviews(input.reviews)) {
    const login = review.user.toLowerCase();
    const inTeams = teams.filter((team) => members.get(team.toLowerCase())?.has(login));
    const v: ReviewerVerdict = { user: review.user, state: review.state, commitId: review.commitId, teams: inTeams, counted: false, blocks: false };
    const barred = disqualified(review.user, barredWho);
    if (barred) v.reason = barred;
    else if (teams.length && !inTeams.length) v.reason = `not in ${teams.join(', ')}`;
    else {
      v.blocks = review.state === 'CHANGES_REQUESTED';
      v.counted = stands.has(review);
      if (!v.counted) v.reason = approvalLapse(review, rule) ?? 'no standing approval';
    }
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

// Who asked, who approved, what was tested: the change evidence of a commit on main, from the
// merge commit itself (github.ts asks GitHub instead, when a token is at hand): GitHub's "Merge pull request #N" subject or a squash "(#N)" suffix, and
// trailers a merge bot (or the demo) writes:
//   Pull-Request-Author: <login>
//   Approved-by: <login> <RFC 3339 time>        (one per approval)
//   Break-Glass: <reason>                       (an emergency change pushed without review;
//                                                 ignored on a commit that merged a pull request)
//   AB-Override: <reason>                       (an A/B ended without the test's verdict; on the
//                                                 merge commit or the merged branch's tip)

import { createHash } from 'node:crypto';
import type { CommitInfo } from '../adapters/git/audit.js';
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
  // A pull request's merge is reviewed: a Break-Glass line in its (squashed) message is text.
  const breakGlass = pr === undefined ? info.trailers['Break-Glass']?.[0] : undefined;
  const author = info.trailers['Pull-Request-Author']?.[0] ?? (sideTip ?? info).author;
  const approvers: Approval[] = (info.trailers['Approved-by'] ?? []).map(parseApproval).filter((a): a is Approval => !!a);
  const abOverride = (info.trailers['AB-Override']?.[0] ?? sideTip?.trailers['AB-Override']?.[0])?.trim();
  const title = pr !== undefined && info.body ? info.body.split('\n').find((l) => l.trim() && !/^[A-Za-z-]+: /.test(l))?.trim() : undefined;
  return {
    kind: breakGlass ? 'break-glass' : pr !== undefined ? 'pull-request' : 'direct',
    pr: pr !== undefined ? { number: pr, ...(title ? { title } : {}) } : null,
    author, mergedBy: info.committer, mergedAt: info.committedAt, approvers,
    emergency: !!breakGlass, ...(breakGlass ? { emergencyReason: breakGlass } : {}),
    ...(breakGlass && reviewMs ? { reviewBy: new Date(Date.parse(info.committedAt) + reviewMs).toISOString().replace('.000Z', 'Z') } : {}),
    source: 'git', ...(abOverride ? { abOverride } : {}),
  };
}

function parseApproval(text: string): Approval | undefined {
  const m = /^(\S+)\s+(\S+)$/.exec(text.trim());
  if (!m || Number.isNaN(Date.parse(m[2]!))) return undefined;
  return { login: m[1]!.replace(/^@/, ''), at: m[2]! };
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

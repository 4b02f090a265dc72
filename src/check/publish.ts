// Posts a check report to GitHub: one check run on the commit, one sticky comment on the pull
// request, each cut to GitHub's size limits.

import { UsageError } from '../errors.js';
import { renderMarkdown, commentMarker } from '../gates/report/render.js';
import { isBlocked, type Report } from '../gates/run.js';
import { checkRunTextLimit, commentLimit, connectionFromEnv, octokit, upsertCheckRun, upsertStickyComment } from '../adapters/github/client.js';
import type { CheckEvent } from '../adapters/github/event.js';

/** Posts the report; `log` hears what was created or updated. */
export async function publishReport(event: CheckEvent, report: Report, log: (line: string) => void): Promise<void> {
  const gh = octokit(githubConnection());
  const blocked = isBlocked(report);
  const conclusion = report.verdict === 'no-changes' ? 'neutral' : blocked ? 'failure' : 'success';
  const run = await upsertCheckRun(gh, event.repo, {
    name: 'modelship', headSha: event.checkSha, conclusion,
    output: { title: report.headline, summary: renderMarkdown(report, { limit: checkRunTextLimit }) },
  });
  log(`check run ${run.created ? 'created' : 'updated'} on ${event.checkSha.slice(0, 12)}: ${conclusion}`);
  if (event.pull && event.name !== 'merge_group') {
    const c = await upsertStickyComment(gh, event.repo, event.pull, commentMarker, renderMarkdown(report, { limit: commentLimit }));
    log(`report comment ${c.created ? 'posted' : 'updated'} on #${event.pull}`);
  }
}

/** The GitHub connection from the environment (GITHUB_TOKEN), or a usage error saying what is missing. */
export function githubConnection() {
  const c = connectionFromEnv();
  if (!c) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with checks: write, pull-requests: write)');
  return c;
}

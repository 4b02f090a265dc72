// Which deliveries start an evaluation, on GitHub's published example payloads: events.ts is pure.
import t from 'tap';
import { route } from '../../src/serve/events.js';
import { example, inRepository, type Target } from '../helpers/webhooks.js';

const target: Target = { owner: 'acmerisk', repo: 'model-releases', cloneUrl: '/srv/origin.git', installationId: 9000 };
const ours = 4242;
const head = 'c'.repeat(40);
const base = 'b'.repeat(40);
const pr = (n: number) => ({ number: n, id: n, url: '', head: { ref: 'x', sha: head, repo: {} }, base: { ref: 'main', sha: base, repo: {} } });

t.test('check_suite requested/rerequested: our suite with an open pull request is evaluated on its head', async (t) => {
  for (const action of ['requested', 'rerequested']) {
    const p = inRepository(example('check_suite', action), target);
    Object.assign(p.check_suite, { head_sha: head, pull_requests: [pr(7)] });
    p.check_suite.app.id = ours;
    const r = route('check_suite', p, ours, 'd1');
    t.match(r, { job: { key: 'acmerisk/model-releases#7', installationId: 9000, cloneUrl: '/srv/origin.git', refs: ['refs/pull/7/head'], event: { name: 'pull_request', pull: 7, headSha: head, checkSha: head } } }, action);
  }
  const p = inRepository(example('check_suite', 'requested'), target);
  p.check_suite.app.id = ours;
  t.same(route('check_suite', p, ours, 'd2'), { ignored: 'check_suite.requested on no open pull request' }, 'a push to a branch without a pull request');
  p.check_suite.app.id = 29310;
  p.check_suite.pull_requests = [pr(7)];
  t.same(route('check_suite', p, ours, 'd3'), { ignored: "check_suite.requested of another app's check suite" });
  t.same(route('check_suite', inRepository(example('check_suite', 'completed'), target), ours, 'd4'), { ignored: 'check_suite.completed' });
});

t.test('pull_request_review submitted and dismissed are evaluated; the synchronize sender is the pusher', async (t) => {
  for (const action of ['submitted', 'dismissed']) {
    const p = inRepository(example('pull_request_review', action), target);
    const r = route('pull_request_review', p, ours, 'd') as { job: { pusher?: string } };
    t.match(r, { job: { event: { name: 'pull_request_review', pull: p.pull_request.number } } }, action);
    t.equal(r.job.pusher, undefined, 'a reviewer is not a pusher');
  }
  const sync = inRepository(example('pull_request', 'synchronize'), target);
  sync.sender.login = 'mallory';
  t.match(route('pull_request', sync, ours, 'd'), { job: { pusher: 'mallory' } });
  const opened = inRepository(example('pull_request', 'opened'), target);
  t.notOk((route('pull_request', opened, ours, 'd') as { job: { pusher?: string } }).job.pusher, 'the author opening is not recorded as a pusher here');
});

t.test('merge_group checks_requested: the group\'s head and the queued pull request\'s head are fetched', async (t) => {
  const p = inRepository(example('merge_group', 'checks_requested'), target);
  Object.assign(p.merge_group, { head_sha: head, base_sha: base, head_ref: `refs/heads/gh-readonly-queue/main/pr-12-${base}` });
  t.match(route('merge_group', p, ours, 'd'), {
    job: { key: `acmerisk/model-releases@${head}`, refs: [`refs/heads/gh-readonly-queue/main/pr-12-${base}`, 'refs/pull/12/head'], event: { name: 'merge_group', pull: 12, baseSha: base, headSha: head, checkSha: head } },
  });
});

t.test('a delivery without an installation or repository starts nothing', async (t) => {
  const p = example('pull_request', 'opened');
  delete p.installation;
  t.same(route('pull_request', p, ours, 'd'), { ignored: 'pull_request.opened names no installation and repository' });
  t.same(route('ping', { zen: 'Keep it logically awesome.' }, ours, 'd'), { ignored: 'ping' });
});

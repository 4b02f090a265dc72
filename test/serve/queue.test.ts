// The work queue of serve: bounded concurrency, one job per key at a time, newest job wins.
import t from 'tap';
import { WorkQueue, type Job, type RunContext } from '../../src/serve/queue.js';

interface TestJob extends Job { head: string }
const job = (key: string, head: string): TestJob => ({ key, head, describe: `${key}@${head}` });

/** A runner whose jobs finish when the test says so; records what ran and whether it was outdated at the end. */
function gate() {
  const started: string[] = [];
  const finished: Array<{ job: string; outdated: boolean }> = [];
  const release = new Map<string, () => void>();
  const run = async (j: TestJob, c: RunContext) => {
    started.push(j.describe);
    await new Promise<void>((resolve) => release.set(j.describe, resolve));
    finished.push({ job: j.describe, outdated: c.outdated() });
  };
  const finish = async (describe: string) => {
    release.get(describe)!();
    await new Promise((r) => setImmediate(r));
  };
  return { started, finished, run, finish };
}

t.test('at most `concurrency` jobs run; a second job for a running key waits for it', async (t) => {
  const g = gate();
  const q = new WorkQueue<TestJob>(2, g.run, () => {});
  q.push(job('#1', 'a'));
  q.push(job('#2', 'a'));
  q.push(job('#3', 'a'));
  q.push(job('#1', 'b'));
  t.same(g.started, ['#1@a', '#2@a'], 'two at once');
  await g.finish('#2@a');
  t.same(g.started, ['#1@a', '#2@a', '#3@a'], '#1@b waits for #1@a, #3 goes ahead');
  await g.finish('#1@a');
  t.same(g.finished, [{ job: '#2@a', outdated: false }, { job: '#1@a', outdated: true }], '#1@a learns a newer head arrived');
  t.same(g.started.at(-1), '#1@b');
  await g.finish('#3@a');
  await g.finish('#1@b');
  await q.idle();
  t.same(q.stats, { queued: 4, replaced: 0, started: 4, finished: 4, outdated: 1, failed: 0 });
});

t.test('newest head wins: a waiting job is replaced by a newer one for the same key', async (t) => {
  const g = gate();
  const q = new WorkQueue<TestJob>(1, g.run, () => {});
  q.push(job('#1', 'a'));
  t.equal(q.push(job('#1', 'b')), 'queued');
  t.equal(q.push(job('#1', 'c')), 'replaced');
  await g.finish('#1@a');
  t.same(g.started, ['#1@a', '#1@c'], 'b never ran');
  await g.finish('#1@c');
  await q.idle();
  t.same(g.finished.map((f) => f.outdated), [true, false]);
});

t.test('a failing job is reported and the queue goes on', async (t) => {
  const errors: string[] = [];
  const q = new WorkQueue<TestJob>(1, async (j) => {
    if (j.head === 'bad') throw new Error('boom');
  }, (j, e) => errors.push(`${j.describe}: ${(e as Error).message}`));
  q.push(job('#1', 'bad'));
  q.push(job('#2', 'ok'));
  await q.idle();
  t.same(errors, ['#1@bad: boom']);
  t.equal(q.stats.finished, 2);
});

t.test('close: drops waiting jobs, waits for running ones up to the grace, then abandons them', async (t) => {
  const g = gate();
  const q = new WorkQueue<TestJob>(1, g.run, () => {});
  q.push(job('#1', 'a'));
  q.push(job('#2', 'a'));
  t.same(await q.close(50), { dropped: 1, abandoned: ['#1'] });
  t.equal(q.push(job('#3', 'a')), 'closed');
  await g.finish('#1@a');
  const h = gate();
  const q2 = new WorkQueue<TestJob>(1, h.run, () => {});
  q2.push(job('#1', 'a'));
  const closing = q2.close(5000);
  await h.finish('#1@a');
  t.same(await closing, { dropped: 0, abandoned: [] }, 'finished within the grace');
});

// How register bounds an upload's memory (src/adapters/s3/store.ts uploadPlan): the part size
// (grown for S3's 10,000-part limit) and the parts in flight, kept within 96 MiB of part buffers,
// with a note whenever that differs from what was asked.
import t from 'tap';
import { maxPartSizeMiB, uploadBufferBudget, uploadPlan } from '../../src/adapters/s3/store.js';

const MiB = 2 ** 20;
const GiB = 1024 * MiB;

t.test('the defaults fit in the budget as asked, without a note', async (t) => {
  t.same(uploadPlan(GiB, 16 * MiB, 4), { partSize: 16 * MiB, concurrency: 4, parts: 64, bufferBytes: 64 * MiB });
  t.same(uploadPlan(GiB, 8 * MiB, 12), { partSize: 8 * MiB, concurrency: 12, parts: 128, bufferBytes: 96 * MiB });
  t.equal(uploadBufferBudget, 96 * MiB);
  t.equal(maxPartSizeMiB, 96);
});

t.test('more parts in flight than fit are lowered, and the note says so', async (t) => {
  const c8 = uploadPlan(GiB, 16 * MiB, 8);
  t.same({ ...c8, notice: undefined }, { partSize: 16 * MiB, concurrency: 6, parts: 64, bufferBytes: 96 * MiB, notice: undefined });
  t.equal(c8.notice, 'uploading 6 parts of 16 MiB at a time, not 8: register holds the parts in flight in memory, at most 96 MiB');
  const p = uploadPlan(GiB, 64 * MiB, 4);
  t.same({ ...p, notice: undefined }, { partSize: 64 * MiB, concurrency: 1, parts: 16, bufferBytes: 64 * MiB, notice: undefined });
  t.equal(p.notice, 'uploading 1 part of 64 MiB at a time, not 4: register holds the parts in flight in memory, at most 96 MiB');
  const small = uploadPlan(GiB, 5 * MiB, 100);
  t.equal(small.concurrency, 19);
  t.ok(small.bufferBytes <= uploadBufferBudget);
  t.equal(small.notice, 'uploading 19 parts of 5 MiB at a time, not 100: register holds the parts in flight in memory, at most 96 MiB');
});

t.test('a concurrency above the number of parts needs no note', async (t) => {
  t.same(uploadPlan(40 * MiB, 16 * MiB, 8), { partSize: 16 * MiB, concurrency: 3, parts: 3, bufferBytes: 48 * MiB });
});

t.test('S3\'s minimum part size (5 MiB) and 10,000-part limit still hold', async (t) => {
  t.equal(uploadPlan(GiB, 1 * MiB, 4).partSize, 5 * MiB);
  const big = uploadPlan(500 * GiB, 16 * MiB, 4);
  t.equal(big.partSize, 52 * MiB, 'grown so 500 GiB fits in 10,000 parts');
  t.ok(big.parts <= 10_000);
  t.equal(big.concurrency, 1);
});

t.test('an artifact whose parts must be larger than the budget goes up one part at a time, and the note says what it holds', async (t) => {
  const p = uploadPlan(2 * 1024 * GiB, 16 * MiB, 4);
  t.equal(p.partSize, 210 * MiB);
  t.equal(p.concurrency, 1);
  t.equal(p.notice, 'the artifact needs parts of 210 MiB (S3 allows at most 10,000 parts), more than register\'s 96 MiB memory budget: uploading one part at a time, holding 210 MiB');
});

t.test('an artifact no larger than one part is one PutObject, held whole', async (t) => {
  t.same(uploadPlan(10 * MiB, 16 * MiB, 4), { partSize: 10 * MiB, concurrency: 1, parts: 1, bufferBytes: 10 * MiB });
  t.same(uploadPlan(0, 16 * MiB, 4), { partSize: 1, concurrency: 1, parts: 1, bufferBytes: 0 });
});

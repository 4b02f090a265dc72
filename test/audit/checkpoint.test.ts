// Audit checkpoints (src/audit/checkpoint.ts): RFC 6962 tree hashes against Certificate
// Transparency's reference vectors (RFC 6962 test data used by certificate-transparency-go and
// transparency-dev/merkle), and the tlog-checkpoint text.

import { createHash } from 'node:crypto';
import t from 'tap';
import { checkAgainst, checkpointText, extendRange, leafHash, merkleRoot, parseCheckpoint, rangeRoot, trailCheckpoint } from '../../src/audit/checkpoint.js';

const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => leafHash(Buffer.from(h, 'hex')));
const roots = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** RFC 6962's definition, recursively, for sizes the vectors do not reach. */
function mth(d: Buffer[]): Buffer {
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return createHash('sha256').update(Buffer.from([1])).update(mth(d.slice(0, k))).update(mth(d.slice(k))).digest();
}

t.test('tree hashes: the RFC 6962 reference roots for 0 to 8 leaves, and the definition up to 70', async (t) => {
  for (let n = 0; n <= 8; n++) t.equal(merkleRoot(leaves.slice(0, n)).toString('hex'), roots[n], `${n} leaves`);
  const many = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from([i, i * 7 & 255])));
  for (let n = 1; n <= many.length; n++) t.equal(merkleRoot(many.slice(0, n)).toString('hex'), mth(many.slice(0, n)).toString('hex'), `${n} leaves`);
});

t.test('checkpoint text: written and read back; malformed texts say what is wrong', async (t) => {
  const c = { origin: 'audit.acmerisk.example/production', size: 8, root: Buffer.from(roots[8]!, 'hex'), extensions: [] };
  const text = checkpointText(c);
  t.equal(text, 'audit.acmerisk.example/production\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n');
  t.same(parseCheckpoint(text), c);
  const cases: Array<[string, string]> = [
    ['a\n8\n', 'malformed checkpoint: 2 lines; a checkpoint has at least 3 (origin, size, root hash)'],
    ['a\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n', 'malformed checkpoint: size "08" is not a decimal number without leading zeroes'],
    ['a\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqt\n', 'malformed checkpoint: root hash "XcnaeacGWamtVZy3Ad7Zoqudgjqt" is not the base64 of 32 bytes'],
    ['a\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=', 'malformed checkpoint: the text does not end in a newline'],
    ['a\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n', 'malformed checkpoint: an empty extension line'],
    ['\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n', 'malformed checkpoint: empty origin'],
  ];
  for (const [bad, message] of cases) t.throws(() => parseCheckpoint(bad), { message }, JSON.stringify(bad));
  t.throws(() => checkpointText({ ...c, origin: 'has space' }), { message: 'invalid checkpoint origin "has space": non-empty, no spaces, no \'+\'' });
});

t.test('a trail against its checkpoint: grown is fine; a removed tail or a replaced record is named', async (t) => {
  const digest = (i: number) => createHash('sha256').update(`record ${i}`).digest('hex');
  const trail = Array.from({ length: 10 }, (_, i) => digest(i));
  const origin = 'audit.acmerisk.example/production';
  const at7 = trailCheckpoint(origin, trail.slice(0, 7));
  t.equal(at7.size, 7);
  t.same(checkAgainst(at7, origin, trail), [], 'three records more than the checkpoint');
  t.same(checkAgainst(at7, origin, trail.slice(0, 7)), [], 'exactly the checkpoint');
  t.same(checkAgainst(at7, origin, trail.slice(0, 5)), ['the trail holds 5 records, but a checkpoint signed it at 7: records 5 to 6 are gone (a tail removed)']);
  t.same(checkAgainst(at7, origin, trail.slice(0, 6)), ['the trail holds 6 records, but a checkpoint signed it at 7: record 6 is gone (a tail removed)']);
  const swapped = [...trail];
  swapped[3] = digest(99);
  t.same(checkAgainst(at7, origin, swapped), [`records 0 to 6 do not hash to the root the checkpoint signed (${at7.root.toString('base64')}): a record in them was replaced or rewritten`]);
  t.same(checkAgainst(at7, origin, [...trail.slice(0, 3), ...trail.slice(4)]), [`records 0 to 6 do not hash to the root the checkpoint signed (${at7.root.toString('base64')}): a record in them was replaced or rewritten`], 'one removed from the middle');
  t.same(checkAgainst(at7, 'audit.acmerisk.example/staging', trail), ['the checkpoint is for audit.acmerisk.example/production, not audit.acmerisk.example/staging']);
  t.same(parseCheckpoint(checkpointText(at7)), at7, 'its text reads back');
});

t.test('compact ranges: extended in any steps, they give the tree hash of all the leaves', async (t) => {
  const many = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from([i])));
  for (const cut of [0, 1, 2, 3, 7, 8, 13, 32, 39, 40]) {
    const range = extendRange(extendRange({ size: 0, nodes: [] }, many.slice(0, cut)), many.slice(cut));
    t.equal(rangeRoot(range).toString('hex'), mth(many).toString('hex'), `cut at ${cut}`);
  }
  t.equal(extendRange({ size: 0, nodes: [] }, many.slice(0, 13)).nodes.length, 3, '13 = 8 + 4 + 1: three subtrees');
  t.throws(() => rangeRoot({ size: 13, nodes: [many[0]!] }), { message: 'a compact range of size 13 has 3 nodes, not 1' });
});

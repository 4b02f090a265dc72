// Checkpoints of the trail (src/audit/checkpoints.ts): published after a mirror to a second
// store, compared by verify with where the auditor says they are. The attack they answer: the
// newest record deleted and main rewound to match, which verify alone calls OK.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { checkpointFindings, publishCheckpoint, type CheckpointPlace } from '../../src/audit/checkpoints.js';
import { verifyTrails } from '../../src/audit/flows.js';
import { noteSignerFor, signNote } from '../../src/audit/note.js';
import { auditSettings } from '../../src/audit/policy.js';
import { ed25519Signer } from '../../src/audit/sign.js';
import { DirectoryStore } from '../../src/audit/store.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { demoKey, scratchDir, standardTrail, type Trail } from './history.js';

const signer = ed25519Signer(readFileSync(demoKey.file, 'utf8'), demoKey.id);

async function stage(t: Test) {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const dir = scratchDir(t, 'checkpoints');
  const settings = await auditSettings(tr.h.repo.root, 'main', 'production');
  const place: CheckpointPlace = { store: new DirectoryStore(dir), prefix: settings.prefix };
  return { tr, dir, settings, place };
}

const recordPath = (tr: Trail, seq: number) => join(tr.storeDir, `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json`);
const unlock = (file: string) => execFileSync('chmod', ['u+w', file, join(file, '..')]);
/** verify as `audit verify --store DIR [--checkpoints DIR]` runs it */
async function verify(tr: Trail, checkpoints?: string) {
  const [v] = await verifyTrails({ root: tr.h.repo.root, rev: 'main', environments: ['production'], store: tr.storeDir, ...(checkpoints ? { checkpoints } : {}), cacheDir: join(tr.storeDir, '..', 'cache') }, () => undefined);
  return { ok: v!.result.ok, errors: v!.result.findings.filter((f) => f.severity === 'error').map((f) => f.message), checkpoint: v!.checkpoint };
}

t.test('published after a mirror, once per size; verify says the trail extends it', async (t) => {
  const { tr, dir, settings, place } = await stage(t);
  const first = await publishCheckpoint({ place, records: tr.store, settings, signer });
  t.same(first, { key: 'modelship/production/checkpoints/000000000004.note', size: 4, written: true });
  const note = readFileSync(join(dir, first.key), 'utf8');
  t.match(note, /^acme-audit\/modelship\/production\n4\n[A-Za-z0-9+/]{43}=\n\n— acme-audit\/modelship\/production [A-Za-z0-9+/]+={0,2}\n$/, 'a C2SP checkpoint, signed under its origin');
  t.same(await publishCheckpoint({ place, records: tr.store, settings, signer }), { ...first, written: false }, 'nothing new: nothing written');
  // mirror's role cannot list versions (deploy/aws/agent-policy.json): publishing never asks for them.
  const noVersions = (store: DirectoryStore): DirectoryStore => Object.assign(Object.create(store) as DirectoryStore, { objects: () => Promise.reject(new Error('ListObjectVersions: AccessDenied')) });
  t.same(await publishCheckpoint({ place: { ...place, store: noVersions(place.store as DirectoryStore) }, records: noVersions(tr.store), settings, signer }), { ...first, written: false });
  const v = await verify(tr, dir);
  t.same(v, { ok: true, errors: [], checkpoint: { store: dir, size: 4 } });
});

t.test('the newest record deleted and main rewound: verify alone says OK; against the checkpoint the tail is named', async (t) => {
  const { tr, dir, settings, place } = await stage(t);
  await publishCheckpoint({ place, records: tr.store, settings, signer });
  unlock(recordPath(tr, 3));
  unlinkSync(recordPath(tr, 3));
  tr.h.git('2026-11-20T00:00:00Z', 'reset', '-q', '--hard', tr.commits.promote);
  const bundle = join(tr.storeDir, `modelship/production/bundles/${tr.commits.chargeback}.bundle`);
  t.same((await verify(tr)).errors, [`bundle modelship/production/bundles/${tr.commits.chargeback}.bundle holds ${tr.commits.chargeback.slice(0, 12)}, which no record names and which is not on main's first-parent line: a record was removed and main rewound?`],
    'the record\'s bundle, left behind, gives it away');
  unlock(bundle);
  unlinkSync(bundle);
  t.same((await verify(tr)).errors, [], 'with its bundle gone too, the trail and main agree with each other');
  t.same((await verify(tr, dir)).errors, ['the trail holds 3 records, but a checkpoint signed it at 4: record 3 is gone (a tail removed)']);
  await t.rejects(publishCheckpoint({ place, records: tr.store, settings, signer }),
    { message: 'production: the trail holds 3 records from seq 0, but checkpoint modelship/production/checkpoints/000000000004.note signed it at 4: records were removed; no checkpoint written' },
    'and the next mirror will not sign over it');
});

t.test('a record replaced under its own name: the root no longer matches', async (t) => {
  const { tr, dir, settings, place } = await stage(t);
  await publishCheckpoint({ place, records: tr.store, settings, signer });
  const file = recordPath(tr, 1);
  unlock(file);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/"payload":"/, '"payload":" '));
  const c = await checkpointFindings(place, settings, (await verifyEnvironment({ root: tr.h.repo.root, rev: 'main', settings, store: tr.store })).digests);
  t.match(c.errors, [/^records 0 to 3 do not hash to the root the checkpoint signed \([A-Za-z0-9+/]{43}=\): a record in them was replaced or rewritten$/]);
});

t.test('a checkpoint not signed by a trusted key is no checkpoint; none at all is said', async (t) => {
  const { tr, dir, settings, place } = await stage(t);
  t.same((await verify(tr, dir)).errors, [`no checkpoint of acme-audit/modelship/production in ${dir}: nothing published vouches for the trail's newest records`]);
  // Someone with the checkpoint bucket but not the key writes a smaller one under a larger name.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const forger = noteSignerFor('acme-audit/modelship/production', ed25519Signer(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'forger'), publicKey);
  const forged = await signNote('acme-audit/modelship/production\n2\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n', [forger]);
  await place.store.writeOnce('modelship/production/checkpoints/000000000009.note', Buffer.from(forged), 'text/plain');
  t.same((await verify(tr, dir)).errors, ['checkpoint modelship/production/checkpoints/000000000009.note does not verify: note has no verifiable signatures']);
});

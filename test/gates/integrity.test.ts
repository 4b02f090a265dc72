// The integrity gate, pure: the manifest must be the one register wrote (its registration
// record), the artifact must be in the registry with S3's SHA-256 checksum matching the manifest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { integrityGate, type IntegrityInput } from '../../src/gates/integrity.js';
import type { VersionManifest } from '../../src/config/types.js';
import { manifestDigest, registrationKey } from '../../src/registry/record.js';
import { projectRoot } from '../helpers/cli.js';

const file = 'models/fraud-detector/versions/2026.11.13-1.yaml';
const bytes = readFileSync(join(projectRoot, file));
const manifest = parse(bytes.toString('utf8')) as VersionManifest;
const sha256 = manifestDigest(bytes);
const uri = registrationKey('s3://acme-model-registry', 'fraud-detector', '2026.11.13-1', sha256);
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const artifact = { size: manifest.artifact.size, sha256: manifest.artifact.sha256, checksum: b64(manifest.artifact.sha256), checksumType: 'FULL_OBJECT' };
const record = { size: bytes.length, sha256, checksum: b64(sha256), checksumType: 'FULL_OBJECT' };
const gate = (over: Partial<IntegrityInput> = {}) => integrityGate({
  manifest, stored: artifact, requireImageDigest: false, online: true,
  registration: { file, sha256, uri, exact: record, others: [] }, ...over,
});

t.test('the manifest register wrote, with its artifact checksummed by S3: pass', async (t) => {
  const r = gate();
  t.equal(r.status, 'pass');
  t.equal(r.summary, 'fraud-detector@2026.11.13-1: manifest registered by register, artifact present, size and S3 checksum match');
  t.ok(r.details?.includes(`${file}: registered by register (record ${uri})`));
});

t.test('a manifest with other bytes than register recorded for the version: not registered', async (t) => {
  const edited = manifestDigest(Buffer.concat([bytes, Buffer.from('# edited\n')]));
  const r = gate({ registration: { file, sha256: edited, uri: registrationKey('s3://acme-model-registry', 'fraud-detector', '2026.11.13-1', edited), exact: undefined, others: [uri.slice('s3://acme-model-registry/'.length)] } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'not registered: models/fraud-detector/versions/2026.11.13-1.yaml differs from what register wrote');
});

t.test('a record whose S3 checksum is not the manifest\'s digest: not registered', async (t) => {
  const r = gate({ registration: { file, sha256, uri, exact: { ...record, checksum: b64('00'.repeat(32)) }, others: [] } });
  t.equal(r.summary, 'not registered: models/fraud-detector/versions/2026.11.13-1.yaml differs from what register wrote');
});

t.test('no record at all: a distinct message naming where register would have written it', async (t) => {
  const r = gate({ registration: { file, sha256, uri, exact: undefined, others: [] } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `not registered: register wrote no record of ${file} (expected ${uri}); only manifests written by modelship register can be promoted`);
});

t.test('a record without a SHA-256 checksum fails', async (t) => {
  const r = gate({ registration: { file, sha256, uri, exact: { size: bytes.length }, others: [] } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `the registration record ${uri} has no SHA-256 checksum in the registry, so its digest is unverified`);
});

t.test('an artifact without its SHA-256 checksum now fails (it used to pass on size and recorded digest)', async (t) => {
  const r = gate({ stored: { size: manifest.artifact.size, sha256: manifest.artifact.sha256 } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `${manifest.artifact.uri} has no SHA-256 checksum in the registry, so S3 never verified its bytes; re-register it (register uploads with ChecksumAlgorithm=SHA256)`);
});

t.test('the registry could not be read: an error, never a pass', async (t) => {
  const r = gate({ registration: { error: 'AccessDenied (HTTP 403)' } });
  t.equal(r.status, 'error');
  t.equal(r.summary, `could not read the registration record of ${file}: AccessDenied (HTTP 403)`);
});

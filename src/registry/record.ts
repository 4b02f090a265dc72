// The registration record's address and digest: pure, shared by register (which writes it) and
// the checker's integrity gate (which looks for it).

import { createHash } from 'node:crypto';

/**
 * Where `register` records the manifest it wrote: <prefix>/<model>/manifests/<version>/<sha256>.yaml,
 * holding the manifest's exact bytes, whose SHA-256 (hex) is the key's last part. Content-
 * addressed (a record vouches for those bytes only; a re-run that writes a new manifest adds a
 * new record, never replaces one) and grouped per version (so a checker can tell "no record at
 * all" from "a record, of other bytes"). Only holders of registry write access can create it.
 */
export function registrationKey(registry: string, model: string, version: string, sha256?: string): string {
  return `${registry.replace(/\/+$/, '')}/${model}/manifests/${version}/${sha256 ? `${sha256}.yaml` : ''}`;
}

/** The digest a registration record carries: SHA-256 of the manifest file's exact bytes. */
export function manifestDigest(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}


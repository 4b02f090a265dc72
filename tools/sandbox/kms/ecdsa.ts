// ECDSA over NIST P-256 for a precomputed SHA-256 digest, in plain BigInt arithmetic. node:crypto
// signs messages, not digests, and KMS's MessageType DIGEST hands the signer only the digest;
// so the stand-in signs with this. Verification never uses it: the code under test verifies
// with node:crypto and the DER SPKI public key, which checks this code too. Not constant-time:
// stand-in use only.

import { randomBytes } from 'node:crypto';

const p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const a = p - 3n;
const G: Point = [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n, 1n];

/** Jacobian coordinates (X, Y, Z): x = X/Z², y = Y/Z³; Z = 0 is the point at infinity. */
type Point = [bigint, bigint, bigint];

const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;

function inverse(x: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(x, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function double([X, Y, Z]: Point): Point {
  if (Y === 0n || Z === 0n) return [0n, 1n, 0n];
  const YY = mod(Y * Y, p);
  const S = mod(4n * X * YY, p);
  const ZZ = mod(Z * Z, p);
  const M = mod(3n * X * X + a * ZZ * ZZ, p);
  const X3 = mod(M * M - 2n * S, p);
  return [X3, mod(M * (S - X3) - 8n * YY * YY, p), mod(2n * Y * Z, p)];
}

function add(P: Point, Q: Point): Point {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const Z1Z1 = mod(P[2] * P[2], p);
  const Z2Z2 = mod(Q[2] * Q[2], p);
  const U1 = mod(P[0] * Z2Z2, p);
  const U2 = mod(Q[0] * Z1Z1, p);
  const S1 = mod(P[1] * Q[2] * Z2Z2, p);
  const S2 = mod(Q[1] * P[2] * Z1Z1, p);
  if (U1 === U2) return S1 === S2 ? double(P) : [0n, 1n, 0n];
  const H = mod(U2 - U1, p);
  const R = mod(S2 - S1, p);
  const HH = mod(H * H, p);
  const HHH = mod(H * HH, p);
  const X3 = mod(R * R - HHH - 2n * U1 * HH, p);
  return [X3, mod(R * (U1 * HH - X3) - S1 * HHH, p), mod(H * P[2] * Q[2], p)];
}

function multiply(k: bigint, P: Point): Point {
  let R: Point = [0n, 1n, 0n];
  for (let i = BigInt(k.toString(2).length - 1); i >= 0n; i--) {
    R = double(R);
    if ((k >> i) & 1n) R = add(R, P);
  }
  return R;
}

function affineX([X, , Z]: Point): bigint {
  const zi = inverse(Z, p);
  return mod(X * zi * zi, p);
}

const toBig = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);

/** Signs a 32-byte digest with private scalar `d`; returns the DER SEQUENCE { r INTEGER, s INTEGER } KMS returns. */
export function signDigest(d: Buffer, digest: Buffer): Buffer {
  const e = toBig(digest);
  const priv = toBig(d);
  for (;;) {
    const k = mod(toBig(randomBytes(40)), n - 1n) + 1n;
    const r = mod(affineX(multiply(k, G)), n);
    if (r === 0n) continue;
    const s = mod(inverse(k, n) * (e + r * priv), n);
    if (s === 0n) continue;
    return derSignature(r, s);
  }
}

function derInteger(x: bigint): Buffer {
  let hex = x.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

function derSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

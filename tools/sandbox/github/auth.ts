// Who a request to the GitHub stand-in acts as, decided from its Authorization header the way
// GitHub does for GitHub Apps (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app):
// a JWT signed RS256 with the app's private key, `iss` the app id, `iat` not in the future,
// `exp` in the future and at most 10 minutes ahead, authenticates the app itself; an
// installation access token (POST /app/installations/{id}/access_tokens) acts as the app's bot
// `<slug>[bot]` until it expires (one hour); a personal access token (`userTokens`) acts as its
// user, with no app. The JWT messages are GitHub's, as
// @octokit/auth-app matches them to correct clock skew (node_modules/@octokit/auth-app,
// src/hook.ts isNotTimeSkewError); a token GitHub cannot verify gets "A JSON web token could
// not be decoded".

import { createVerify } from 'node:crypto';
import { githubActionsApp, type Actor, type AppRecord, type GitHubState } from './state.js';

const undecodable = 'A JSON web token could not be decoded';

/** The actor, or why GitHub answers 401. */
export function authenticate(s: GitHubState, token: string | undefined, authorization: string | undefined): Actor | { refused: string } {
  const credential = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  const tokenActor: Actor = { login: s.login, app: githubActionsApp };
  if (credential && s.apps.size && credential.split('.').length === 3) {
    const app = verifyJwt(s, credential);
    if (typeof app === 'string') return { refused: app };
    return { login: `${app.slug}[bot]`, app: { id: app.id, slug: app.slug, name: app.name }, jwt: app };
  }
  // A personal access token acts as its user, through no app.
  const person = credential ? s.userTokens.get(credential) : undefined;
  if (person) return { login: person };
  const installation = credential ? s.installationTokens.get(credential) : undefined;
  if (installation) {
    if (installation.expiresAt <= s.nowMs()) return { refused: 'Bad credentials' };
    const app = s.apps.get(installation.appId)!;
    return { login: `${app.slug}[bot]`, app: { id: app.id, slug: app.slug, name: app.name } };
  }
  if (token === undefined && s.apps.size === 0) return tokenActor; // an open stand-in: anyone is `login`
  if (token !== undefined && credential === token) return tokenActor;
  return { refused: authorization ? 'Bad credentials' : 'Requires authentication' };
}

function verifyJwt(s: GitHubState, jwt: string): AppRecord | string {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  let h: { alg?: string };
  let p: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undecodable;
  }
  const app = s.apps.get(Number(p.iss));
  if (h.alg !== 'RS256' || !app) return undecodable;
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${header}.${payload}`);
  if (!verifier.verify(app.publicKey, Buffer.from(signature, 'base64url'))) return undecodable;
  const now = Math.floor(s.nowMs() / 1000);
  if (!Number.isInteger(p.iat) || (p.iat as number) > now) return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
  if (typeof p.exp !== 'number' || p.exp <= now) return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
  if (p.exp > now + 600) return "'Expiration time' claim ('exp') is too far in the future";
  return app;
}

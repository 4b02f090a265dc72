// The GitHub stand-in for tools/image/build-and-test.sh: one App (id 4242) whose public key is
// the key file given as the argument, so `modelship serve` in the image can authenticate as it
// (GET /app). Prints the stand-in's URL on stdout and runs until killed.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startGitHub } from '../sandbox/github/server.js';

const keyFile = process.argv[2];
if (!keyFile) throw new Error('usage: github-stand-in.ts <app private key file>');
const publicKey = createPublicKey(readFileSync(keyFile, 'utf8')).export({ type: 'spki', format: 'pem' }).toString();
const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', apps: [{ id: 4242, slug: 'modelship', publicKey }] });
process.stdout.write(`${gh.url}\n`);
process.on('SIGTERM', () => void gh.stop().then(() => process.exit(0)));

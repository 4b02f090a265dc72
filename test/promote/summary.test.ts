// What a promotion says about itself: commit message with trailers, pull request title and body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { Policy, VersionManifest } from '../../src/config/types.js';
import { commitMessage, promotionBody, promotionTitle, type PromotionSummaryInput } from '../../src/promote/summary.js';
import { projectRoot } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';

const load = <T>(f: string) => parse(readFileSync(join(projectRoot, f), 'utf8')) as T;
const live = load<VersionManifest>('models/fraud-detector/versions/2026.11.06-1.yaml');
const candidate = load<VersionManifest>('models/fraud-detector/versions/2026.11.13-1.yaml');
const policy = load<Policy>('policies/production.yaml');

const input: PromotionSummaryInput = {
  environment: 'production', model: 'fraud-detector', version: '2026.11.13-1', kind: 'promote',
  from: { version: '2026.11.06-1' }, to: { version: '2026.11.13-1' }, candidate, live,
  bounds: policy.gates.performance!.metrics!, reason: 'weekly retrain; staging soak complete',
};

t.test('commit message: what, provenance, deltas, and trailers rollback can read back', async (t) => {
  const msg = commitMessage(input);
  golden(t, 'promotion-commit.txt', msg);
  t.match(msg, /^promote\(production\): fraud-detector 2026\.11\.06-1 → 2026\.11\.13-1\n\n/);
  t.match(msg, /\nModelship-Environment: production\nModelship-Model: fraud-detector\nModelship-Version: 2026\.11\.13-1\nModelship-Change: promote\nModelship-Previous-Version: 2026\.11\.06-1\n$/);
  t.match(msg, /Against 2026\.11\.06-1: auc 0\.939 \(\+0\.002\)/);
});

t.test('pull request body: the change, the candidate, metrics against the live version', async (t) => {
  const body = promotionBody(input);
  golden(t, 'promotion-body.md', body);
  t.match(body, /\| stable \| 2026\.11\.06-1 \| \*\*2026\.11\.13-1\*\* \|/);
  t.match(body, /\| auc \| 0\.937 \| 0\.939 \| \+0\.002 better \|/);
  t.match(body, /\| logloss \| 0\.263 \| 0\.261 \| −0\.002 better \|/, 'lower is better for logloss, from the policy');
  t.match(body, /\| region=eu: auc \| 0\.926 \| 0\.928 \| \+0\.002 better \|/, 'slices use the metric\'s direction');
  t.match(body, /\| recall_at_1pct_fpr \| 0\.697 \| 0\.699 \| \+0\.002 \|/, 'no verdict for a metric the policy does not bound');
  t.match(body, /<!-- modelship:promotion \{"environment":"production","model":"fraud-detector","version":"2026\.11\.13-1","change":"promote"\} -->/);
});

t.test('titles for every kind of change', async (t) => {
  const canary = { version: '2026.11.13-1', traffic: 5 };
  t.equal(promotionTitle({ ...input, kind: 'canary-start', to: { version: '2026.11.06-1', canary } }), 'canary(production): fraud-detector 2026.11.13-1 at 5% beside 2026.11.06-1');
  t.equal(promotionTitle({ ...input, kind: 'canary-step', from: { version: '2026.11.06-1', canary }, to: { version: '2026.11.06-1', canary: { ...canary, traffic: 25 } } }),
    'canary(production): fraud-detector 2026.11.13-1 5% → 25%');
  t.equal(promotionTitle({ ...input, kind: 'canary-abort', version: '2026.11.06-1', from: { version: '2026.11.06-1', canary }, to: { version: '2026.11.06-1' } }),
    'canary(production): abort fraud-detector 2026.11.13-1, keep 2026.11.06-1');
  t.equal(promotionTitle({ ...input, kind: 'new-model', from: {} }), 'promote(production): fraud-detector 2026.11.13-1 (new in production)');
});

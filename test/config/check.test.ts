// Cross-file rules: each has a case that breaks it, and the message says where and what.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatProblem } from '../../src/errors.js';
import { workingTree } from '../../src/config/snapshot.js';
import { validateSnapshot } from '../../src/config/state.js';
import { projectRoot } from '../helpers/cli.js';

type Edit = (dir: string) => void;
const edit = (file: string, from: string | RegExp, to: string): Edit => (dir) => {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`test setup: ${String(from)} not found in ${file}`);
  writeFileSync(path, next);
};

const cases: Array<[string, Edit[], RegExp[]]> = [
  ['a pin to a version that is not registered', [edit('environments/production.yaml', 'version: 2026.11.06-1', 'version: 2026.11.30-1')],
    [/^environments\/production\.yaml:25:14  models\.fraud-detector\.version  version "2026\.11\.30-1" of fraud-detector is not registered; expected a registered version of fraud-detector \(2026\.10\.30-1, 2026\.11\.06-1, 2026\.11\.13-1\), found "2026\.11\.30-1"$/]],
  ['a canary equal to the stable version', [edit('environments/production.yaml', '    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n', '    version: 2026.11.06-1\n    canary: { version: 2026.11.06-1, traffic: 10 }\n')],
    [/production\.yaml:26:\d+  models\.fraud-detector\.canary\.version  the canary version must differ from the stable version; expected a version other than "2026\.11\.06-1"/]],
  ['canary traffic above 50%', [edit('environments/production.yaml', '    version: 2026.11.06-1   # promoted 2026-11-10 after 96h in staging\n', '    version: 2026.11.06-1\n    canary: { version: 2026.11.13-1, traffic: 60 }\n')],
    [/production\.yaml:26:\d+  models\.fraud-detector\.canary\.traffic  expected a number <= 50, found the number 60/]],
  ['a shadow in serverless mode', [edit('environments/staging.yaml', '    version: 2026.11.13-1\n', '    version: 2026.11.13-1\n    shadow: { version: 2026.11.06-1 }\n')],
    [/staging\.yaml:17:\d+  models\.fraud-detector\.shadow  shadow traffic needs kubernetes\.mode raw/]],
  ['a canary of a model served only in batch', [edit('environments/staging.yaml', '    version: 2026.11.01-1\n', '    version: 2026.11.01-1\n    canary: { version: 2026.10.15-1, traffic: 5 }\n')],
    [/staging\.yaml:\d+:\d+  models\.chargeback-risk\.canary  a canary splits online traffic, but chargeback-risk is not served online here/]],
  ['online serving for a model without an online spec', [edit('environments/staging.yaml', '    version: 2026.11.01-1\n', '    version: 2026.11.01-1\n    online: { replicas: { min: 1, max: 2 } }\n')],
    [/staging\.yaml:\d+:\d+  models\.chargeback-risk\.online  chargeback-risk declares no online serving in its model\.yaml/]],
  ['a model pinned with neither online nor batch', [edit('environments/staging.yaml', /    batch:\n      schedule: \{ cron: "0 4 \* \* \*", timezone: UTC \}\n/, '')],
    [/staging\.yaml:\d+:3  models\.chargeback-risk  chargeback-risk is pinned here but neither online nor batch serving is enabled/]],
  ['min replicas above max', [edit('environments/staging.yaml', 'replicas: { min: 1, max: 3 }', 'replicas: { min: 5, max: 3 }')],
    [/staging\.yaml:\d+:\d+  models\.fraud-detector\.online\.replicas  replicas\.min \(5\) is greater than replicas\.max \(3\)/]],
  ['a four-field cron and an unknown time zone', [edit('environments/staging.yaml', 'schedule: { cron: "0 4 * * *", timezone: UTC }', 'schedule: { cron: "0 4 * *", timezone: Mars/Olympus }')],
    [/cron  a cron expression has five fields \(minute hour day-of-month month day-of-week\); found 4/, /timezone  unknown time zone; expected an IANA time zone such as UTC or Europe\/Berlin, found "Mars\/Olympus"/]],
  ['raw mode scaled on concurrency, which only Knative knows', [edit('environments/production.yaml', 'scaleMetric: cpu ', 'scaleMetric: concurrency ')],
    [/environments\/production\.yaml:28:20  models\.fraud-detector\.online\.scaleMetric  raw mode cannot scale on concurrency: a HorizontalPodAutoscaler knows cpu and memory only; expected cpu or memory, found concurrency/]],
  ['raw mode without a gateway', [edit('environments/production.yaml', '  gateway: { name: ml-gateway, namespace: gateway-system }\n', '')],
    [/production\.yaml:\d+:\d+  kubernetes  raw mode routes traffic through a Gateway API HTTPRoute; name the Gateway under kubernetes\.gateway/]],
  ['an environment without a policy', [(dir) => rmSync(join(dir, 'policies/staging.yaml')), edit('policies/production.yaml', 'promotion:\n  from: staging\n  soak: 48h\n', '')],
    [/^environments\/staging\.yaml  environment "staging" has no policy; expected policies\/staging\.yaml, found no such file$/]],
  ['a policy whose promotion path names a missing environment', [edit('policies/production.yaml', 'from: staging', 'from: qa')],
    [/policies\/production\.yaml:7:9  promotion\.from  environment "qa" does not exist; expected one of staging, production|policies\/production\.yaml:7:9  promotion\.from  environment "qa" does not exist/]],
  ['a promotion loop', [edit('policies/staging.yaml', 'environment: staging\n', 'environment: staging\npromotion: { from: production }\n')],
    [/promotion\.from  the promotion path loops back to "staging"/, /promotion\.from  the promotion path loops back to "production"/]],
  ['staging retargeted at production\'s namespace and database', [edit('environments/staging.yaml', 'cluster: acme-eks-staging\n  namespace: ml-staging', 'cluster: acme-eks-prod\n  namespace: ml-serving'), edit('environments/staging.yaml', 'database: ML_STAGING', 'database: ml_prod')],
    [/^environments\/staging\.yaml:7:14  kubernetes\.namespace  environments "production" and "staging" share Kubernetes cluster acme-eks-prod, namespace ml-serving \(environments\/production\.yaml:8:14 and here\); each environment needs its own namespace; expected a \(cluster, namespace\) no other environment uses, found acme-eks-prod\/ml-serving, as in environments\/production\.yaml:8:14$/,
      /^environments\/staging\.yaml:10:13  snowflake\.database  environments "production" and "staging" share Snowflake database ml_prod, schema SCORING \(environments\/production\.yaml:13:13 and here\); each environment needs its own schema; expected an \(account, database, schema\) no other environment uses, found ml_prod\.SCORING, as in environments\/production\.yaml:13:13$/]],
  ['a model name that differs from its folder', [edit('models/chargeback-risk/model.yaml', 'name: chargeback-risk', 'name: chargeback')],
    [/^models\/chargeback-risk\/model\.yaml:\d+:7  name  name must equal the folder name "chargeback-risk"; expected "chargeback-risk", found "chargeback"$/]],
  ['a version file whose version differs from its name', [(dir) => renameSync(join(dir, 'models/chargeback-risk/versions/2026.10.15-1.yaml'), join(dir, 'models/chargeback-risk/versions/2026.10.16-1.yaml')),
    edit('environments/production.yaml', 'version: 2026.10.15-1', 'version: 2026.10.16-1')],
  [/^models\/chargeback-risk\/versions\/2026\.10\.16-1\.yaml:5:10  version  version must equal the file name "2026\.10\.16-1"/]],
  ['an artifact outside its content address', [edit('models/chargeback-risk/versions/2026.11.01-1.yaml', /uri: s3:\/\/acme-model-registry\/chargeback-risk\/[0-9a-f]{64}\/model\.txt/, 'uri: s3://elsewhere/model.txt')],
    [/artifact\.uri  the artifact must live at its content address in the model's registry; expected s3:\/\/acme-model-registry\/chargeback-risk\/[0-9a-f]{64}\/<file>, found "s3:\/\/elsewhere\/model\.txt"/]],
  ['a version of an online model without an image', [edit('models/fraud-detector/versions/2026.10.30-1.yaml', /^image: .*\n/m, '')],
    [/^models\/fraud-detector\/versions\/2026\.10\.30-1\.yaml:\d+:\d+  fraud-detector is served online, so the version must pin its model-server image by digest/]],
  ['a histogram with the wrong number of edges', [edit('models/chargeback-risk/versions/2026.11.01-1.yaml', /edges: \[0, 90, 365, 1095, 3650, 20000\]/, 'edges: [0, 90, 365, 1095, 3650]')],
    [/histograms\.customer_tenure_days\.edges  a numeric histogram needs one more edge than counts; expected 5 edges for 5 counts, found 5 edges|histograms\.customer_tenure_days\.edges  a numeric histogram needs one more edge than counts; expected 6 edges for 5 counts, found 5 edges/]],
  ['versions of a model without a model card', [(dir) => {
    mkdirSync(join(dir, 'models/card-testing/versions'), { recursive: true });
    cpSync(join(dir, 'models/chargeback-risk/versions/2026.11.01-1.yaml'), join(dir, 'models/card-testing/versions/2026.11.01-1.yaml'));
  }], [/^models\/card-testing\/versions\/2026\.11\.01-1\.yaml  versions of "card-testing" exist but models\/card-testing\/model\.yaml does not/,
    /^models\/card-testing\/versions\/2026\.11\.01-1\.yaml:4:8  model  model must equal the folder name "card-testing"/]],
  ['a folder name that cannot be a model name', [(dir) => {
    mkdirSync(join(dir, 'models/Fraud_Detector/versions'), { recursive: true });
    cpSync(join(dir, 'models/chargeback-risk/versions/2026.11.01-1.yaml'), join(dir, 'models/Fraud_Detector/versions/2026.11.01-1.yaml'));
  }], [/^models\/Fraud_Detector  folder name "Fraud_Detector" is not a valid model name/,
    /^models\/Fraud_Detector\/versions\/2026\.11\.01-1\.yaml:4:8  model  model must equal the folder name "Fraud_Detector"/]],
  ['a freeze window that ends before it starts', [edit('policies/production.yaml', 'to: 2026-12-01T08:00:00Z', 'to: 2026-11-20T08:00:00Z')],
    [/freeze\[0\]\.to  freeze window "black-friday" ends before it starts/]],
  ['a metric bound with only a direction', [edit('policies/staging.yaml', 'logloss: { direction: lower, maxRegression: 0.02 }', 'logloss: { direction: lower }')],
    [/gates\.performance\.metrics\.logloss  a metric bound needs min, max or maxRegression/]],
  ['a feature listed twice in the contract', [edit('models/chargeback-risk/model.yaml', '  - name: is_cross_border\n', '  - name: txn_amount\n')],
    [/^models\/chargeback-risk\/model\.yaml:\d+:11  features\[3\]\.name  feature "txn_amount" is listed twice \(first as features\[0\]\)/]],
];

for (const [name, edits, expected] of cases) {
  t.test(name, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-check-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(dir, d), { recursive: true });
    for (const e of edits) e(dir);
    const r = await validateSnapshot(workingTree(dir));
    const lines = r.problems.filter((p) => p.severity === 'error').map(formatProblem);
    t.equal(r.ok, false, 'the repository is invalid');
    t.equal(lines.length, expected.length, `exactly the expected problems:\n${lines.join('\n')}`);
    for (const re of expected) t.ok(lines.some((l) => re.test(l)), `${re}\n  in:\n${lines.join('\n')}`);
  });
}



// TypeScript shapes of the repository files, matching src/config/schemas/*.json.
// Data only reaches these types after it has passed its schema.

import type { Pin } from '../model/pins.js';

export type FeatureType = 'boolean' | 'integer' | 'long' | 'float' | 'double' | 'string' | 'binary' | 'datetime';
export type Metrics = Record<string, number>;

export interface SliceMetrics {
  name: string;
  rows?: number;
  metrics: Metrics;
}

export interface Evaluation {
  overall: Metrics;
  slices?: SliceMetrics[];
}

export interface Column {
  name: string;
  type: FeatureType;
  required?: boolean;
}

export type Histogram =
  | { kind: 'numeric'; edges: number[]; counts: number[]; nulls?: number }
  | { kind: 'categorical'; counts: Record<string, number>; other?: number; nulls?: number };

export interface Lineage {
  codeRepo: string;
  codeCommit: string;
  trainingData: { uri: string; snapshot: string; rows?: number; sha256?: string };
  dbt?: { manifestSha256: string; generatedAt?: string; models: Record<string, { checksum: string; contractChecksum?: string }> };
  hyperparameters: Record<string, number | string | boolean>;
  seed: number;
  pipelineRunId: string;
  pipelineRunUrl?: string;
}

export interface FeatureSpec {
  name: string;
  type: FeatureType;
  nullable: boolean;
  description?: string;
  range?: { min?: number; max?: number };
  categories?: string[];
  source: { dbtModel: string; column: string };
}

export interface ModelCard {
  name: string;
  description: string;
  owner: string;
  reviewers: string[];
  riskTier: 'low' | 'medium' | 'high';
  task: string;
  framework?: string;
  registry: string;
  documentation?: string;
  features: FeatureSpec[];
  output: Array<{ name: string; type: FeatureType; description?: string; range?: { min?: number; max?: number } }>;
  serving: {
    online?: {
      modelFormat: { name: string; version?: string };
      runtime?: string;
      protocolVersion?: 'v1' | 'v2';
      image: string;
      resources: { requests: Record<string, string>; limits?: Record<string, string> };
      timeoutSeconds?: number;
    };
    batch?: { procedure: string; source: string; target: string };
  };
}

export interface VersionManifest {
  model: string;
  version: string;
  description?: string;
  registeredAt: string;
  registeredBy?: string;
  sourceRun?: string;
  artifact: { uri: string; sha256: string; size: number; storeChecksum?: string };
  image?: string;
  lineage: Lineage;
  inputSchema: Column[];
  outputSchema: Column[];
  metrics: Evaluation;
  histograms?: Record<string, Histogram>;
  scoreHistogram?: Histogram;
  validationReport: { uri: string; sha256: string };
}

/** A model's entry in environments/<env>.yaml: its pin and how it is served. */
export interface Deployment extends Pin {
  online?: { replicas: { min: number; max: number }; scaleMetric?: string; scaleTarget?: number };
  batch?: { schedule: { cron?: string; timezone?: string; every?: string }; warehouse?: string };
  reason?: string;
}

export interface Environment {
  name: string;
  description?: string;
  kubernetes?: {
    cluster: string;
    namespace: string;
    mode: 'serverless' | 'raw';
    gateway?: { name: string; namespace: string };
    hostname?: string;
  };
  snowflake?: { account?: string; database: string; schema: string; warehouse: string; role?: string };
  /** where KServe's logger posts predictions while a shadow or canary runs, and the table the platform lands them in */
  inferenceLog?: InferenceLogConfig;
  models: Record<string, Deployment>;
}

/** environments/<env>.yaml `inferenceLog` (README, "Prediction logs"). */
export interface InferenceLogConfig {
  /** the URL KServe's logger posts CloudEvents to */
  sink: string;
  /** DATABASE.SCHEMA.TABLE the platform lands them in */
  table: string;
}

export type GateMode = 'block' | 'warn' | 'off';
export interface MetricBound {
  direction: 'higher' | 'lower';
  min?: number;
  max?: number;
  maxRegression?: number;
}

export interface Policy {
  environment: string;
  description?: string;
  policyOwners: string[];
  promotion?: { from?: string; soak?: string };
  approvals: { count: number; teams?: string[]; excludeAuthor?: boolean; dismissStale?: boolean };
  gates: {
    schema?: { mode?: GateMode };
    integrity?: { mode?: GateMode; requireImageDigest?: boolean };
    features?: { mode?: GateMode; manifest?: string; onDefinitionChange?: 'block' | 'warn' };
    performance?: { mode?: GateMode; metrics?: Record<string, MetricBound>; slices?: { metrics?: Record<string, MetricBound>; minRows?: number } };
    drift?: {
      mode?: GateMode; window?: string; every?: string;
      psi?: { warn?: number; fail?: number }; nullRateDelta?: { warn?: number; fail?: number }; categoricalLinf?: { warn?: number; fail?: number };
    };
    shadow?: ShadowPolicy;
  };
  canary?: {
    minDuration?: string; minTraffic?: number; interval?: string; failureThreshold?: number;
    autoRollback?: 'off' | 'pr' | 'direct';
    /** sample ratio mismatch: chi-square of the logged requests per version against the split */
    sampleRatio?: { minPValue: number; minRequests?: number };
    checks: Array<{ name: string; source: 'prometheus' | 'warehouse'; query: string; min?: number; max?: number; minRequests?: number }>;
  };
  /** how an A/B test (a canary with `ab: true`) is designed and concluded (README, "A/B tests") */
  ab?: AbPolicy;
  freeze?: Array<{ name: string; reason: string; from?: string; to?: string; cron?: string; duration?: string; timezone?: string; blockRollbacks?: boolean }>;
  rollback?: {
    fastLane?: { approvals?: number; skip?: string[] };
    breakGlass?: { allowed: boolean; teams?: string[]; reviewWithin?: string };
  };
  audit?: AuditPolicy;
}

/** policies/<env>.yaml `ab`: the north-star metric and the test's design. */
export interface AbPolicy {
  metric: {
    name: string;
    kind: 'proportion' | 'mean';
    direction: 'increase' | 'decrease';
    /** DATABASE.SCHEMA.TABLE of per-request outcomes (REQUEST_ID + column) */
    outcomes: string;
    column: string;
    /** DATABASE.SCHEMA.TABLE of the prediction log (REQUEST_ID, MODEL_NAME, MODEL_VERSION, REQUESTED_AT) */
    log: string;
  };
  baseline: { mean: number; sd?: number };
  mde: { relative: number; absolute?: never } | { absolute: number; relative?: never };
  alpha?: number;
  power?: number;
  minDuration?: string;
  minSamples?: number;
}

/** policies/<env>.yaml `gates.shadow`: bounds on what a shadow answered beside the champion. */
export interface ShadowPolicy {
  mode?: GateMode;
  window?: string;
  minRequests: number;
  coverage?: { min: number };
  errorRate?: { maxIncrease: number };
  latency?: { p50MaxRatio?: number; p99MaxRatio?: number };
  psi?: { warn?: number; fail?: number };
  agreement?: { threshold: number; min: number };
  slices?: Array<{ name: string; column: string; value: string; minRequests?: number; minAgreement?: number }>;
}

/** policies/repository.yaml: who approves what is not a release change (repository.schema.json). */
export interface RepositoryPolicy {
  releaseBranch: string;
  description?: string;
  code: { rules?: Array<{ paths: string[]; owners: string[]; count?: number }>; default: Approvers };
  policies: Approvers;
  environments: Approvers;
}

export interface Approvers { owners: string[]; count?: number }

/** policies/<env>.yaml `audit`: the environment's audit trail. */
export interface AuditPolicy {
  store: string;
  /** where checkpoints are published (a second bucket) */
  checkpoints?: string;
  retentionDays: number;
  clockSkew?: string;
  keys: Array<{ id: string; algorithm: 'ecdsa-p256-sha256' | 'ed25519'; publicKey: string; validFrom: string; validUntil?: string; description?: string }>;
}

/** metadata.json of a training run. */
export interface RunMetadata {
  model: string;
  version?: string;
  description?: string;
  createdAt: string;
  artifact: { file: string; sha256: string; size: number };
  image?: string;
  lineage: Lineage;
  inputSchema: Column[];
  outputSchema: Column[];
  histograms?: Record<string, Histogram>;
  scoreHistogram?: Histogram;
}

/** validation-report.json of a training run. */
export interface ValidationReport {
  model: string;
  generatedAt: string;
  dataset: { uri: string; snapshot?: string; rows: number };
  metrics: Evaluation;
  checks?: Array<{ name: string; status: 'passed' | 'warned' | 'failed'; detail?: string }>;
}

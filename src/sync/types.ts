// The sync agent's data: what main says should run (desired), what runs (live), and the plan
// between them. Renderers produce desired objects from the repository; targets read live ones;
// plan.ts diffs them; apply.ts is the only place that writes. All plain data.

/** Labels and annotations every managed Kubernetes object carries. */
export const labels = {
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'modelship.io/environment',
  model: 'modelship.io/model',
} as const;
export const annotations = {
  specHash: 'modelship.io/spec-hash',
  commit: 'modelship.io/commit',
  version: 'modelship.io/version',
} as const;
export const managerName = 'modelship';

/** A Kubernetes object as modelship renders it (the fields it owns, for server-side apply). */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

/** A Snowflake scoring task as modelship renders it. Identifiers are validated; values are binds. */
export interface ScoringTask {
  /** fully qualified, each part an unquoted-safe identifier: DATABASE.SCHEMA.NAME */
  database: string;
  schema: string;
  name: string;
  warehouse: string;
  /** Snowflake schedule text, e.g. "USING CRON 0 2 * * * America/New_York" */
  schedule: string;
  /** the scoring procedure, fully qualified */
  procedure: string;
  /** procedure arguments, in order: model, version, artifact URI, sha256, source, target */
  args: string[];
  /** stored in the task COMMENT: how the agent recognises its tasks and what they run */
  comment: { managedBy: 'modelship'; environment: string; model: string; version: string; specHash: string; commit: string };
}

/** Everything one environment should run, rendered from one commit. */
export interface DesiredEnvironment {
  environment: string;
  commit: string;
  kubernetes: KubernetesObject[];
  snowflake: ScoringTask[];
}

/** A managed object as the target reports it. */
export interface LiveKubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    managedFields?: Array<{ manager?: string; operation?: string; fieldsV1?: unknown }>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface LiveTask {
  database: string;
  schema: string;
  name: string;
  /** 'started' | 'suspended' */
  state: string;
  warehouse?: string;
  schedule?: string;
  definition?: string;
  /** the task's CONFIG (the procedure's arguments), when it parses as a JSON object */
  config?: Record<string, unknown>;
  /** parsed from the COMMENT when it is modelship's */
  comment?: ScoringTask['comment'];
}

export type PlanOp = 'create' | 'update' | 'delete' | 'noop';

export interface PlanAction {
  op: PlanOp;
  target: 'kubernetes' | 'snowflake';
  /** kind/namespace/name or DATABASE.SCHEMA.TASK */
  key: string;
  model?: string;
  desired?: KubernetesObject | ScoringTask;
  live?: LiveKubernetesObject | LiveTask;
  /** why: "spec hash 1a2b… → 3c4d…", "not found", "no longer in environments/production.yaml" */
  reason: string;
  /** a readable diff of the fields that change (unified-diff-like lines) */
  diff?: string[];
  /** set when the change must not be applied yet, and why (apply reports it as failed, sends nothing) */
  refused?: string;
  /**
   * An intermediate object applied, and waited on until ready, before `desired`: aborting a
   * serverless canary first sets its traffic to 0 (all traffic back to the rolled-out revision at
   * once, no new pods), and only then rolls the stable spec.
   */
  first?: { object: KubernetesObject; why: string };
  /** something the plan cannot fix by applying, said to the reader (the live object stays as it is) */
  warning?: string;
}

export interface Plan {
  environment: string;
  commit: string;
  actions: PlanAction[];
  /**
   * Objects this environment wants that exist but are not its own: labelled with another
   * environment, or not managed by modelship at all. sync writes nothing in the environment
   * while there is one (all or nothing), and never adopts or overwrites them.
   */
  conflicts?: Array<{ target: 'kubernetes' | 'snowflake'; key: string; message: string }>;
  /**
   * The merge preview only (preview.ts): models of the environment left out of the plan because
   * everything their objects are rendered from is the same at base and head, so their objects are.
   */
  untouchedModels?: number;
  /** `plan` only: substrates that could not be reached (no connection configured, or the read failed); nothing is planned there */
  unreachable?: Array<{ target: 'kubernetes' | 'snowflake'; reason: string }>;
}

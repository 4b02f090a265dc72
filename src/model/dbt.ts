// The small index of a dbt manifest that the features gate reads: per model, its checksums,
// contract, columns and deprecation. The dbt adapter builds it; the gate judges with it.

export interface DbtConstraint {
  /** not_null, unique, primary_key, foreign_key, check, custom */
  type: string;
  name?: string;
  expression?: string;
  /** model-level constraints name their columns */
  columns?: string[];
}

export interface DbtColumn {
  /** as written in the dbt YAML (Snowflake folds it to upper case unless quoted) */
  name: string;
  /** the warehouse type the contract declares, e.g. NUMBER(18,2); absent when not declared */
  dataType?: string;
  constraints: DbtConstraint[];
  /** true when dbt quotes the name, so the warehouse keeps its case */
  quoted: boolean;
}

export interface DbtNode {
  uniqueId: string;
  resourceType: string;
  name: string;
  packageName?: string;
  database?: string;
  schema?: string;
  alias?: string;
  /** database.schema.identifier as dbt renders it */
  relationName?: string;
  materialized?: string;
  /** dbt's checksum of the model file (sha256) */
  checksum?: string;
  contract: { enforced: boolean; checksum?: string };
  columns: Record<string, DbtColumn>;
  /** model-level constraints */
  constraints: DbtConstraint[];
  /** columns that a not_null data test covers (checked after each build, not enforced) */
  notNullTests: string[];
  version?: string;
  latestVersion?: string;
  deprecationDate?: string;
  /** found under `disabled`: the project has it, but dbt builds nothing for it */
  disabled: boolean;
}

export interface DbtIndex {
  /** where it was read from, for messages */
  location?: string;
  /** sha256 of the manifest file */
  sha256?: string;
  metadata: {
    schemaVersion: number;
    dbtVersion?: string;
    generatedAt?: string;
    adapterType?: string;
    projectName?: string;
    /** the project's column quoting default (v12 from dbt 1.9 records it); unset means unquoted */
    quoteColumns?: boolean;
  };
  /** the indexed model nodes, by unique_id (all models, or those asked for) */
  nodes: Map<string, DbtNode>;
  /** every model unique_id in the manifest, enabled or not, to suggest a near name */
  modelIds: string[];
}

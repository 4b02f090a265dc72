// Is this connection the environment's? Before anything is read or written, sync compares the
// cluster it talks to with environments/<env>.yaml kubernetes.cluster, and the Snowflake account
// it logs in to with snowflake.account (when the file names one).
//
// How a cluster is identified: by the name its administrators record in the cluster itself,
// ConfigMap kube-public/modelship-cluster, key `name` (deploy/ creates it). A kubeconfig context
// name says only what the operator called the connection, and an in-cluster agent (#15) has no
// context at all; Argo CD and Flux identify a cluster by the connection they were configured with
// (a cluster Secret's server URL and name; a kubeconfig Secret), which has the same weakness: a
// staging agent handed production's credentials believes it is in staging. Reading the name from
// the cluster works the same from a kubeconfig and from inside a pod, and only cluster admins can
// write kube-public. (EKS's cluster ARN is not readable through the Kubernetes API; the
// kube-system namespace's UID would identify the cluster too, but would put an opaque id in every
// environment file.)

import type { Environment } from '../config/types.js';
import { clusterIdentityConfigMap } from '../adapters/kubernetes/target.js';
import type { Targets } from './agent.js';

export type IdentityVerdict = { refused: string } | { warning: string } | undefined;

/** Whether `name` may be synced over these connections: refused (nothing is written there), a warning, or fine. */
export async function checkIdentity(name: string, env: Environment, targets: Targets, snowflakeAccount: string | undefined): Promise<IdentityVerdict> {
  const where = `${clusterIdentityConfigMap.namespace}/${clusterIdentityConfigMap.name}`;
  if (env.snowflake?.account && snowflakeAccount && env.snowflake.account.toUpperCase() !== snowflakeAccount.toUpperCase()) {
    return { refused: `refused: the Snowflake connection is to account ${snowflakeAccount} (SNOWFLAKE_ACCOUNT), but environments/${name}.yaml names snowflake.account ${env.snowflake.account}; nothing was written in ${name}` };
  }
  if (!env.kubernetes || !targets.kubernetes?.clusterIdentity) return undefined;
  const cluster = await targets.kubernetes.clusterIdentity();
  if (cluster === undefined) {
    return { warning: `warning: the cluster's identity is not verified: it has no ConfigMap ${where} (key name); create it with the cluster's name (deploy/cluster-identity.yaml) so sync can refuse the wrong cluster` };
  }
  if (cluster !== env.kubernetes.cluster) {
    return { refused: `refused: the Kubernetes API server this sync talks to is cluster "${cluster}" (ConfigMap ${where}), but environments/${name}.yaml names kubernetes.cluster "${env.kubernetes.cluster}"; nothing was written in ${name}` };
  }
  return undefined;
}

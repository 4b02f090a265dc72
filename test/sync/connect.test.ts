// How the agent finds its Kubernetes API server (#15: inside the cluster, through the pod's
// ServiceAccount): a given server and token first, then in-cluster when the kubelet's
// KUBERNETES_SERVICE_HOST is there, else a kubeconfig. In-cluster, the client reads the projected
// ServiceAccount token from its file (re-read as the kubelet rotates it) and trusts the cluster CA file.
import t from 'tap';
import { loadKubeConfig } from '../../src/adapters/kubernetes/target.js';
import { kubeConnection } from '../../src/sync/connect.js';

t.test('which connection the variables choose', async (t) => {
  t.same(kubeConnection({ MODELSHIP_KUBE_SERVER: 'https://k.example', MODELSHIP_KUBE_TOKEN: 'tok', KUBERNETES_SERVICE_HOST: '10.0.0.1' }),
    { kind: 'server', server: 'https://k.example', token: 'tok' }, 'an explicit server wins');
  t.throws(() => kubeConnection({ MODELSHIP_KUBE_SERVER: 'https://k.example' }), { name: 'UsageError', message: 'MODELSHIP_KUBE_SERVER is set but MODELSHIP_KUBE_TOKEN is not' });
  t.same(kubeConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', MODELSHIP_KUBE_CONTEXT: 'ignored' }), { kind: 'in-cluster' }, 'inside a pod: its ServiceAccount');
  t.same(kubeConnection({ MODELSHIP_KUBE_CONTEXT: 'prod' }), { kind: 'kubeconfig', context: 'prod' });
  t.same(kubeConnection({}), { kind: 'kubeconfig' });
});

t.test('in-cluster: the API server from the kubelet\'s variables, the ServiceAccount token and CA from their mounted files', async (t) => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  t.teardown(() => {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });
  for (const [host, server] of [['10.96.0.1', 'https://10.96.0.1:443'], ['fd00::1', 'https://[fd00::1]:443']]) {
    Object.assign(process.env, { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: '443' });
    const kc = loadKubeConfig(kubeConnection(process.env));
    const cluster = kc.getCurrentCluster()!;
    t.match(cluster, { server, caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', skipTLSVerify: false });
    t.match(kc.getCurrentUser(), { authProvider: { name: 'tokenFile', config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } },
      'the token is read from the projected file, not copied into the configuration');
  }
});

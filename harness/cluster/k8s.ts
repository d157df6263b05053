// Kubernetes manifests for a multi-node run, on the same shard → merge path as Slurm. An Indexed Job runs one pod
// per node (completionMode: Indexed, a required pod anti-affinity on the host name), each requesting the node's
// accelerators through the vendor's device-plugin resource. In every pod: a sampler (wattbench shard) in the
// background, then the user's program behind `wattbench stamp` (pod 0 is rank 0); pod 0 serves the reference clock,
// reachable through a headless Service as <job>-0.<service>, and merges the shards from the shared volume.
import { stringify } from 'yaml';
import { shq } from './slurm.js';

export const ACCELERATOR_RESOURCES = {
  nvidia: 'nvidia.com/gpu',
  amd: 'amd.com/gpu',
  ascend: 'huawei.com/Ascend910',
} as const;
export type Accelerator = keyof typeof ACCELERATOR_RESOURCES;

export interface K8sOptions {
  name: string;
  namespace?: string;
  image: string;
  nodes: number;
  accelerator: Accelerator;
  perNode: number;
  /** An existing ReadWriteMany claim; without it a claim is generated (storageClass, size). */
  pvc?: string;
  storageClass?: string;
  storage: string;
  wattbench: string;
  source?: string;
  sourceOptions: string[];
  intervalMs?: number;
  idleS: number;
  repetitions: number;
  maxSkewMs: number;
  kind: 'train' | 'infer' | 'serve' | 'other';
  command: string[];
  clockPort: number;
  recordHostname: boolean;
}

const MOUNT = '/wattbench';

/** The shell script each pod runs (POSIX sh; the image needs sh, wattbench and the user's program). */
export function podScript(o: K8sOptions): string {
  const svc = `${o.name}-clock`;
  const ref = `${o.name}-0.${svc}`;
  const src = [...(o.source ? ['--source', o.source] : []), ...o.sourceOptions.flatMap((kv) => ['--source-opt', kv]), ...(o.intervalMs ? ['--interval', String(o.intervalMs)] : [])].map(shq).join(' ');
  const wb = o.wattbench;
  return [
    'set -u',
    `WB_DIR=${MOUNT}/$JOB_NAME_UID`,
    'mkdir -p "$WB_DIR"',
    `NODES=${o.nodes}`,
    'I=$JOB_COMPLETION_INDEX',
    '# a sampler in the background; pod 0 serves the reference clock, the others probe it',
    'if [ "$I" = 0 ]; then',
    `  ${wb} shard --dir "$WB_DIR" --nodes "$NODES" --clock-host ${ref} --clock-bind 0.0.0.0 --clock-port ${o.clockPort}${src ? ' ' + src : ''} &`,
    'else',
    `  ${wb} shard --dir "$WB_DIR" --nodes "$NODES" --clock-server ${ref}:${o.clockPort}${src ? ' ' + src : ''} &`,
    'fi',
    'SAMPLER=$!',
    `${wb} shard --wait-ready --dir "$WB_DIR" --nodes "$NODES" --timeout 600 || exit 2`,
    o.idleS > 0 ? `[ "$I" = 0 ] && ${wb} stamp --dir "$WB_DIR" --idle ${o.idleS}` : ':',
    o.idleS > 0 ? `[ "$I" = 0 ] || sleep ${o.idleS}   # every pod idles through the baseline` : ':',
    'STATUS=0',
    `REP=0; while [ "$REP" -lt ${o.repetitions} ]; do`,
    `  ${wb} stamp --dir "$WB_DIR" --repetition "$REP" --rank "$I" --kind ${o.kind} -- ${o.command.map(shq).join(' ')} || STATUS=$?`,
    '  REP=$((REP + 1))',
    'done',
    'touch "$WB_DIR/stop-$I"',
    'wait "$SAMPLER"',
    'if [ "$I" = 0 ]; then',
    `  ${wb} merge "$WB_DIR" --out "$WB_DIR/result.json" --max-skew-ms ${o.maxSkewMs}${o.recordHostname ? ' --record-hostname' : ''} || exit $?`,
    'fi',
    'exit "$STATUS"',
  ].join('\n');
}

/** The manifests, as objects (one YAML document each). */
export function k8sObjects(o: K8sOptions): Array<Record<string, unknown>> {
  const resource = ACCELERATOR_RESOURCES[o.accelerator];
  const svc = `${o.name}-clock`;
  const claim = o.pvc ?? `${o.name}-shards`;
  const meta = (name: string) => ({ name, ...(o.namespace ? { namespace: o.namespace } : {}), labels: { 'app.kubernetes.io/name': 'wattbench', 'wattbench/job': o.name } });
  const objs: Array<Record<string, unknown>> = [];
  if (!o.pvc) {
    objs.push({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta(claim),
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: o.storage } }, ...(o.storageClass ? { storageClassName: o.storageClass } : {}) },
    });
  }
  objs.push({
    apiVersion: 'v1', kind: 'Service', metadata: meta(svc),
    spec: { clusterIP: 'None', selector: { 'wattbench/job': o.name }, ports: [{ name: 'clock', protocol: 'UDP', port: o.clockPort }] },
  });
  objs.push({
    apiVersion: 'batch/v1', kind: 'Job', metadata: meta(o.name),
    spec: {
      completionMode: 'Indexed', completions: o.nodes, parallelism: o.nodes, backoffLimit: 0,
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'wattbench', 'wattbench/job': o.name } },
        spec: {
          subdomain: svc,
          restartPolicy: 'Never',
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { 'wattbench/job': o.name } }, topologyKey: 'kubernetes.io/hostname' }] } },
          containers: [{
            name: 'wattbench', image: o.image,
            command: ['/bin/sh', '-c', podScript(o)],
            env: [
              // one folder per Job run on the shared volume
              { name: 'JOB_NAME_UID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } } },
              { name: 'WATTBENCH_NODES', value: String(o.nodes) },
              { name: 'WATTBENCH_JOB_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } } },
              { name: 'MASTER_ADDR', value: `${o.name}-0.${svc}` },
            ],
            ports: [{ name: 'clock', containerPort: o.clockPort, protocol: 'UDP' }],
            resources: { limits: { [resource]: o.perNode }, requests: { [resource]: o.perNode } },
            volumeMounts: [{ name: 'shards', mountPath: MOUNT }],
          }],
          volumes: [{ name: 'shards', persistentVolumeClaim: { claimName: claim } }],
        },
      },
    },
  });
  return objs;
}

export function k8sYaml(o: K8sOptions): string {
  const head = `# Written by \`wattbench k8s\`: ${o.nodes} pod(s), one per node, each with ${o.perNode} × ${ACCELERATOR_RESOURCES[o.accelerator]}.\n`
    + `# The shards and the merged result land on the ReadWriteMany volume, under <controller-uid>/result.json.\n`;
  return head + k8sObjects(o).map((x) => stringify(x, { lineWidth: 0 })).join('---\n');
}

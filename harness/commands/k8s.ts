// `wattbench k8s --image IMG --nodes N --accelerator nvidia|amd|ascend -- PROGRAM`: print the Kubernetes manifests
// (Indexed Job, headless Service, shared claim) of a multi-node measurement on the shard → merge path.
import type { Command } from './command.js';
import { parseFlags, num, kindFlag } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { checkSourceOptFlags } from '../sources.js';
import { k8sYaml, ACCELERATOR_RESOURCES, type Accelerator } from '../cluster/k8s.js';
import { DEFAULT_MAX_SKEW_MS } from '../cluster/merge.js';

export const options = {
  image: { type: 'string' }, nodes: { type: 'string' }, accelerator: { type: 'string' }, 'per-node': { type: 'string' }, name: { type: 'string' },
  namespace: { type: 'string' }, pvc: { type: 'string' }, 'storage-class': { type: 'string' }, storage: { type: 'string' }, wattbench: { type: 'string' },
  source: { type: 'string' }, 'source-opt': { type: 'string', multiple: true }, interval: { type: 'string' }, idle: { type: 'string' },
  repetitions: { type: 'string' }, 'max-skew-ms': { type: 'string' }, kind: { type: 'string' }, 'clock-port': { type: 'string' },
  'record-hostname': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const usage = `wattbench k8s --image IMG --nodes N --accelerator nvidia|amd|ascend [options] -- PROGRAM [ARGS...]

Print the manifests of a multi-node measurement (apply with kubectl apply -f -): an Indexed Job with one pod per
node (completionMode Indexed, pod anti-affinity on the host name), each requesting --per-node accelerators
(nvidia.com/gpu, amd.com/gpu or huawei.com/Ascend910); a headless Service so pod 0 (the reference clock, rank 0)
is reachable as <name>-0.<name>-clock; and a ReadWriteMany claim for the shards (or --pvc CLAIM). Every pod runs a
sampler (wattbench shard) and PROGRAM behind \`wattbench stamp\`; pod 0 merges the shards into result.json.
The image must hold sh, wattbench and PROGRAM.

  --per-node K          accelerators per pod (default 1)       --name NAME     job name (default wattbench)
  --namespace NS        --pvc CLAIM (existing RWX claim)       --storage-class SC --storage SIZE (default 1Gi)
  --source NAME --source-opt K=V --interval MS                 --idle S (default 10) --repetitions N (default 1)
  --kind train|infer|serve|other (default train)              --max-skew-ms MS (default ${DEFAULT_MAX_SKEW_MS})
  --clock-port P        UDP port of the reference clock, 1..65535 (default 7379)   --wattbench CMD (default wattbench)
  --record-hostname     put node names in the merged result (left out by default)`;

export const k8s: Command = {
  name: 'k8s', summary: 'print Kubernetes manifests (Indexed Job) for a multi-node measurement', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'k8s');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!f.image) throw badInput('BAD_FLAG', 'k8s needs --image IMG (an image with sh, wattbench and your program)', 'e.g. --image registry.example/train:latest');
    const nodes = num(f.nodes, '--nodes', { integer: true, min: 1 });
    if (nodes === undefined) throw badInput('BAD_FLAG', 'k8s needs --nodes N', 'e.g. --nodes 2');
    const acc = (f.accelerator ?? '') as Accelerator;
    if (!(acc in ACCELERATOR_RESOURCES)) throw badInput('BAD_FLAG', `--accelerator '${f.accelerator ?? ''}' is not one of ${Object.keys(ACCELERATOR_RESOURCES).join(', ')}`, `nvidia → nvidia.com/gpu, amd → amd.com/gpu, ascend → huawei.com/Ascend910`);
    if (!positionals.length) throw badInput('BAD_FLAG', 'k8s needs the program to run after --', 'e.g. -- torchrun --nnodes 2 --nproc-per-node 8 train.py');
    const name = f.name ?? 'wattbench';
    if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(name)) throw badInput('BAD_FLAG', `--name '${name}' is not a DNS label of at most 42 characters`, 'use lower-case letters, digits and dashes');
    checkSourceOptFlags(f.source, f['source-opt']); // refused here, not when the pods start
    const kind = kindFlag(f.kind, 'train', 'pick what the tokens count');
    io.stdout.write(k8sYaml({
      name, namespace: f.namespace, image: f.image, nodes, accelerator: acc, perNode: num(f['per-node'], '--per-node', { integer: true, min: 1 }) ?? 1,
      pvc: f.pvc, storageClass: f['storage-class'], storage: f.storage ?? '1Gi', wattbench: f.wattbench ?? 'wattbench',
      source: f.source, sourceOptions: f['source-opt'] ?? [], intervalMs: num(f.interval, '--interval', { min: 0, exclusiveMin: true }),
      idleS: num(f.idle, '--idle', { min: 0 }) ?? 10, repetitions: num(f.repetitions, '--repetitions', { integer: true, min: 1 }) ?? 1,
      maxSkewMs: num(f['max-skew-ms'], '--max-skew-ms', { min: 0 }) ?? DEFAULT_MAX_SKEW_MS, kind, command: positionals,
      clockPort: num(f['clock-port'], '--clock-port', { integer: true, min: 1, max: 65535, example: 7379 }) ?? 7379, recordHostname: Boolean(f['record-hostname']),
    }));
    return EXIT.OK;
  },
};

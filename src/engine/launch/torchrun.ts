// The torchrun command line of a launch folder, and the folder's README. TensorFlow-free: the
// extension builds the same command to show it.
export interface TorchrunOptions {
  /** Processes on this node (torchrun --nproc_per_node). */
  nproc: number;
  /** Nodes in all; above 1 with nodeRank and rdzvEndpoint (torchrun's c10d rendezvous). */
  nnodes?: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
  resume?: boolean;
  /** A launcher (adapt-lab launch) owns run.json. */
  managed?: boolean;
  /**
   * One node: host the rendezvous on this local port instead of --standalone's fixed 29400. Two
   * --standalone jobs at once share that port: the second joins the first one's store and loses
   * it when the first ends (its agent then stops its ranks). The launcher picks a free port.
   */
  localPort?: number;
}

/** torchrun's arguments, to run in the launch folder (the package adapt_lab_torch sits there). */
export function torchrunArgs(o: TorchrunOptions): string[] {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new Error(`--nproc must be a positive integer, got ${o.nproc}`);
  const nnodes = o.nnodes ?? 1;
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new Error(`--nnodes must be a positive integer, got ${o.nnodes}`);
  const args = ['--nproc_per_node', String(o.nproc)];
  if (nnodes === 1 && o.localPort) args.push('--nnodes', '1', '--rdzv_backend', 'c10d', '--rdzv_endpoint', `127.0.0.1:${o.localPort}`);
  else if (nnodes === 1) args.push('--standalone');
  else {
    if (!o.rdzvEndpoint) throw new Error('--nnodes above 1 needs --rdzv-endpoint HOST:PORT (the node that hosts the rendezvous, reachable from every node)');
    if (o.nodeRank === undefined || !Number.isInteger(o.nodeRank) || o.nodeRank < 0 || o.nodeRank >= nnodes) {
      throw new Error(`--nnodes ${nnodes} needs --node-rank from 0 to ${nnodes - 1} (this node's place)`);
    }
    args.push('--nnodes', String(nnodes), '--node_rank', String(o.nodeRank), '--rdzv_backend', 'c10d', '--rdzv_endpoint', o.rdzvEndpoint);
  }
  // Rank 0's stderr is copied into logs/ (beside the console). Giving --redirects and --tee
  // explicitly also steps around a bug of torch 1.13 on Python 3.11 (Debian 12's python3-torch):
  // their default "0" parses to None there and torchrun fails before starting any worker.
  args.push('--log_dir', 'logs', '--redirects', '0:2', '--tee', '0:2');
  args.push('-m', 'adapt_lab_torch.train', '.');
  if (o.resume) args.push('--resume');
  if (o.managed) args.push('--managed');
  return args;
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export function commandLine(o: TorchrunOptions): string {
  return ['torchrun', ...torchrunArgs(o)].map(quote).join(' ');
}

export function launchReadme(o: { name: string; model: string; nproc: number }): string {
  return `# torchrun launch folder: ${o.name}

Written by \`adapt-lab launch\`. It trains the run config's adaptation with PyTorch
(\`adapt_lab_torch/\`, torch and numpy only; torch 1.13 or 2.x) and writes the run folder
above this one (\`..\`): metrics.jsonl, checkpoints/, adapter/ (a PEFT adapter), run.json.
Adapt Lab's Runs view, Monitor, Compare, eval and exports read it like any other run.

- \`launch.json\`: model (${o.model}), its dimensions, LoRA targets, rank, alpha, dropout,
  unfrozen parameters, regularisers, schedule, optimizer, seed and batch plan.
- \`data/\`: the training (and validation) examples as token ids with loss masks, tokenized
  with the model's chat template by Adapt Lab; \`plan.json\` lists each step's examples.
- \`initial_adapter/\`: the adapter weights both trainers start from (PEFT layout).

## Run it

On this machine (CPU, gloo; or its GPUs, nccl, chosen automatically):

    cd <this folder>
    ${commandLine({ nproc: o.nproc })}

Continue after a stop or a crash from the newest checkpoint: add \`--resume\`.
\`--standalone\` hosts torchrun's rendezvous on port 29400: for two jobs at once on one machine,
give each \`--nnodes 1 --rdzv_backend c10d --rdzv_endpoint 127.0.0.1:<a free port>\` instead.

Several nodes (untested by Adapt Lab's tests: they run on one CPU machine): copy the whole run
folder to every node (or share it), make \`launch.json\`'s model path valid there, and run on
each node, with its own rank:

    ${commandLine({ nproc: o.nproc, nnodes: 2, nodeRank: 0, rdzvEndpoint: 'HOST:29400' })}

Only rank 0 writes the run folder, so it must be the one you copy back.
`;
}

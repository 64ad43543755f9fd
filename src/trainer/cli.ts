// The `adapt-lab` command line: inspect, generate (and train, eval, export as they land).
// Errors are one clear line on stderr and a non-zero exit.
import { parse } from './args';
import { inspectCommand } from './commands/inspect';
import { generateCommand } from './commands/generate';
import { trainCommand } from './commands/train';
import { suggestCommand } from './commands/suggest';

const USAGE = `usage: adapt-lab <command> [options]

commands:
  inspect MODEL [--json] [--config FILE]         module tree with shapes, dtypes and parameter counts
  generate --model MODEL --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K]
           [--top-p P] [--seed S] [--stop TEXT]... [--logits-out FILE] [--adapter RUN_DIR]
  train CONFIG [--jsonl]                         train an adaptation run (a run config JSON)
  train --resume RUN_DIR [--jsonl]               continue a run from its last checkpoint
  tokenize --model MODEL TEXT [--json] [--no-bos] [--special]
                                                 token ids and pieces of TEXT ("-": stdin); --special
                                                 reads special-token text such as <|im_start|> as tokens
  preview-data --model MODEL --data FILE [--examples N] [--max-length N] [--json]
                                                 the data as training tokenizes it, trained tokens marked
  suggest --model MODEL --data FILE [--batches N] [--top K] [--json]
                                                 rank linear modules by gradient norm on your data
  models [--json] [--folder DIR]...              models already on this machine (Hugging Face cache, Ollama,
                                                 LM Studio, llama.cpp) and whether Adapt Lab can train them
  worker                                         inference worker for the extension (IPC only)
  eval --model MODEL [--adapter RUN_DIR|PEFT_DIR] --prompts FILE [--probe TEXT] [--data JSONL] [--samples K] [--temperature T] [--max-tokens N] [--seed S] [--out FILE] [--json]
       [--runtime engine|llamacpp] [--llamacpp-threads N]
  launch CONFIG --torchrun [--nproc N] [--nnodes N --node-rank R --rdzv-endpoint HOST:PORT] [--dry-run] [--jsonl]
                                                 the same run on PyTorch under torchrun (DDP), in the same run store
  launch --resume RUN_DIR --torchrun [--nproc N] continue a torchrun run from its last checkpoint
  experiment FILE [--jsonl] [--restart] [--dry-run] [--runs-dir DIR]
                                                 run the trials of an experiment file, print the leaderboard
  export RUN_DIR --format peft|merged-hf|merged-gguf|gguf-lora|ollama --out DIR [--checkpoint best|latest|N] [--dtype f32|f16] [--force]

common options: --backend auto|tensorflow-gpu|tensorflow|wasm|cpu   --verbose   --help`;

export type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  inspect: inspectCommand,
  generate: generateCommand,
  train: trainCommand,
  suggest: suggestCommand,
  worker: async (a) => {
    const { values } = parse(a, { 'llamacpp-threads': { type: 'string' } });
    const threads = values['llamacpp-threads'] === undefined ? 1 : Number(values['llamacpp-threads']);
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`--llamacpp-threads must be a positive integer, got "${values['llamacpp-threads']}"`);
    await (await import('./worker')).runWorker(values.backend, threads);
    return 0;
  },
  export: async (a) => (await import('./commands/export')).exportCommand(a),
  models: async (a) => (await import('./commands/models')).modelsCommand(a),
  eval: async (a) => (await import('./commands/eval')).evalCommand(a),
  tokenize: async (a) => (await import('./commands/tokenize')).tokenizeCommand(a),
  'preview-data': async (a) => (await import('./commands/preview')).previewCommand(a),
  experiment: async (a) => (await import('./commands/experiment')).experimentCommand(a),
  launch: async (a) => (await import('./commands/launch')).launchCommand(a),
};


async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) throw new Error(`unknown command "${name}" (try: ${Object.keys(commands).join(', ')})`);
  if (rest.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  return cmd(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      // One line per problem (a config with three wrong fields says all three), no stack.
      process.stderr.write(`${msg.split('\n').map((l) => `adapt-lab: ${l}`).join('\n')}\n`);
      if (process.env.ADAPT_LAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 1;
    },
  );
}

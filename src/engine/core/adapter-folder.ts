// What kind of adapter folder a path is — a run folder (run.json) or a PEFT LoRA folder
// (adapter_config.json + adapter_model.safetensors) — decided from the files alone, so the
// evaluation, the llama.cpp runtime and the CLI ask it the same way.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RUN_FILE } from './runs/store';

export type AdapterKind = 'run' | 'peft';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';

/** What kind of adapter folder `path` is; throws saying what is missing when it is neither. */
export function adapterKind(path: string): AdapterKind {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new Error(`${path}: no such adapter folder`);
  if (!statSync(dir).isDirectory()) throw new Error(`${path}: an adapter is a folder (a run folder with ${RUN_FILE}, or a PEFT folder with ${PEFT_CONFIG})`);
  if (existsSync(join(dir, RUN_FILE))) return 'run';
  if (existsSync(join(dir, PEFT_CONFIG))) {
    if (!existsSync(join(dir, PEFT_WEIGHTS))) throw new Error(`${path}: has ${PEFT_CONFIG} but no ${PEFT_WEIGHTS} (adapter_model.bin is not supported)`);
    return 'peft';
  }
  throw new Error(`${path}: not an adapter folder (no ${RUN_FILE} of a run, no ${PEFT_CONFIG} of a PEFT adapter)`);
}

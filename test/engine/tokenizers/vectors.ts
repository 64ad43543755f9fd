// Loads llama.cpp test-tokenizer-0 vectors: NAME.gguf.inp holds the texts, each followed by a
// "\n__ggml_vocab_test__\n" marker line; NAME.gguf.out holds one line of space-separated ids per
// text (produced with add_special=false, i.e. no BOS).
import { readFileSync } from 'node:fs';
import { sharedPath } from '../../helpers/shared';
import { readGgufMetadata } from './gguf-meta';

export interface Vector { text: string; ids: number[] }

export function fixturePath(name: string): string {
  return sharedPath('fixtures', 'tokenizers', name);
}

export function loadVectors(gguf: string): Vector[] {
  const texts = readFileSync(fixturePath(`${gguf}.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  const last = texts.pop();
  if (last !== '') throw new Error(`${gguf}.inp does not end with the marker line`);
  const lines = readFileSync(fixturePath(`${gguf}.out`), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== texts.length) throw new Error(`${gguf}: ${texts.length} texts but ${lines.length} id lines`);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() ? lines[i].trim().split(/\s+/).map(Number) : [] }));
}

export function loadMeta(gguf: string): Map<string, unknown> {
  return readGgufMetadata(fixturePath(gguf));
}

// Tokenizers: SentencePiece-style and GPT-2 byte-level BPE, from GGUF metadata or HF tokenizer.json.
export { TokenType } from './types';
export type { Tokenizer, EncodeOptions, DecodeOptions } from './types';
export { tokenizerFromGgufMetadata } from './gguf';
export { tokenizerFromHfJson } from './hf';
export type { HfTokenizerConfig } from './hf';
export { StreamDecoder } from './stream';
export type { StreamDecoderOptions } from './stream';

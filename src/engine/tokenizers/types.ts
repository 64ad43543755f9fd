// Shared tokenizer types.

/** GGUF token types (llama.cpp `llama_token_type`). HF tokens are mapped onto the same scale. */
export const enum TokenType {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export interface EncodeOptions {
  /** Prepend BOS. Default: the model's `addBos`. */
  addBos?: boolean;
  /** Append EOS. Default: the model's `addEos` (usually false). */
  addEos?: boolean;
  /**
   * Recognise control/special token strings (e.g. "<s>", "<|endoftext|>") in the text.
   * Default: false for GGUF vocabularies (llama.cpp's parse_special=false; user-defined tokens are
   * still split out, as llama.cpp does), true for HF tokenizer.json (HF splits on added tokens).
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens (BOS/EOS/...) as their text instead of dropping them. Default false. */
  special?: boolean;
}

export interface Tokenizer {
  /** 'spm': SentencePiece-style (▁ for spaces, byte fallback); 'bpe': GPT-2 byte-level BPE. */
  readonly kind: 'spm' | 'bpe';
  readonly vocabSize: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly unk?: number;
  readonly pad?: number;
  /** Every id that ends a generation (eos plus any extra eos ids from an HF config). */
  readonly eosIds: readonly number[];
  /** Whether the model's metadata says to add BOS. */
  readonly addBos: boolean;
  readonly addEos: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Full decode. Control tokens are dropped unless `special`; SPM: the leading space of the first piece is removed. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The vocabulary string of a token. */
  tokenToPiece(id: number): string;
  /** Raw bytes of one token for streaming (byte tokens <0xAB> give that byte; byte-level BPE maps back to raw bytes; control tokens give none). */
  tokenBytes(id: number): Uint8Array;
  /** Control/unknown tokens and the bos/eos/pad ids. */
  isSpecial(id: number): boolean;
  /** The GGUF-style type of a token. */
  tokenType(id: number): TokenType;
}

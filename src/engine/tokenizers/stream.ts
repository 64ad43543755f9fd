// Streaming detokenization: feed ids one at a time, get back only complete UTF-8 text.
import { TokenType, type Tokenizer } from './types';
import { utf8 } from './bytes';

export interface StreamDecoderOptions {
  /** Render control tokens as their text (default: dropped). */
  special?: boolean;
  /**
   * Drop one leading space from the first emitted piece, as decode() does for SPM vocabularies.
   * Default false: streaming usually continues after a prompt, where that space is real.
   */
  stripLeadingSpace?: boolean;
}

export class StreamDecoder {
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private strip: boolean;

  constructor(private readonly tokenizer: Tokenizer, private readonly opts: StreamDecoderOptions = {}) {
    this.strip = !!opts.stripLeadingSpace;
  }

  /** Adds one token; returns the text completed by it (incomplete multi-byte sequences are held back). */
  push(id: number): string {
    let b = this.opts.special && this.tokenizer.tokenType(id) === TokenType.Control
      ? utf8(this.tokenizer.tokenToPiece(id))
      : this.tokenizer.tokenBytes(id);
    if (b.length === 0) return '';
    if (this.strip) {
      this.strip = false;
      if (b[0] === 0x20) b = b.subarray(1);
    }
    return this.decoder.decode(b, { stream: true });
  }

  /** Ends the stream: returns whatever is held back (invalid/incomplete bytes become U+FFFD) and resets. */
  flush(): string {
    const s = this.decoder.decode();
    this.strip = !!this.opts.stripLeadingSpace;
    return s;
  }
}

// Messages between the extension and the inference worker: a long-lived process that keeps
// models loaded so prompts evaluate without reloading, one request at a time, cancellable.

/** One of the most likely tokens at a generated position (for hovers). */
export interface TokenAlternative {
  id: number;
  text: string;
  prob: number;
}

export interface GenerateRequest {
  type: 'generate';
  id: number;
  model: string;
  /** A run folder or a PEFT adapter folder; absent = the base model. */
  adapter?: string;
  prompt: string;
  maxTokens: number;
  temperature?: number;
  seed?: number;
  stop?: string[];
  /** Alternatives to report per token (for hovers). */
  top?: number;
}

export type WorkerRequest = GenerateRequest | { type: 'cancel'; id: number } | { type: 'shutdown' };

export interface GenerateDone {
  type: 'done';
  id: number;
  text: string;
  tokens: { text: string; prob: number; top: TokenAlternative[] }[];
  stopReason: string;
  loadMs: number;
  firstTokenMs: number;
  perTokenMs: number;
  totalMs: number;
  /** Whether the model was already loaded (a warm worker). */
  warm: boolean;
}

export type WorkerResponse =
  | { type: 'ready'; backend: string; pid: number }
  | { type: 'token'; id: number; text: string }
  | GenerateDone
  | { type: 'error'; id: number; message: string };

export function parseWorkerRequest(v: unknown): WorkerRequest {
  const r = v as { type?: string; id?: unknown; model?: unknown; prompt?: unknown; maxTokens?: unknown };
  if (!r || typeof r !== 'object') throw new Error('worker request is not an object');
  if (r.type === 'cancel' && typeof r.id === 'number') return { type: 'cancel', id: r.id as number };
  if (r.type === 'shutdown') return { type: 'shutdown' };
  if (r.type !== 'generate') throw new Error(`unknown worker request type ${JSON.stringify(r.type)}`);
  if (typeof r.id !== 'number' || typeof r.model !== 'string' || typeof r.prompt !== 'string') throw new Error('generate request needs id, model and prompt');
  if (typeof r.maxTokens !== 'number' || r.maxTokens < 0) throw new Error('generate request needs a non-negative maxTokens');
  return r as unknown as GenerateRequest;
}

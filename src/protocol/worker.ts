// Messages between the extension and the inference worker: a long-lived process that keeps
// models loaded so prompts evaluate without reloading, one request at a time, cancellable.

/** One of the most likely tokens at a generated position (for hovers). */
export interface TokenAlternative {
  id: number;
  text: string;
  prob: number;
}

/**
 * Part of the message of every error raised because node-llama-cpp cannot be loaded (the engine
 * writes it, the extension recognises it and says how to install the package).
 */
export const LLAMACPP_MISSING = 'needs the npm package node-llama-cpp';

/** Which runtime answers: Adapt Lab's engine (default), or llama.cpp through node-llama-cpp. */
export type PromptRuntime = 'engine' | 'llamacpp';

/** A turn of a prompt written as messages. */
export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest {
  type: 'generate';
  id: number;
  model: string;
  /** A run folder or a PEFT adapter folder; absent = the base model. */
  adapter?: string;
  /** The prompt as text; ignored for the model when `messages` is given (then it only labels the request). */
  prompt: string;
  /** The prompt as a conversation: rendered with the run's (or the model's) chat template and add_generation_prompt. */
  messages?: PromptMessage[];
  runtime?: PromptRuntime;
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
  /** Who answered: 'engine', or 'llamacpp' with llama.cpp's release. */
  runtime?: PromptRuntime;
  runtimeVersion?: string;
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
  const g = v as { runtime?: unknown; messages?: unknown };
  if (g.runtime !== undefined && g.runtime !== 'engine' && g.runtime !== 'llamacpp') throw new Error(`generate request: runtime ${JSON.stringify(g.runtime)} is not engine or llamacpp`);
  if (g.messages !== undefined) {
    const ok = Array.isArray(g.messages) && g.messages.length > 0 && g.messages.every((m: unknown) => {
      const o = m as { role?: unknown; content?: unknown };
      return !!o && typeof o === 'object' && (o.role === 'system' || o.role === 'user' || o.role === 'assistant') && typeof o.content === 'string';
    });
    if (!ok) throw new Error('generate request: messages must be a non-empty list of {role: system|user|assistant, content}');
  }
  return r as unknown as GenerateRequest;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A reply of the worker as the extension reads it, or an Error naming what is wrong. */
export function parseWorkerResponse(v: unknown): WorkerResponse {
  const r = v as Record<string, unknown>;
  if (!r || typeof r !== 'object') throw new Error('worker response is not an object');
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`worker response "${String(r.type)}" needs ${what}`);
  };
  switch (r.type) {
    case 'ready':
      need(typeof r.backend === 'string' && isNum(r.pid), 'a backend name and a pid');
      break;
    case 'token':
      need(isNum(r.id) && typeof r.text === 'string', 'an id and the token text');
      break;
    case 'error':
      need(isNum(r.id) && typeof r.message === 'string', 'an id and a message');
      break;
    case 'done': {
      need(isNum(r.id) && typeof r.text === 'string' && typeof r.stopReason === 'string', 'an id, the text and a stopReason');
      // NaN (no probability, no first token) crosses JSON IPC as null.
      const numOrNull = (x: unknown) => typeof x === 'number' || x === null;
      need(['loadMs', 'firstTokenMs', 'perTokenMs', 'totalMs'].every((k) => numOrNull(r[k])) && typeof r.warm === 'boolean', 'its timings and warm');
      const tokens = r.tokens;
      need(Array.isArray(tokens) && tokens.every((t: unknown) => {
        const o = t as { text?: unknown; prob?: unknown; top?: unknown };
        return !!o && typeof o.text === 'string' && numOrNull(o.prob) && Array.isArray(o.top);
      }), 'tokens as {text, prob, top}');
      need(r.runtime === undefined || r.runtime === 'engine' || r.runtime === 'llamacpp', 'runtime engine or llamacpp');
      break;
    }
    default:
      throw new Error(`unknown worker response type ${JSON.stringify(r.type)}`);
  }
  return r as unknown as WorkerResponse;
}

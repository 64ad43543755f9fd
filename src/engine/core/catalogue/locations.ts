// Where each tool keeps its models, from the same environment variables the tools read.
import { homedir, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelSource } from '../../../protocol/catalogue';

export interface Location { source: ModelSource; path: string; via: string }

export interface LocationOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Folders the user added (adaptLab.modelFolders). */
  folders?: string[];
  /** Also system-wide stores (Ollama's Linux service: /usr/share/ollama/.ollama/models). Default true. */
  system?: boolean;
  os?: NodeJS.Platform;
}

/** The folders a scan looks at, each once, in a fixed order of sources. */
export function modelLocations(o: LocationOptions = {}): Location[] {
  const env = o.env ?? process.env;
  const home = o.home ?? homedir();
  const os = o.os ?? platform();
  const set = (k: string) => (env[k] && env[k]!.trim() ? env[k]!.trim() : undefined);
  const tilde = (p: string) => (p === '~' || p.startsWith('~/') ? join(home, p.slice(1)) : p);
  const out: Location[] = [];
  const add = (source: ModelSource, path: string | undefined, via: string) => {
    if (!path) return;
    const abs = resolve(tilde(path));
    if (!out.some((l) => l.path === abs)) out.push({ source, path: abs, via });
  };

  // Hugging Face: one cache, chosen as huggingface_hub chooses it.
  const xdg = set('XDG_CACHE_HOME');
  const hub = set('HF_HUB_CACHE') ? ['HF_HUB_CACHE', set('HF_HUB_CACHE')]
    : set('HUGGINGFACE_HUB_CACHE') ? ['HUGGINGFACE_HUB_CACHE', set('HUGGINGFACE_HUB_CACHE')]
      : set('HF_HOME') ? ['HF_HOME', join(set('HF_HOME')!, 'hub')]
        : xdg ? ['XDG_CACHE_HOME', join(xdg, 'huggingface', 'hub')]
          : ['default', join(home, '.cache', 'huggingface', 'hub')];
  add('huggingface', hub[1], hub[0]!);

  if (set('OLLAMA_MODELS')) add('ollama', set('OLLAMA_MODELS'), 'OLLAMA_MODELS');
  else {
    add('ollama', join(home, '.ollama', 'models'), 'default');
    if (o.system !== false && os === 'linux') add('ollama', '/usr/share/ollama/.ollama/models', 'default (Linux service)');
  }

  add('lmstudio', join(home, '.lmstudio', 'models'), 'default');
  add('lmstudio', join(home, '.cache', 'lm-studio', 'models'), 'default (older LM Studio)');

  if (set('LLAMA_CACHE')) add('llamacpp', set('LLAMA_CACHE'), 'LLAMA_CACHE');
  else if (os === 'darwin') add('llamacpp', join(home, 'Library', 'Caches', 'llama.cpp'), 'default');
  else if (os === 'win32' && set('LOCALAPPDATA')) add('llamacpp', join(set('LOCALAPPDATA')!, 'llama.cpp'), 'default');
  else add('llamacpp', join(xdg ?? join(home, '.cache'), 'llama.cpp'), 'default');

  for (const f of o.folders ?? []) if (typeof f === 'string' && f.trim()) add('folder', f.trim(), 'adaptLab.modelFolders');
  return out;
}

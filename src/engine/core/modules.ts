// The module tree of a model (embeddings, blocks, attention, MLP, norms, head) built from its
// parameter names, with parameter counts: what `inspect` prints and the Layers view shows.
import { ParamSpec } from './params';
import type { ModuleNode } from '../../protocol/inspect';

// The tree's type is the protocol's: `inspect --json` prints it and the extension reads it.
export type { ModuleNode };

export function moduleTree(specs: ParamSpec[], dtypes?: Map<string, string>): ModuleNode {
  const root: ModuleNode = { path: '', name: '', params: 0, children: [] };
  const index = new Map<string, ModuleNode>([['', root]]);
  for (const s of specs) {
    const parts = s.name.split('.');
    const count = s.shape.reduce((a, b) => a * b, 1);
    let node = root;
    node.params += count;
    for (let i = 0; i < parts.length; i++) {
      const path = parts.slice(0, i + 1).join('.');
      let child = index.get(path);
      if (!child) {
        child = { path, name: parts[i], params: 0, children: [] };
        index.set(path, child);
        node.children.push(child);
      }
      child.params += count;
      node = child;
    }
    node.shape = s.shape;
    node.dtype = dtypes?.get(s.name);
    if (s.layout === 'linear' || s.layout === 'conv1d') {
      const mod = index.get(parts.slice(0, -1).join('.'));
      if (mod) mod.linear = true;
    }
  }
  // Fold single-child chains that are only name prefixes (`model` → `model.layers`) for display.
  return root;
}

/** Paths of every linear module (LoRA targets), in model order. */
export function linearModules(specs: ParamSpec[]): string[] {
  const out: string[] = [];
  for (const s of specs) {
    if ((s.layout === 'linear' || s.layout === 'conv1d') && s.name.endsWith('.weight')) out.push(s.name.slice(0, -'.weight'.length));
  }
  return out;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** An indented text rendering: one line per module and per parameter tensor. */
export function renderTree(root: ModuleNode): string[] {
  const lines: string[] = [];
  const walk = (node: ModuleNode, depth: number) => {
    for (const c of node.children) {
      const label = '  '.repeat(depth) + c.name;
      const detail = c.shape ? `[${c.shape.join(', ')}] ${c.dtype ?? ''}`.trim() : '';
      lines.push(`${label.padEnd(44)} ${detail.padEnd(22)} ${formatCount(c.params).padStart(14)}`);
      walk(c, depth + 1);
    }
  };
  walk(root, 0);
  return lines;
}

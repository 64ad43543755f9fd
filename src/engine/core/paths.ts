// How module and parameter paths are matched: globs over the paths `inspect` prints, and the
// block a path belongs to. Pure (no TensorFlow.js), so the extension host shares it.

export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/** Does a glob select this parameter: the parameter itself, or its module or any ancestor module? */
export function selects(re: RegExp, paramName: string): boolean {
  const parts = paramName.split('.');
  for (let i = parts.length; i > 0; i--) if (re.test(parts.slice(0, i).join('.'))) return true;
  return false;
}

/** Block index of a module or parameter path, or undefined outside the blocks. */
export function layerOf(path: string): number | undefined {
  const m = path.match(/(?:^|\.)(?:layers|h)\.(\d+)(?:\.|$)/);
  return m ? Number(m[1]) : undefined;
}

/**
 * LoRA target paths among a model's linear modules (the LM head excluded): `all-linear`, name
 * suffixes (`q_proj`) or globs over module paths, optionally only in some blocks.
 */
export function selectLoraTargets(linear: string[], blockCount: number, targets: string[] | 'all-linear', layers?: number[]): string[] {
  let chosen: string[];
  if (targets === 'all-linear') chosen = linear;
  else {
    chosen = [];
    for (const t of targets) {
      const hits = /[*?]/.test(t) ? linear.filter((p) => globToRegExp(t).test(p)) : linear.filter((p) => p === t || p.endsWith(`.${t}`));
      if (hits.length === 0) {
        const names = [...new Set(linear.map((p) => p.split('.').pop()))].join(', ');
        throw new Error(`LoRA target "${t}" matches no linear module (this model has: ${names})`);
      }
      chosen.push(...hits);
    }
  }
  if (layers && layers.length) {
    const bad = layers.filter((l) => l < 0 || l >= blockCount);
    if (bad.length) throw new Error(`LoRA layers ${bad.join(', ')} are out of range (the model has ${blockCount} blocks, 0–${blockCount - 1})`);
    chosen = chosen.filter((p) => layers.includes(layerOf(p) ?? -1));
  }
  return [...new Set(chosen)];
}

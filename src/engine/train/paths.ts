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

// Chart colours from VS Code's theme variables (set on <html> by VS Code), re-read when the
// theme changes. The fallbacks are the Dark Modern values, for a page outside VS Code.

const FALLBACK: Record<string, string> = {
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-foreground': '#cccccc',
  '--vscode-charts-lines': 'rgba(204, 204, 204, 0.5)',
  '--vscode-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-editorWidget-border': '#454545',
  '--vscode-font-family': 'system-ui, sans-serif',
};

export function cssVar(name: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || FALLBACK[name] || '';
}

let probe: CanvasRenderingContext2D | null | undefined;

/** Any CSS colour with its alpha multiplied by `alpha` (the canvas normalizes the colour first). */
export function withAlpha(color: string, alpha: number): string {
  probe ??= document.createElement('canvas').getContext('2d');
  if (!probe) return color;
  probe.fillStyle = '#000';
  probe.fillStyle = color;
  const c = String(probe.fillStyle);
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
  if (m) return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${alpha})`;
  m = /^rgba?\(([^,]+),([^,]+),([^,)]+)(?:,([^)]+))?\)$/.exec(c);
  if (m) return `rgba(${m[1].trim()}, ${m[2].trim()}, ${m[3].trim()}, ${(m[4] ? parseFloat(m[4]) : 1) * alpha})`;
  return color;
}

export interface Palette {
  series: string[];
  foreground: string;
  muted: string;
  grid: string;
  font: string;
}

const SERIES = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'];

export function palette(): Palette {
  return {
    series: SERIES.map((c) => cssVar(`--vscode-charts-${c}`)),
    foreground: cssVar('--vscode-foreground'),
    muted: cssVar('--vscode-descriptionForeground'),
    grid: withAlpha(cssVar('--vscode-editorWidget-border'), 0.6),
    font: cssVar('--vscode-font-family'),
  };
}

/** Calls `fn` when VS Code switches theme (it rewrites <html> style and <body> class). */
export function onThemeChange(fn: () => void): void {
  let pending = false;
  const obs = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  });
  obs.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  obs.observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

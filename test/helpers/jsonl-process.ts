// Runs `node [nodeArgs] dist/cli.js ARGS` and collects its JSON Lines output, one parsed value a
// line, handing each to `onLine` with a way to SIGKILL the process (the kill-and-resume tests).
import { spawn } from 'node:child_process';

export interface JsonlRun<T> {
  lines: T[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export function runJsonlProcess<T>(cli: string, args: string[], onLine?: (line: T, kill: () => void) => void, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<JsonlRun<T>> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [...nodeArgs, cli, ...args], { env: { ...process.env, ...env } });
    const lines: T[] = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const value = JSON.parse(line) as T;
        lines.push(value);
        onLine?.(value, () => child.kill('SIGKILL'));
      }
    });
    child.on('close', (code, signal) => res({ lines, code, signal, stderr }));
  });
}

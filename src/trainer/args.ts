// Argument parsing shared by every command (the global --backend, --verbose and --help too);
// its own file so the commands do not import cli.ts, which imports them.
import { parseArgs } from 'node:util';

export function parse<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(args: string[], options: T) {
  return parseArgs({
    args,
    options: { ...options, backend: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
}

// Where an experiment keeps its state (<runsDir>/experiments/<name>/state.json) and how it is
// read. Shared by the runner (trainer process) and the extension, which lists experiments
// started from anywhere, the CLI included, by reading these files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentState, parseExperimentState } from '../../../protocol/experiment';
import { slugify } from '../runs/store';

export const EXPERIMENTS_DIR = 'experiments';
export const STATE_FILE = 'state.json';

export function experimentDir(spec: { runsDir: string; name: string }): string {
  return join(spec.runsDir, EXPERIMENTS_DIR, slugify(spec.name));
}

/** The state in `dir`, undefined when there is none yet; an unreadable one is an error naming the file. */
export function readExperimentState(dir: string): ExperimentState | undefined {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: unreadable experiment state (${(e as Error).message}); move it away to start the experiment again`);
  }
  return parseExperimentState(raw, path);
}

export interface ExperimentListing {
  dir: string;
  state?: ExperimentState;
  /** Why the state could not be read (listed anyway, so the user sees it). */
  problem?: string;
}

/** Every experiment under a runs folder, newest first. */
export function listExperiments(runsDir: string): ExperimentListing[] {
  const root = join(runsDir, EXPERIMENTS_DIR);
  if (!existsSync(root)) return [];
  const out: ExperimentListing[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (!existsSync(join(dir, STATE_FILE))) continue;
    try {
      out.push({ dir, state: readExperimentState(dir) });
    } catch (e) {
      out.push({ dir, problem: (e as Error).message });
    }
  }
  const at = (l: ExperimentListing) => l.state?.createdAt ?? '';
  return out.sort((a, b) => (at(a) < at(b) ? 1 : at(a) > at(b) ? -1 : 0));
}

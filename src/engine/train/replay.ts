// Replay (rehearsal): general text mixed into a task's training data, so the model keeps
// predicting ordinary text while it learns the task — the classic cure for the forgetting that
// few-shot data causes (here: every example ends in EOS after a short answer, and without
// replay the model learns to stop after every sentence).
import { Rng } from '../random';
import { Example } from '../data/dataset';

/**
 * The task examples plus replay examples making up `fraction` of the result (0 ≤ fraction < 1),
 * drawn without replacement while they last, then again; shuffled into the task data by `rng`.
 */
export function mixReplay(task: Example[], replay: Example[], fraction: number, rng: Rng): Example[] {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`replay fraction must be in [0, 1), got ${fraction}`);
  if (fraction === 0 || replay.length === 0) return task;
  const want = Math.round((fraction / (1 - fraction)) * task.length);
  const picked: Example[] = [];
  let pool: Example[] = [];
  while (picked.length < want) {
    if (pool.length === 0) pool = rng.shuffle([...replay]);
    picked.push(pool.pop()!);
  }
  return rng.shuffle([...task, ...picked]);
}

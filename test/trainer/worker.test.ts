// The inference worker as the extension uses it: forked with IPC, models stay loaded between
// requests, tokens stream, a request can be cancelled.
import { strict as assert } from 'node:assert';
import { fork, ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { parseWorkerResponse, WorkerResponse } from '../../src/protocol/worker';

const CLI = resolve('dist/cli.js');
const MODEL = sharedPath('models/stories260K/stories260K.gguf');

describe('inference worker', function () {
  this.timeout(60_000);
  let child: ChildProcess;
  const inbox: WorkerResponse[] = [];
  /** Replies the extension's validator refused (it reads every reply through parseWorkerResponse). */
  const unreadable: string[] = [];
  const waitFor = (pred: (m: WorkerResponse) => boolean) => new Promise<WorkerResponse>((res) => {
    const found = inbox.find(pred);
    if (found) return res(found);
    const on = (m: WorkerResponse) => {
      if (pred(m)) {
        child.off('message', on);
        res(m);
      }
    };
    child.on('message', on);
  });

  before(async () => {
    child = fork(CLI, ['worker'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (m) => {
      try {
        parseWorkerResponse(m);
      } catch (e) {
        unreadable.push(`${(e as Error).message}: ${JSON.stringify(m).slice(0, 200)}`);
      }
      inbox.push(m as WorkerResponse);
    });
    await waitFor((m) => m.type === 'ready');
  });
  after(() => child.kill());

  it('answers, streams tokens with probabilities, and is warm the second time', async () => {
    child.send({ type: 'generate', id: 1, model: MODEL, prompt: 'Once upon a time', maxTokens: 12, top: 3 });
    const a = (await waitFor((m) => m.type === 'done' && m.id === 1)) as Extract<WorkerResponse, { type: 'done' }>;
    assert.match(a.text, /^, there was a little girl/);
    assert.equal(a.warm, false);
    assert.equal(a.tokens.length, 12);
    assert.ok(a.tokens.every((t) => t.prob > 0 && t.prob <= 1 && t.top.length === 3));
    const streamed = inbox.filter((m) => m.type === 'token' && m.id === 1).map((m) => (m as { text: string }).text).join('');
    assert.equal(streamed, a.text);
    child.send({ type: 'generate', id: 2, model: MODEL, prompt: 'Once upon a time', maxTokens: 12 });
    const b = (await waitFor((m) => m.type === 'done' && m.id === 2)) as Extract<WorkerResponse, { type: 'done' }>;
    assert.equal(b.warm, true);
    assert.equal(b.text, a.text);
  });

  it('cancels a request between tokens', async () => {
    child.send({ type: 'generate', id: 3, model: MODEL, prompt: 'Once upon a time', maxTokens: 400, temperature: 1, seed: 1 });
    await waitFor((m) => m.type === 'token' && m.id === 3);
    child.send({ type: 'cancel', id: 3 });
    const d = (await waitFor((m) => m.type === 'done' && m.id === 3)) as Extract<WorkerResponse, { type: 'done' }>;
    assert.equal(d.stopReason, 'cancelled');
  });

  it('reports a bad model as an error and keeps serving', async () => {
    child.send({ type: 'generate', id: 4, model: '/nonexistent.gguf', prompt: 'x', maxTokens: 2 });
    const e = await waitFor((m) => m.type === 'error' && m.id === 4);
    assert.match((e as { message: string }).message, /nonexistent/);
    child.send({ type: 'generate', id: 5, model: MODEL, prompt: 'Once', maxTokens: 2 });
    await waitFor((m) => m.type === 'done' && m.id === 5);
  });

  it('every reply so far passes the validator the extension reads replies with', () => {
    assert.ok(inbox.some((m) => m.type === 'done') && inbox.some((m) => m.type === 'token') && inbox.some((m) => m.type === 'error'), inbox.map((m) => m.type).join(','));
    assert.deepEqual(unreadable, []);
  });
});

// The prompts file (every bad line named by file:line, all at once, nothing evaluated), answer
// matching, the percentile helper, the verdict line and the eval.json validator.
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePromptCases, readPromptFile } from '../../../src/engine/core/prompts';
import { matches, percentile } from '../../../src/engine/core/match';
import { formatMs, runEval, verdictOf } from '../../../src/engine/eval/report';
import { EvalSection, validateEvalReport } from '../../../src/protocol/eval';

const lines = (...xs: (string | object)[]) => xs.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n');

describe('eval prompts file', () => {
  it('reads cases with defaults: exact match, weight 1, id line-N, no extra stops; blank lines skipped', () => {
    const cases = parsePromptCases(lines(
      { prompt: 'a', expected: 'b' },
      '',
      { id: 'x', prompt: 'c', expected: 'd.*', match: 'regex', weight: 2.5, stop: ['.'] },
      { prompt: 'e' },
    ), 'p.jsonl');
    assert.deepEqual(cases, [
      { id: 'line-1', line: 1, prompt: 'a', expected: 'b', match: 'exact', weight: 1, stop: [] },
      { id: 'x', line: 3, prompt: 'c', expected: 'd.*', match: 'regex', weight: 2.5, stop: ['.'] },
      { id: 'line-4', line: 4, prompt: 'e', expected: undefined, match: 'exact', weight: 1, stop: [] },
    ]);
  });

  it('names file:line for every kind of problem, all in one error', () => {
    const text = lines(
      { prompt: 'ok', id: 'a' },
      '{"prompt": "x",',                                   // 2 not JSON
      { expected: 'y' },                                   // 3 prompt missing
      { prompt: 5 },                                       // 4 prompt not a string
      { prompt: 'x', expected: 'y', match: 'fuzzy' },      // 5 unknown match
      { prompt: 'x', expected: '(unclosed', match: 'regex' }, // 6 invalid regex
      { prompt: 'x', id: 'a' },                            // 7 duplicate id
      { prompt: 'x', weight: 0 },                          // 8 weight not > 0
      { prompt: 'x', stop: 'no' },                         // 9 stop not an array
      { prompt: 'x', completion: 'y' },                    // 10 unknown field
      '[1, 2]',                                            // 11 not an object
      { prompt: 'x', expected: 3 },                        // 12 expected not a string
    );
    let msg = '';
    try {
      parsePromptCases(text, 'p.jsonl');
    } catch (e) {
      msg = (e as Error).message;
    }
    const got = msg.split('\n');
    const want: [number, RegExp][] = [
      [2, /not valid JSON/], [3, /"prompt" is missing/], [4, /"prompt" must be a string, got 5/], [5, /unknown "match" "fuzzy"/],
      [6, /not a valid regular expression/], [7, /duplicate id "a" \(also on line 1\)/], [8, /"weight" must be a number above 0/],
      [9, /"stop" must be an array/], [10, /unknown field "completion".*"expected"/], [11, /expected a JSON object/], [12, /"expected" must be a string/],
    ];
    assert.equal(got.length, want.length, msg);
    want.forEach(([line, re], i) => {
      assert.ok(got[i].startsWith(`p.jsonl:${line}: `), got[i]);
      assert.match(got[i], re);
    });
  });

  it('a case may be a conversation ("messages" ending with a user turn); its prompt is that turn; bad conversations are named', () => {
    const conv = [{ role: 'system', content: 'One word.' }, { role: 'user', content: 'Tom lost his ball. Tom feels' }];
    const [c] = parsePromptCases(lines({ id: 'm', messages: conv, expected: 'sad', stop: ['.'] }), 'p.jsonl');
    assert.deepEqual(c, { id: 'm', line: 1, prompt: 'Tom lost his ball. Tom feels', messages: conv, expected: 'sad', match: 'exact', weight: 1, stop: ['.'] });
    let msg = '';
    try {
      parsePromptCases(lines(
        { messages: [] },                                                       // 1 empty
        { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, // 2 ends with the assistant
        { messages: [{ role: 'tool', content: 'a' }] },                         // 3 unknown role
        { messages: [{ role: 'user', content: 3 }] },                           // 4 content not a string
        { prompt: 'x', messages: [{ role: 'user', content: 'a' }] },            // 5 both
        { expected: 'y' },                                                      // 6 neither
      ), 'p.jsonl');
    } catch (e) {
      msg = (e as Error).message;
    }
    const want: [number, RegExp][] = [
      [1, /"messages" must be a non-empty array/], [2, /last of "messages" must be a "user" turn.*got "assistant"/], [3, /messages\[0\]\.role must be one of "system", "user", "assistant", got "tool"/],
      [4, /messages\[0\]\.content must be a string, got 3/], [5, /both "prompt" and "messages"/], [6, /"prompt" is missing \(or give "messages"\)/],
    ];
    const got = msg.split('\n');
    assert.equal(got.length, want.length, msg);
    want.forEach(([line, re], i) => {
      assert.ok(got[i].startsWith(`p.jsonl:${line}: `), got[i]);
      assert.match(got[i], re);
    });
  });

  it('an empty file is refused, and a missing file says so', () => {
    assert.throws(() => parsePromptCases('\n\n', 'p.jsonl'), /^Error: p\.jsonl: no cases/);
    assert.throws(() => readPromptFile('/nonexistent/p.jsonl'), /p\.jsonl: cannot read .* \(no such file\)/);
  });

  it('a bad prompts file fails before any model is loaded or anything evaluated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-eval-'));
    const p = join(dir, 'bad.jsonl');
    writeFileSync(p, lines({ prompt: 'x', match: 'nope', expected: 'y' }, 'oops'));
    // The model path does not exist: the error must be about the prompts, not the model.
    await assert.rejects(runEval({ model: join(dir, 'missing.gguf'), prompts: p }), (e: Error) => {
      assert.deepEqual(e.message.split('\n').map((l) => l.split(':').slice(0, 2).join(':')), ['bad.jsonl:1', 'bad.jsonl:2']);
      return true;
    });
  });
});

describe('eval matching and statistics', () => {
  it('exact compares trimmed text; contains and regex search the trimmed answer', () => {
    assert.ok(matches('  happy \n', 'happy', 'exact'));
    assert.ok(matches('happy', ' happy ', 'exact'));
    assert.ok(!matches('happy.', 'happy', 'exact'));
    assert.ok(!matches('Happy', 'happy', 'exact'));
    assert.ok(matches(' she was very happy', ' happy', 'contains'));
    assert.ok(!matches(' she was sad', 'happy', 'contains'));
    assert.ok(matches(' happy.', '^happy\\.$', 'regex'));
    assert.ok(matches('The answer is 42!', '\\d+', 'regex'));
    assert.ok(!matches('no digits', '^\\d+$', 'regex'));
  });

  it('percentile interpolates between closest ranks and ignores non-finite values', () => {
    assert.equal(percentile([3, 1, 2], 0.5), 2);
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(percentile([10], 0.95), 10);
    assert.equal(percentile([0, 10], 0.95), 9.5);
    assert.equal(percentile(Array.from({ length: 101 }, (_, i) => i), 0.95), 95);
    assert.equal(percentile([1, NaN, Infinity, 3], 0), 1);
    assert.ok(Number.isNaN(percentile([], 0.5)));
    assert.throws(() => percentile([1], 1.5), /p must be in \[0, 1\]/);
  });

  it('the verdict reads like the issue asks', () => {
    const sec = (accuracy: number | null, p95: number): EvalSection => ({
      accuracy, weightedError: accuracy === null ? null : 1 - accuracy,
      latency: { firstTokenMs: { p50: 1, p95: 2 }, perTokenMs: { p50: p95 / 2, p95 } }, tokensPerSecond: 100, loadMs: 5, peakMemoryMiB: 100,
      stability: { mean: 1, leastStable: [] },
    });
    const ref = { id: 'a', line: 1, weight: 1, expected: 'x', base: 'x', adapted: 'y' };
    assert.equal(verdictOf({ base: sec(0.12, 8), adapted: sec(0.91, 9.2), regressions: [], forgetting: { basePerplexity: 10, adaptedPerplexity: 10.3, changePercent: 3 } }),
      'accuracy 12% → 91% · 0 regressions · forgetting +3% ppl · p95 9.2 ms/token');
    assert.equal(verdictOf({ base: sec(0.12, 9), regressions: [] }), 'accuracy 12% · p95 9 ms/token');
    assert.equal(verdictOf({ base: sec(1, 12.4), adapted: sec(0.5, 0.456), regressions: [ref], forgetting: { basePerplexity: 10, adaptedPerplexity: 8, changePercent: -20 } }),
      'accuracy 100% → 50% · 1 regression · forgetting −20% ppl · p95 0.46 ms/token');
    assert.equal(verdictOf({ base: sec(null, 3), regressions: [] }), 'no expected answers · p95 3 ms/token');
    assert.equal(formatMs(123.4), '123 ms');
  });

  it('the validator lists what is wrong with a report', () => {
    const problems = validateEvalReport({ version: 2, base: { accuracy: 1.5 } });
    assert.ok(problems.includes('report.version: expected one of 1, got 2'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('report.base.accuracy: 1.5 is above 1')), problems.join('\n'));
    assert.ok(problems.includes('report.cases: missing'));
    assert.deepEqual(validateEvalReport(null), ['report: expected an object, got null']);
  });
});

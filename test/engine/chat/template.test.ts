import { strict as assert } from 'node:assert';
import { ChatFormat, ChatMessage, DEFAULT_CHAT_TEMPLATE } from '../../../src/engine/chat/template';

const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
// The same with the replies marked, as templates written for assistant-only loss do.
const CHATML_MARKED = "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}{% generation %}{{ m['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}" +
  "{% else %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
// Rewrites earlier replies (as reasoning templates drop old thoughts): no prompt reproduces them.
const REWRITING = "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ 'A: ' }}{% if loop.last %}{{ m['content'] }}{% else %}{{ m['content'] | upper }}{% endif %}{{ '\\n' }}" +
  "{% else %}{{ 'U: ' + m['content'] + '\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'A: ' }}{% endif %}";
const REWRITING_MARKED = REWRITING.replace("{{ 'A: ' }}{% if loop.last %}", "{{ 'A: ' }}{% generation %}{% if loop.last %}").replace("{% endif %}{{ '\\n' }}", "{% endif %}{% endgeneration %}{{ '\\n' }}");

const conv: ChatMessage[] = [
  { role: 'user', content: 'one' },
  { role: 'assistant', content: 'two' },
  { role: 'user', content: 'three' },
  { role: 'assistant', content: 'four' },
];
const replies = (f: ChatFormat, c = conv) => {
  const r = f.renderWithReplies(c);
  return r.replies.map((s) => r.text.slice(s.start, s.end));
};

describe('chat/template', () => {
  it('finds the replies by prefix comparison, with the end-of-turn marker and without the newline after it', () => {
    const f = new ChatFormat(CHATML, 'model');
    assert.deepEqual(replies(f), ['two<|im_end|>', 'four<|im_end|>']);
    assert.equal(f.hasGenerationMarkers, false);
  });

  it('reads {% generation %} markers where the template has them, to the same spans', () => {
    const marked = new ChatFormat(CHATML_MARKED, 'model');
    assert.equal(marked.hasGenerationMarkers, true);
    assert.equal(marked.render(conv, false), new ChatFormat(CHATML, 'model').render(conv, false), 'the markers print nothing');
    assert.deepEqual(marked.renderWithReplies(conv), new ChatFormat(CHATML, 'model').renderWithReplies(conv));
  });

  it('refuses a template that rewrites earlier turns, unless it marks the replies', () => {
    assert.throws(() => replies(new ChatFormat(REWRITING, 'model')), /does not render the conversation up to assistant message 2 as the prompt for it followed by the reply.*generation/);
    assert.deepEqual(replies(new ChatFormat(REWRITING_MARKED, 'model')), ['TWO', 'four']);
  });

  it('the default template: role markers, EOS after each reply', () => {
    const f = new ChatFormat(DEFAULT_CHAT_TEMPLATE, 'default', { bosToken: '<s>', eosToken: '</s>' });
    assert.equal(f.render(conv, false), '<|user|>\none\n<|assistant|>\ntwo</s>\n<|user|>\nthree\n<|assistant|>\nfour</s>\n');
    assert.equal(f.prompt(conv.slice(0, 1)), '<|user|>\none\n<|assistant|>\n');
    assert.deepEqual(replies(f), ['two</s>', 'four</s>']);
    assert.equal(f.turnEnd(), '</s>');
  });

  it('names the template in errors: invalid Jinja, raise_exception', () => {
    assert.throws(() => new ChatFormat('{% for m in messages %}', 'model'), /model's chat template is not valid Jinja/);
    const strict = new ChatFormat("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}", 'model');
    assert.throws(() => strict.render([{ role: 'system', content: 'x' }], true), /model's chat template fails on this conversation: .*System role not supported/);
  });
});

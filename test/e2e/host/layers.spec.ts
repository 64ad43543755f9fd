// Inside a real VS Code: the manifest's commands are registered, and the Layers view shows
// stories260K's module tree with the right counts and keeps the trainable total.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { api, moodData, REPO, STORIES } from './util';

describe('Adapt Lab in the extension host', () => {
  it('registers every command the manifest contributes', async () => {
    await api();
    const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = manifest.contributes.commands.map((c) => c.command).filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
    assert.ok(manifest.contributes.commands[0].command === 'adaptLab.adaptModel');
  });

  it('Layers opens on the embedded model when the workspace has chosen none', async () => {
    const a = await api();
    // Activation reads the model in a child process: wait for it.
    for (let i = 0; i < 200 && !a.layers.info; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.layers.modelPath, join(REPO, 'models', 'adapt-lab-tiny'));
    assert.equal(a.layers.info?.totalParams, 1_115_264);
  });

  it('Layers lists the stories260K modules with parameter counts', async () => {
    const a = await api();
    await vscode.commands.executeCommand('adaptLab.chooseModel', STORIES());
    const layers = a.layers;
    assert.equal(layers.info?.totalParams, 292_800);
    const top = layers.getChildren();
    assert.deepEqual(top.map((n) => n.path), ['model', 'lm_head']);
    const model = top[0];
    assert.deepEqual(layers.getChildren(model).map((n) => n.path), ['model.embed_tokens', 'model.layers', 'model.norm']);
    const blocks = layers.getChildren(layers.find('model.layers')!);
    assert.deepEqual(blocks.map((n) => n.path), [0, 1, 2, 3, 4].map((i) => `model.layers.${i}`));
    const block0 = layers.getTreeItem(blocks[0]);
    assert.equal(block0.label, 'layers.0');
    assert.equal(block0.description, '45,440');
    const attn = layers.getChildren(layers.find('model.layers.0.self_attn')!);
    assert.deepEqual(attn.map((n) => n.name), ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    assert.deepEqual(attn.map((n) => layers.getTreeItem(n).description), ['4,096', '2,048', '2,048', '4,096']);
    assert.equal(layers.getChildren(attn[0]).length, 0, 'q_proj is a leaf (its weight tensor is not listed)');
    assert.equal(layers.getTreeItem(attn[0]).contextValue, 'linear nolora');
    assert.equal(a.layersView.description, '292,800 params, none trainable');
  });

  it('ticking a block changes the trainable count; LoRA toggles on linear modules', async () => {
    const a = await api();
    const layers = a.layers;
    layers.clear();
    layers.setTicked('model.layers.4', true);
    assert.equal(layers.trainable, 45_440);
    assert.equal(a.layersView.description, '45,440 trainable (15.52%)');
    const checked = (p: string) => layers.getTreeItem(layers.find(p)!).checkboxState;
    assert.equal(checked('model.layers.4'), vscode.TreeItemCheckboxState.Checked);
    assert.equal(checked('model.layers.4.mlp.down_proj'), vscode.TreeItemCheckboxState.Checked, 'children follow their parent');
    assert.equal(checked('model.layers'), vscode.TreeItemCheckboxState.Unchecked, 'a partly ticked parent shows unticked');
    assert.match(String(layers.getTreeItem(layers.find('model.layers')!).description), /partly/);
    layers.setTicked('model.layers.4.mlp', false);
    assert.equal(layers.trainable, 45_440 - 3 * 11_008);
    await vscode.commands.executeCommand('adaptLab.layers.addLora', layers.find('model.layers.0.self_attn.q_proj'));
    const q = layers.getTreeItem(layers.find('model.layers.0.self_attn.q_proj')!);
    assert.match(String(q.description), /LoRA/);
    assert.equal(q.contextValue, 'linear lora');
    assert.equal(layers.trainable, 45_440 - 3 * 11_008 + 8 * (64 + 64));
    assert.deepEqual(layers.selection()?.adapt, {
      unfreeze: ['model.layers.4.input_layernorm', 'model.layers.4.self_attn', 'model.layers.4.post_attention_layernorm'],
      lora: { rank: 8, alpha: 16, dropout: 0.05, targetModules: ['model.layers.0.self_attn.q_proj'] },
    });
    await vscode.commands.executeCommand('adaptLab.layers.biasesNorms');
    assert.equal(layers.trainable, 11 * 64);
    await vscode.commands.executeCommand('adaptLab.layers.lastBlocks', 2);
    assert.equal(layers.trainable, 2 * 45_440);
    await vscode.commands.executeCommand('adaptLab.layers.clear');
    assert.equal(layers.trainable, 0);
  });

  it('Suggest Layers ranks modules in a child process and ticks the top five', async () => {
    const a = await api();
    const { train } = moodData();
    const modules = await vscode.commands.executeCommand<{ path: string; score: number }[]>('adaptLab.suggestLayers', train);
    assert.ok(modules && modules.length >= 5, 'scores came back');
    const top = modules.slice(0, 5).map((m) => m.path);
    for (const p of top) assert.equal(a.layers.getTreeItem(a.layers.find(p)!).checkboxState, vscode.TreeItemCheckboxState.Checked, p);
    assert.match(String(a.layers.getTreeItem(a.layers.find(top[0])!).description), /#1 score/);
    assert.ok(a.layers.trainable > 0);
    a.layers.clear();
  });
});

// The Get Started walkthrough's commands: Open Samples and Run Demo.
import * as vscode from 'vscode';
import { registerGuarded } from '../commands';
import type { Shared } from '../shared';
import { DemoCommands, Walkthrough } from './walkthrough';

export function register(context: vscode.ExtensionContext, s: Shared, demo: DemoCommands & { setActiveRun: (runDir: string) => boolean }): Walkthrough {
  const walkthrough = new Walkthrough(context, demo, demo.setActiveRun);
  context.subscriptions.push(
    registerGuarded('adaptLab.openSamples', (only?: string) => walkthrough.openSamples(typeof only === 'string' ? only : undefined), s.log),
    registerGuarded('adaptLab.runDemo', () => walkthrough.runDemo(), s.log),
  );
  return walkthrough;
}

// The exp extension's only code: it starts `exp lsp` (the language server built into the `exp`
// binary) for .exp files, through Microsoft's language client. The server loads no plugin a
// file names until its folder is trusted; VS Code's own workspace trust is passed on, so a
// trusted workspace's folders count as trusted for the session.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function trustedFolders() {
  if (!vscode.workspace.isTrusted) {
    return [];
  }
  return (vscode.workspace.workspaceFolders || []).map((folder) => folder.uri.fsPath);
}

function activate(context) {
  const command = vscode.workspace.getConfiguration('exp').get('path') || 'exp';
  client = new LanguageClient(
    'exp',
    'exp language server',
    { command, args: ['lsp'] },
    {
      documentSelector: [{ scheme: 'file', language: 'exp' }],
      // Read again on every (re)start.
      initializationOptions: () => ({ trustedFolders: trustedFolders() }),
    },
  );
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => client.restart()),
    vscode.commands.registerCommand('exp.restartServer', () => client.restart()),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

//! `exp lsp`: a language server over standard input and output, built on the checker `exp
//! check` runs. It publishes every diagnostic of a file as it is typed (the same codes, notes and
//! help), completes component names by the kind the place wants and their parameters (with
//! docs, types, defaults and ranges), shows hovers, goes to definitions (names, lets, templates,
//! imports, into the stdlib), lists a file's symbols, formats through `exp fmt`'s formatter and
//! renames a definition with its uses.
//!
//! Components come from the schema cache and, for plugins missing from it that the server may
//! load, from `exp-host cache-plugins` in a process of its own: the server itself loads no
//! plugin, so a plugin that crashes cannot take it down. Which plugins it may load is a
//! question of trust (`trust`). Check rules of components are answered as in `exp check` when
//! the cache holds an answer for the parameters, and otherwise not checked as you type
//! (`CachedCatalog`).
//!
//! Changes are applied as they come; diagnostics are computed once the queue of messages is
//! empty, so a burst of keystrokes costs one check.

mod analysis;
mod context;
mod features;
mod line_index;
mod navigation;
mod trust;
mod uri;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, ExecuteCommand, Formatting,
    GotoDefinition, HoverRequest, PrepareRenameRequest, Rename, Request as _,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionProviderCapability,
    CompletionOptions, DocumentSymbolResponse, ExecuteCommandOptions, GotoDefinitionResponse,
    HoverProviderCapability, NumberOrString, OneOf, PrepareRenameResponse,
    PublishDiagnosticsParams, RenameOptions, SaveOptions, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, TextEdit, Uri, WorkspaceEdit,
};

use crate::lsp::analysis::{analyse, catalog_for, Analysis, CatalogState, UNTRUSTED};
use crate::lsp::navigation::RenameRefused;
use crate::lsp::trust::Trust;
use crate::Exit;

/// The command that trusts a folder (its argument: the folder's path).
const TRUST_COMMAND: &str = "exp.trustFolder";

/// The stack of the server's thread: the checker follows long chains of definitions
/// recursively (see `experiment::CHECK_STACK_BYTES`).
const STACK_BYTES: usize = 512 * 1024 * 1024;

/// Serves until the client says `exit`.
pub fn serve() -> Exit {
    let server = std::thread::Builder::new()
        .name("lsp".into())
        .stack_size(STACK_BYTES)
        .spawn(run);
    match server.map(|thread| thread.join()) {
        Ok(Ok(Ok(()))) => Exit::Success,
        Ok(Ok(Err(message))) => {
            eprintln!("error: exp lsp: {message}");
            Exit::Fatal
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => {
            eprintln!("error: cannot start the language server's thread: {error}");
            Exit::Fatal
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![
                ":".into(),
                "{".into(),
                "[".into(),
                ",".into(),
                " ".into(),
            ]),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![TRUST_COMMAND.to_string()],
            ..ExecuteCommandOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

fn run() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities()).map_err(|error| error.to_string())?;
    let params = connection
        .initialize(capabilities)
        .map_err(|error| error.to_string())?;
    let session: Vec<PathBuf> = params["initializationOptions"]["trustedFolders"]
        .as_array()
        .map(|folders| {
            folders
                .iter()
                .filter_map(|folder| folder.as_str().map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default();
    let mut server = Server {
        connection: &connection,
        trust: Trust::load(session),
        documents: HashMap::new(),
        catalogs: HashMap::new(),
        dirty: BTreeSet::new(),
    };
    while let Ok(message) = connection.receiver.recv() {
        match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|error| error.to_string())?
                {
                    break;
                }
                server.request(request);
            }
            Message::Notification(notification) => {
                if notification.method == "exit" {
                    break;
                }
                server.notification(notification);
            }
            Message::Response(_) => {}
        }
        if connection.receiver.is_empty() {
            server.publish_dirty();
        }
    }
    drop(server);
    drop(connection);
    io_threads.join().map_err(|error| error.to_string())
}

/// An open document.
struct Document {
    version: i32,
    path: PathBuf,
    analysis: Analysis,
}

struct Server<'c> {
    connection: &'c Connection,
    trust: Trust,
    documents: HashMap<Uri, Document>,
    /// Catalogs by the `plugin` lines of a file and whether its folder is trusted; dropped on
    /// save (a plugin may have been rebuilt) and when trust changes.
    catalogs: HashMap<(Vec<PathBuf>, bool), Rc<CatalogState>>,
    /// Documents changed since their diagnostics were last published.
    dirty: BTreeSet<String>,
}

impl Server<'_> {
    fn send(&self, message: Message) {
        // The client is gone when this fails; the loop ends when the channel closes.
        let _ = self.connection.sender.send(message);
    }

    fn reply<R: serde::Serialize>(&self, id: RequestId, result: R) {
        self.send(Response::new_ok(id, result).into());
    }

    /// A request's parameters; `None` once the client is told they are malformed.
    fn params<P: serde::de::DeserializeOwned>(&self, request: Request, what: &str) -> Option<P> {
        let id = request.id.clone();
        let method = request.method.clone();
        match request.extract::<P>(&method) {
            Ok((_, params)) => Some(params),
            Err(_) => {
                self.fail(id, ErrorCode::InvalidParams, format!("bad {what} params"));
                None
            }
        }
    }

    fn fail(&self, id: RequestId, code: ErrorCode, message: String) {
        self.send(Response::new_err(id, code as i32, message).into());
    }

    /// The catalog for a file, built the first time its `plugin` lines and trust are seen.
    fn catalog(&mut self, path: &Path, text: &str) -> (Rc<CatalogState>, bool) {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let explicit: Vec<PathBuf> = crate::plugin_files::plugin_lines(text, &base)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        let trusted = self.trust.is_trusted(&base);
        let state = self
            .catalogs
            .entry((explicit.clone(), trusted))
            .or_insert_with(|| Rc::new(catalog_for(&explicit, trusted)))
            .clone();
        (state, trusted)
    }

    fn set_text(&mut self, uri: Uri, version: i32, text: String) {
        let Some(path) = uri::to_path(&uri) else {
            return;
        };
        let (state, trusted) = self.catalog(&path, &text);
        let analysis = analyse(&path, text, &state, trusted);
        self.dirty.insert(uri.as_str().to_string());
        self.documents.insert(
            uri,
            Document {
                version,
                path,
                analysis,
            },
        );
    }

    /// Checks every document again (after a save or a change of trust).
    fn reanalyse_all(&mut self) {
        let open: Vec<(Uri, i32, String)> = self
            .documents
            .iter()
            .map(|(uri, document)| {
                (
                    uri.clone(),
                    document.version,
                    document.analysis.text.clone(),
                )
            })
            .collect();
        for (uri, version, text) in open {
            self.set_text(uri, version, text);
        }
    }

    fn publish_dirty(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            let Some((uri, document)) = self.documents.iter().find(|(uri, _)| uri.as_str() == key)
            else {
                continue;
            };
            let params = PublishDiagnosticsParams::new(
                uri.clone(),
                document.analysis.diagnostics.clone(),
                Some(document.version),
            );
            self.send(Notification::new(PublishDiagnostics::METHOD.to_string(), params).into());
        }
    }

    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = notification
                    .extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                {
                    let document = params.text_document;
                    self.set_text(document.uri, document.version, document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidChangeTextDocumentParams>(
                    DidChangeTextDocument::METHOD,
                ) {
                    // Full synchronisation: the last change holds the whole text.
                    if let Some(change) = params.content_changes.into_iter().last() {
                        let document = params.text_document;
                        self.set_text(document.uri, document.version, change.text);
                    }
                }
            }
            DidSaveTextDocument::METHOD => {
                self.catalogs.clear();
                self.reanalyse_all();
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = notification
                    .extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    let uri = params.text_document.uri;
                    self.documents.remove(&uri);
                    self.dirty.remove(uri.as_str());
                    let params = PublishDiagnosticsParams::new(uri, Vec::new(), None);
                    self.send(
                        Notification::new(PublishDiagnostics::METHOD.to_string(), params).into(),
                    );
                }
            }
            _ => {}
        }
    }

    /// The document and byte offset a position request names.
    fn at(&self, position: &lsp_types::TextDocumentPositionParams) -> Option<(&Document, usize)> {
        let document = self.documents.get(&position.text_document.uri)?;
        let analysis = &document.analysis;
        let offset = analysis.index.offset(&analysis.text, position.position);
        Some((document, offset))
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        match request.method.as_str() {
            Completion::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::CompletionParams>(request, "completion")
                else {
                    return;
                };
                let items = self
                    .at(&params.text_document_position)
                    .map(|(document, offset)| {
                        let (state, _) =
                            self.catalog_cached(&document.path, &document.analysis.text);
                        features::complete(&document.analysis, &state.catalog, offset)
                    });
                self.reply(id, items.unwrap_or_default());
            }
            HoverRequest::METHOD => {
                let Some(params) = self.params::<lsp_types::HoverParams>(request, "hover") else {
                    return;
                };
                let hover = self.at(&params.text_document_position_params).and_then(
                    |(document, offset)| {
                        let (state, _) =
                            self.catalog_cached(&document.path, &document.analysis.text);
                        features::hover(&document.analysis, &state.catalog, offset)
                    },
                );
                self.reply(id, hover);
            }
            GotoDefinition::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::GotoDefinitionParams>(request, "definition")
                else {
                    return;
                };
                let found = self
                    .at(&params.text_document_position_params)
                    .and_then(|(document, offset)| {
                        navigation::definition(&document.analysis, offset)
                    })
                    .map(GotoDefinitionResponse::Scalar);
                self.reply(id, found);
            }
            DocumentSymbolRequest::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::DocumentSymbolParams>(request, "symbol")
                else {
                    return;
                };
                let symbols = self
                    .documents
                    .get(&params.text_document.uri)
                    .map(|document| {
                        DocumentSymbolResponse::Nested(navigation::symbols(&document.analysis))
                    });
                self.reply(id, symbols);
            }
            Formatting::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::DocumentFormattingParams>(request, "formatting")
                else {
                    return;
                };
                let edits = self
                    .documents
                    .get(&params.text_document.uri)
                    .and_then(|document| {
                        let analysis = &document.analysis;
                        // A file with syntax errors is left as it is (its diagnostics say why).
                        let formatted = exp_syntax::format(&analysis.text).ok()?;
                        (formatted != analysis.text).then(|| {
                            vec![TextEdit::new(
                                analysis.index.range(&analysis.text, 0, analysis.text.len()),
                                formatted,
                            )]
                        })
                    });
                self.reply(id, edits);
            }
            PrepareRenameRequest::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::TextDocumentPositionParams>(request, "rename")
                else {
                    return;
                };
                match self.at(&params).map(|(document, offset)| {
                    navigation::prepare_rename(&document.analysis, offset)
                }) {
                    Some(Ok(range)) => self.reply(id, PrepareRenameResponse::Range(range)),
                    Some(Err(refused)) => {
                        self.fail(id, ErrorCode::RequestFailed, refusal_text(&refused))
                    }
                    None => self.reply(id, ()),
                }
            }
            Rename::METHOD => {
                let Some(params) = self.params::<lsp_types::RenameParams>(request, "rename") else {
                    return;
                };
                let position = params.text_document_position;
                let renamed = self.at(&position).map(|(document, offset)| {
                    navigation::rename(&document.analysis, offset, &params.new_name)
                });
                match renamed {
                    Some(Ok(edits)) => {
                        // `Uri` caches its parsed parts, which clippy counts as interior
                        // mutability; the key is never changed once in the map.
                        #[allow(clippy::mutable_key_type)]
                        let changes = HashMap::from([(position.text_document.uri, edits)]);
                        self.reply(id, WorkspaceEdit::new(changes));
                    }
                    Some(Err(refused)) => {
                        self.fail(id, ErrorCode::RequestFailed, refusal_text(&refused))
                    }
                    None => self.reply(id, ()),
                }
            }
            CodeActionRequest::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::CodeActionParams>(request, "code action")
                else {
                    return;
                };
                let actions: Vec<CodeActionOrCommand> = params
                    .context
                    .diagnostics
                    .iter()
                    .filter(|diagnostic| {
                        diagnostic.code == Some(NumberOrString::String(UNTRUSTED.into()))
                    })
                    .filter_map(|diagnostic| {
                        let folder = diagnostic.data.as_ref()?["folder"].as_str()?.to_string();
                        Some(CodeActionOrCommand::CodeAction(CodeAction {
                            title: format!("Trust `{folder}` and load the plugins its files name"),
                            kind: Some(CodeActionKind::QUICKFIX),
                            diagnostics: Some(vec![diagnostic.clone()]),
                            command: Some(lsp_types::Command::new(
                                "Trust folder".into(),
                                TRUST_COMMAND.into(),
                                Some(vec![serde_json::Value::String(folder)]),
                            )),
                            ..CodeAction::default()
                        }))
                    })
                    .take(1)
                    .collect();
                self.reply(id, actions);
            }
            ExecuteCommand::METHOD => {
                let Some(params) =
                    self.params::<lsp_types::ExecuteCommandParams>(request, "command")
                else {
                    return;
                };
                let folder = params.arguments.first().and_then(|folder| folder.as_str());
                match (params.command.as_str(), folder) {
                    (TRUST_COMMAND, Some(folder)) => {
                        if let Err(error) = self.trust.trust(Path::new(folder)) {
                            return self.fail(
                                id,
                                ErrorCode::RequestFailed,
                                format!("cannot remember the trusted folder: {error}"),
                            );
                        }
                        self.catalogs.clear();
                        self.reanalyse_all();
                        self.reply(id, ());
                    }
                    _ => self.fail(
                        id,
                        ErrorCode::InvalidParams,
                        format!("unknown command `{}`", params.command),
                    ),
                }
            }
            _ => self.fail(
                id,
                ErrorCode::MethodNotFound,
                format!("exp lsp does not answer `{}`", request.method),
            ),
        }
    }

    /// The catalog a document was checked against (without building one anew).
    fn catalog_cached(&self, path: &Path, text: &str) -> (Rc<CatalogState>, bool) {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let explicit: Vec<PathBuf> = crate::plugin_files::plugin_lines(text, &base)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        let trusted = self.trust.is_trusted(&base);
        match self.catalogs.get(&(explicit, trusted)) {
            Some(state) => (state.clone(), trusted),
            // The text's plugin lines changed since it was checked: use any catalog built.
            None => match self.catalogs.values().next() {
                Some(state) => (state.clone(), trusted),
                None => (Rc::new(catalog_for(&[], false)), trusted),
            },
        }
    }
}

fn refusal_text(refused: &RenameRefused) -> String {
    match refused {
        RenameRefused::NotADefinition => "only a name this file defines can be renamed".into(),
        RenameRefused::DoesNotParse => "the file has syntax errors; fix them to rename".into(),
        RenameRefused::BadName(name) => format!("`{name}` cannot name a definition: use letters, digits and `_`, not starting with a digit, and no keyword"),
    }
}

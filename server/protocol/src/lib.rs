//! What nib's server and its clients share (the benchmarks' LSP client, plugin processes, editors' tests): LSP's
//! framing, the names of nib's own methods and commands (documented in docs/lsp-extensions.md), and the
//! acceptance figures `nib/status` carries. Shapes only: no I/O, no LSP types.

pub mod acceptance;
pub mod framing;

/// nib's own requests and notifications.
pub mod method {
    /// Request: the model, the index, the engine's counters, the settings and the acceptance figures.
    pub const STATUS: &str = "nib/status";
    /// Notification to a client that asked for it: `nib/status` changed.
    pub const STATUS_CHANGED: &str = "nib/statusChanged";
    /// Request: a document's text and version as the server holds it.
    pub const DOCUMENT: &str = "nib/document";
    /// Notification from a client: the cursor rests (warm-ahead, next edits).
    pub const CURSOR_REST: &str = "nib/cursorRest";
    /// Request: the next edits at a place.
    pub const NEXT_EDITS: &str = "nib/nextEdits";
    /// Notification to the client: a suggestion answered empty for lack of time is ready.
    pub const SUGGESTION_READY: &str = "nib/suggestionReady";
    /// Request to a client that said it can: choose a model file.
    pub const CHOOSE_MODEL_FILE: &str = "nib/chooseModelFile";
}

/// The commands nib's server executes (`workspace/executeCommand`).
pub mod command {
    /// Review a document now (argument: its URI).
    pub const REVIEW: &str = "nib.review";
    /// A client applied a next edit (argument: the edit's id).
    pub const ACCEPT_NEXT_EDIT: &str = "nib.acceptNextEdit";
    /// An editor inserted a suggestion (`InlineCompletionItem.command`, with the document's URI and the
    /// suggestion's id): an acceptance the edits alone would miss (an editor that changed the text as it inserted
    /// it) still counts, and one they saw is not counted twice.
    pub const ACCEPTED_SUGGESTION: &str = "nib.acceptedSuggestion";
    /// Offer the models again (or say why not).
    pub const SETUP_MODEL: &str = "nib.setupModel";
}

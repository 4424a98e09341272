//! Requests about a place in a document answer for the text it held when they arrived.
//!
//! tower-lsp runs handlers side by side, but polls each one first in the order its message came, and document
//! notifications apply their edits in that first poll, before any `.await`. A request takes its `Arrival` in its
//! first poll too: its position is resolved in exactly the text the client had when it sent the request, never
//! in one holding edits sent after it. Whatever the request then waits for (its tree, the model), once the
//! document has moved on it answers as superseded: empty, and counted for `nib/status`.

use std::collections::BTreeMap;
use std::future::Future;

use parking_lot::Mutex;
use tower_lsp_server::jsonrpc::Error;
use tower_lsp_server::ls_types::{Position, Uri};

use crate::convert;
use nib_text::documents::{Document, DocumentError, DocumentStore, Revision};

/// The document has moved on (an edit, a close) since the request arrived, or a newer request has taken its
/// place: it answers empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superseded;

/// How a request about a document ends without an answer of its own.
#[derive(Debug)]
pub enum Unanswered {
    Superseded,
    Error(Error),
}

impl From<Superseded> for Unanswered {
    fn from(_: Superseded) -> Unanswered {
        Unanswered::Superseded
    }
}

impl From<Error> for Unanswered {
    fn from(error: Error) -> Unanswered {
        Unanswered::Error(error)
    }
}

/// What a superseded request answers: nothing, in its method's shape.
pub trait Empty {
    fn empty() -> Self;
}

/// Where a request's position fell in its document when the request arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub uri: Uri,
    pub position: Position,
    /// The position as a char offset in the text of `revision`.
    pub cursor: usize,
    revision: Revision,
}

impl Arrival {
    /// Resolves `position` in `uri` as the document is now: take it before the handler's first `.await`. An
    /// error for a document not open or a position outside its text: the client's mistake, not a race.
    pub fn new(documents: &DocumentStore, uri: &Uri, position: Position) -> Result<Arrival, DocumentError> {
        let (revision, cursor) = documents.locate(uri.as_str(), convert::position(position, documents.encoding()))?;
        Ok(Arrival { uri: uri.clone(), position, cursor, revision })
    }

    /// The document as the request found it, once its tree describes that text (after `wait`, without it).
    pub async fn parsed(&self, documents: &DocumentStore, wait: std::time::Duration) -> Result<Document, Superseded> {
        documents.parsed_at(self.uri.as_str(), self.revision, wait).await.map_err(|_| Superseded)
    }

    /// The version of the text the request arrived at.
    pub fn version(&self) -> i32 {
        self.revision.version()
    }

    /// Whether the document still holds the text the request arrived at.
    pub fn is_current(&self, documents: &DocumentStore) -> bool {
        documents.revision(self.uri.as_str()) == Ok(self.revision)
    }

    /// `Superseded` once the document has moved on.
    pub fn current(&self, documents: &DocumentStore) -> Result<(), Superseded> {
        if self.is_current(documents) { Ok(()) } else { Err(Superseded) }
    }
}

/// Requests answered as superseded since start, by method.
#[derive(Debug, Default)]
pub struct SupersededCounts(Mutex<BTreeMap<&'static str, u64>>);

impl SupersededCounts {
    /// Answers a request about a document: what it handled to, or, superseded, its empty answer, counted.
    pub async fn answer<T: Empty>(
        &self,
        method: &'static str,
        handled: impl Future<Output = Result<T, Unanswered>>,
    ) -> Result<T, Error> {
        match handled.await {
            Ok(answer) => Ok(answer),
            Err(Unanswered::Superseded) => {
                *self.0.lock().entry(method).or_default() += 1;
                Ok(T::empty())
            }
            Err(Unanswered::Error(error)) => Err(error),
        }
    }

    pub fn by_method(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nib_text::documents::{Column, PositionEncoding, TextChange};

    impl Empty for Vec<u8> {
        fn empty() -> Vec<u8> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn a_request_resolves_its_position_in_the_text_it_arrived_at_and_is_superseded_by_a_later_edit() {
        let documents = DocumentStore::new(PositionEncoding::Utf16);
        let uri: Uri = "file:///a.py".parse().unwrap();
        documents.open(uri.as_str(), "a = 1\nb = 2\nc = 3\n", 1, "python").unwrap();
        let arrival = Arrival::new(&documents, &uri, Position { line: 2, character: 5 }).unwrap();
        assert_eq!((arrival.cursor, arrival.version()), (17, 1));
        // The last two lines go: the position is past the end of the text now, not of the one it was sent for.
        let start = nib_text::documents::Position { line: 1, column: Column::Utf16(0) };
        let end = nib_text::documents::Position { line: 3, column: Column::Utf16(0) };
        documents.change(uri.as_str(), 2, &[TextChange { range: Some((start, end)), text: String::new() }]).unwrap();
        assert!(Arrival::new(&documents, &uri, Position { line: 2, character: 5 }).is_err());
        assert!(!arrival.is_current(&documents));
        assert_eq!(arrival.parsed(&documents, std::time::Duration::from_secs(5)).await.err(), Some(Superseded));

        let counts = SupersededCounts::default();
        let superseded = counts.answer("a/method", async { Err::<Vec<u8>, _>(Superseded.into()) }).await;
        assert_eq!(superseded.ok(), Some(Vec::new()));
        let answered = counts.answer("a/method", async { Ok::<_, Unanswered>(vec![1]) }).await;
        assert_eq!(answered.ok(), Some(vec![1]));
        let failed = counts.answer("b/method", async { Err::<Vec<u8>, _>(Error::invalid_params("no").into()) }).await;
        assert!(failed.is_err());
        assert_eq!(counts.by_method(), BTreeMap::from([("a/method", 1)]));
    }
}

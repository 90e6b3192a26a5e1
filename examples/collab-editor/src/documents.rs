//! The documents: a yrs `Doc` per name, loaded from disk on first use and saved back when changed.
//!
//! A document is saved as its whole state (`<dir>/<name>.ydoc`, Yjs update encoding v1), written to a temporary
//! file, flushed to disk and renamed over the old one, so that a crash mid-write leaves the previous version,
//! never half of one.
//!
//! A document with no member left is closed once all its changes are saved (see [`Documents::close_if_saved`]), and
//! loaded again from its file when someone opens it. Limits: at most [`MAX_OPEN`] documents are open at once, and a
//! document takes at most [`MAX_DOCUMENT_BYTES`] of updates.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, Update};

/// Longest document name.
pub const MAX_NAME: usize = 64;
/// Most documents open at once.
pub const MAX_OPEN: usize = 1024;
/// Most bytes of updates a document takes (its saved size grows by at most as much).
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// Why a document or an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The name is not 1 to 64 of `a-z 0-9 _ -`.
    #[error("a document name is 1 to {MAX_NAME} of a-z, 0-9, '_' and '-'")]
    BadName,
    /// The bytes are not a Yjs update or state vector (v1 encoding).
    #[error("not a valid Yjs {0} (v1 encoding)")]
    Malformed(&'static str),
    /// [`MAX_OPEN`] documents are open.
    #[error("too many documents are open")]
    TooMany,
    /// The document reached [`MAX_DOCUMENT_BYTES`].
    #[error("this document is full ({MAX_DOCUMENT_BYTES} bytes of edits)")]
    Full,
    /// The document was closed meanwhile: open it again (from its file) and retry.
    #[error("the document was closed")]
    Closed,
    /// The saved file could not be read or is not a Yjs document.
    #[error("document {name:?} could not be loaded from {path}: {reason}")]
    Load {
        /// The document.
        name: String,
        /// Its file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// One shared document.
pub struct Document {
    doc: Doc,
    text: TextRef,
    dirty: AtomicBool,
    /// Set when the document is closed: held while an update is applied, so that an update never lands in a
    /// closed copy (it is applied to the reopened one instead).
    closed: Mutex<bool>,
    /// Bytes of updates taken so far (the saved state's size to start with): an upper bound of its size.
    bytes: AtomicUsize,
}

impl Document {
    fn new() -> Self {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("text");
        Document { doc, text, dirty: AtomicBool::new(false), closed: Mutex::new(false), bytes: AtomicUsize::new(0) }
    }

    /// What a client with state vector `client_sv` lacks (an update), and the server's state vector, so that the
    /// client can send what the server lacks in turn.
    pub fn sync(&self, client_sv: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DocumentError> {
        let sv = StateVector::decode_v1(client_sv).map_err(|_| DocumentError::Malformed("state vector"))?;
        let txn = self.doc.transact();
        Ok((txn.encode_state_as_update_v1(&sv), txn.state_vector().encode_v1()))
    }

    /// Applies a client's update (one it made, or one it had that the server lacked).
    pub fn apply(&self, update: &[u8]) -> Result<(), DocumentError> {
        let closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if *closed {
            return Err(DocumentError::Closed);
        }
        if self.bytes.fetch_add(update.len(), Ordering::AcqRel) + update.len() > MAX_DOCUMENT_BYTES {
            self.bytes.fetch_sub(update.len(), Ordering::AcqRel);
            return Err(DocumentError::Full);
        }
        let update = Update::decode_v1(update).map_err(|_| DocumentError::Malformed("update"))?;
        self.doc.transact_mut().apply_update(update).map_err(|_| DocumentError::Malformed("update"))?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// The text as it stands.
    pub fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Appends text (for seeding a new document).
    pub fn append(&self, text: &str) {
        let mut txn = self.doc.transact_mut();
        let end = self.text.len(&txn);
        self.text.insert(&mut txn, end, text);
        drop(txn);
        self.dirty.store(true, Ordering::Release);
    }

    fn encode(&self) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(&StateVector::default())
    }
}

/// Every open document, and the folder they are saved in.
pub struct Documents {
    dir: PathBuf,
    open: Mutex<HashMap<String, Arc<Document>>>,
    /// Held while saving: one save at a time, so that two never write the same file.
    saving: Mutex<()>,
}

impl Documents {
    /// Documents saved in `dir` (created if missing).
    pub fn in_dir(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Documents { dir, open: Mutex::new(HashMap::new()), saving: Mutex::new(()) })
    }

    /// The folder documents are saved in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The document `name`: open already, loaded from its file, or new and empty.
    pub fn get(&self, name: &str) -> Result<Arc<Document>, DocumentError> {
        check_name(name)?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(document) = open.get(name) {
            return Ok(document.clone());
        }
        if open.len() >= MAX_OPEN {
            return Err(DocumentError::TooMany);
        }
        let path = self.path_of(name);
        let document = Document::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let load = |reason: String| DocumentError::Load {
                    name: name.to_owned(),
                    path: path.display().to_string(),
                    reason,
                };
                document.bytes.store(bytes.len(), Ordering::Release);
                let update = Update::decode_v1(&bytes).map_err(|e| load(e.to_string()))?;
                document.doc.transact_mut().apply_update(update).map_err(|e| load(e.to_string()))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(DocumentError::Load {
                    name: name.to_owned(),
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        }
        let document = Arc::new(document);
        open.insert(name.to_owned(), document.clone());
        Ok(document)
    }

    /// Writes every document changed since it was last saved; returns how many were written. A document that
    /// could not be written stays marked as changed (the next call tries again); the first error is returned once
    /// every other document was written.
    pub fn save_changed(&self) -> io::Result<usize> {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let changed: Vec<_> = {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            open.iter()
                .filter(|(_, d)| d.dirty.swap(false, Ordering::AcqRel))
                .map(|(name, d)| (name.clone(), d.clone()))
                .collect()
        };
        let mut first_error = None;
        let mut saved = 0;
        for (name, document) in &changed {
            match self.write(name, &document.encode()) {
                Ok(()) => saved += 1,
                Err(e) => {
                    document.dirty.store(true, Ordering::Release);
                    first_error.get_or_insert(io::Error::new(e.kind(), format!("saving document {name:?}: {e}")));
                }
            }
        }
        first_error.map_or(Ok(saved), Err)
    }

    /// The names of the open documents.
    pub fn open_names(&self) -> Vec<String> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Closes the document `name` (frees its memory) if every change to it is saved; it is loaded from its file
    /// when next opened. True when it was closed. For documents that nobody has open.
    pub fn close_if_saved(&self, name: &str) -> bool {
        // No save in progress: one that took the changed flag has not necessarily written the file yet.
        let _no_save = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(document) = open.get(name) else { return false };
        let mut closed = document.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if document.dirty.load(Ordering::Acquire) {
            return false;
        }
        *closed = true;
        drop(closed);
        open.remove(name);
        true
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path_of(name);
        let temporary = path.with_extension("ydoc.tmp");
        let mut file = std::fs::File::create(&temporary)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.ydoc"))
    }
}

/// Whether `name` is a valid document name (it becomes a file name, so nothing else is).
pub fn check_name(name: &str) -> Result<(), DocumentError> {
    let valid = (1..=MAX_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(DocumentError::BadName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's own replica, as Yjs in a page would hold it.
    fn replica(text: &str) -> Doc {
        let doc = Doc::new();
        let t = doc.get_or_insert_text("text");
        t.insert(&mut doc.transact_mut(), 0, text);
        doc
    }

    #[test]
    fn clients_sync_both_ways_and_documents_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let documents = Documents::in_dir(dir.path()).unwrap();
        let document = documents.get("notes").unwrap();
        document.append("hello");

        // A client that edited offline: it gets what the server has, and the server gets its edit.
        let client = replica("world ");
        let client_sv = client.transact().state_vector().encode_v1();
        let (for_client, server_sv) = document.sync(&client_sv).unwrap();
        client.transact_mut().apply_update(Update::decode_v1(&for_client).unwrap()).unwrap();
        let server_sv = StateVector::decode_v1(&server_sv).unwrap();
        document.apply(&client.transact().encode_state_as_update_v1(&server_sv)).unwrap();
        let client_text = client.get_or_insert_text("text").get_string(&client.transact());
        assert_eq!(document.text(), client_text);
        assert!(document.text().contains("hello") && document.text().contains("world "));

        assert!(!documents.close_if_saved("notes"), "changes not saved yet");
        assert_eq!(documents.save_changed().unwrap(), 1);
        assert_eq!(documents.save_changed().unwrap(), 0, "nothing changed since");

        // Closed once saved: a late update to the closed copy is refused, and lands in the reopened one.
        assert!(documents.close_if_saved("notes"));
        assert!(documents.open_names().is_empty());
        let late = replica("late ");
        let late = late.transact().encode_state_as_update_v1(&StateVector::default());
        assert!(matches!(document.apply(&late), Err(DocumentError::Closed)));
        let reopened_here = documents.get("notes").unwrap();
        assert_eq!(reopened_here.text(), client_text);
        reopened_here.apply(&late).unwrap();
        assert!(reopened_here.text().contains("late "));
        documents.save_changed().unwrap();
        let client_text = reopened_here.text();
        let reopened = Documents::in_dir(dir.path()).unwrap();
        assert_eq!(reopened.get("notes").unwrap().text(), client_text);
    }

    #[test]
    fn bad_names_and_bytes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let documents = Documents::in_dir(dir.path()).unwrap();
        for name in ["", "../etc", "Notes", "a b", &"x".repeat(65)] {
            assert!(matches!(documents.get(name), Err(DocumentError::BadName)), "{name:?}");
        }
        let document = documents.get("ok").unwrap();
        assert!(matches!(document.apply(b"\xff\xff\xff"), Err(DocumentError::Malformed("update"))));
        assert!(matches!(document.sync(b"\xff\xff\xff\xff"), Err(DocumentError::Malformed("state vector"))));
        assert_eq!(document.text(), "");
        let huge = vec![0u8; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(document.apply(&huge), Err(DocumentError::Full)));

        std::fs::write(dir.path().join("broken.ydoc"), b"\xff\xfe not yjs").unwrap();
        assert!(matches!(documents.get("broken"), Err(DocumentError::Load { .. })));
    }
}

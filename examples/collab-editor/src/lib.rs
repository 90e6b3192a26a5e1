//! A collaborative text editor on Tidings: Yjs in the browser, yrs on the server, a room per document
//! (`doc:<name>`). Members' names and colours are their presence; their edits are Yjs updates that the server
//! applies to its copy (saved to disk) and broadcasts to the room; their cursors are relayed to the room as Yjs
//! relative positions, which stay attached to the same character while others type.
//!
//! The exchange (all binary data base64): after joining, a client sends `{"type":"sync","sv":<its state vector>}`
//! and gets `{"update":<what it lacks>,"sv":<the server's state vector>}`, then sends what the server lacks as an
//! `update`. Yjs merges in any order and ignores what it has, so updates are simply broadcast to everyone.
//!
//! A library so that the tests can use the handler and the web app.

pub mod documents;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tidings::{
    async_trait, AllowAnonymous, Context, ErrorCode, Handler, Hub, HubConfig, Joined, Limits, Rate, Refusal,
};

use documents::{Document, DocumentError, Documents};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 32;
/// Longest base64 relative position in a cursor message.
const MAX_POSITION: usize = 256;

/// The room handler for `doc:*`.
pub struct EditorRoom {
    documents: Arc<Documents>,
}

/// What a client sends to join: how others see it.
#[derive(Debug, Deserialize, Serialize)]
pub struct Member {
    /// Display name.
    pub name: String,
    /// CSS colour `#rrggbb` for its cursor.
    pub color: String,
}

/// What a member sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EditorMessage {
    /// Asks for what it lacks, given its state vector.
    Sync {
        /// The client's state vector (base64).
        sv: String,
    },
    /// An edit (a Yjs update, base64).
    Update {
        /// The update.
        update: String,
    },
    /// Where its cursor is: two Yjs relative positions (base64), equal when nothing is selected.
    Cursor {
        /// Where the selection started.
        anchor: String,
        /// Where the caret is.
        head: String,
    },
}

impl EditorRoom {
    fn document(&self, ctx: &Context) -> Result<Arc<Document>, Refusal> {
        let name = ctx.topic().strip_prefix("doc:").unwrap_or_default();
        self.documents.get(name).map_err(refusal)
    }
}

fn refusal(e: DocumentError) -> Refusal {
    match e {
        DocumentError::BadName => Refusal::new(ErrorCode::UNKNOWN_TOPIC, e.to_string()),
        DocumentError::Malformed(_) => Refusal::bad_payload(e.to_string()),
        DocumentError::TooMany | DocumentError::Full | DocumentError::Closed => {
            Refusal::new(ErrorCode::UNAVAILABLE, e.to_string())
        }
        DocumentError::Load { .. } => {
            tracing::error!(error = %e, "a saved document could not be loaded");
            Refusal::new(ErrorCode::UNAVAILABLE, "this document cannot be opened now")
        }
    }
}

fn decode(field: &str, base64: &str) -> Result<Vec<u8>, Refusal> {
    BASE64.decode(base64).map_err(|_| Refusal::bad_payload(format!("{field} is not base64")))
}

#[async_trait]
impl Handler for EditorRoom {
    type Join = Member;
    type Message = EditorMessage;
    type Reply = Value;

    async fn subscribe(&self, _ctx: &Context) -> Result<(), Refusal> {
        Err(Refusal::forbidden("join the document's room to open it"))
    }

    async fn join(&self, ctx: &Context, member: Member) -> Result<Joined<Value>, Refusal> {
        let name = member.name.trim();
        if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
            return Err(Refusal::bad_payload(format!("a name is 1 to {MAX_DISPLAY_NAME} printable characters")));
        }
        let color = &member.color;
        if color.len() != 7 || !color.starts_with('#') || !color[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::bad_payload("a colour is #rrggbb"));
        }
        // Opened only for a valid member: refused joins cost nothing.
        self.document(ctx)?;
        Ok(Joined::new().meta(&Member { name: name.to_owned(), color: color.clone() }))
    }

    async fn message(&self, ctx: &Context, message: EditorMessage) -> Result<Option<Value>, Refusal> {
        if ctx.member_meta().is_none() {
            return Err(Refusal::forbidden("join the document's room to edit it"));
        }
        let from = ctx.session_id().as_str();
        match message {
            EditorMessage::Sync { sv } => {
                let (update, sv) = self.document(ctx)?.sync(&decode("sv", &sv)?).map_err(refusal)?;
                Ok(Some(json!({ "update": BASE64.encode(update), "sv": BASE64.encode(sv) })))
            }
            EditorMessage::Update { update } => {
                let bytes = decode("update", &update)?;
                // Closed between opening and applying (its last member left meanwhile): apply to the reopened copy.
                match self.document(ctx)?.apply(&bytes) {
                    Err(DocumentError::Closed) => self.document(ctx)?.apply(&bytes).map_err(refusal)?,
                    applied => applied.map_err(refusal)?,
                }
                ctx.broadcast(&json!({ "type": "update", "update": update, "from": from })).await?;
                Ok(None)
            }
            EditorMessage::Cursor { anchor, head } => {
                if anchor.len() > MAX_POSITION || head.len() > MAX_POSITION {
                    return Err(Refusal::bad_payload("a cursor position is at most 256 characters"));
                }
                decode("anchor", &anchor)?;
                decode("head", &head)?;
                ctx.broadcast(&json!({ "type": "cursor", "from": from, "anchor": anchor, "head": head })).await?;
                Ok(None)
            }
        }
    }
}

/// The editor's hub: anonymous clients of the page's own origin, rooms `doc:*`. Typing sends a message per
/// keystroke and cursor moves: the per-session rate allows fast typists, and a pasted page fits in a message.
pub fn hub(documents: &Arc<Documents>) -> Hub {
    let config = HubConfig {
        max_message_bytes: 512 * 1024,
        limits: Limits { messages_per_second: Rate { per_second: 200.0, burst: 400.0 }, ..Limits::default() },
        ..HubConfig::default()
    };
    Hub::builder()
        .authenticator(AllowAnonymous)
        .handler("doc:*", EditorRoom { documents: documents.clone() })
        .config(config)
        .build()
        .expect("the editor's topic pattern is valid")
}

/// Saves changed documents every `every`, for as long as it runs (a write failure is logged and retried at the
/// next round), and every [`CLOSE_EVERY`] rounds closes the saved documents whose room is empty. The program saves
/// once more after the server stopped.
pub async fn run_saver(hub: Hub, documents: Arc<Documents>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    for round in 1u64.. {
        ticks.tick().await;
        let saving = documents.clone();
        match tokio::task::spawn_blocking(move || saving.save_changed()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(saved)) => tracing::debug!(saved, "documents saved"),
            Ok(Err(e)) => tracing::error!(error = %e, "could not save documents; retrying"),
            Err(e) => tracing::error!(error = %e, "the saving task failed"),
        }
        if round % CLOSE_EVERY == 0 {
            close_unused(&hub, &documents).await;
        }
    }
}

/// Saving rounds between two looks for documents nobody has open.
pub const CLOSE_EVERY: u64 = 25;

/// Closes the saved documents whose room has no member, so that memory follows the documents in use.
pub async fn close_unused(hub: &Hub, documents: &Documents) {
    for name in documents.open_names() {
        match hub.presence_of(&format!("doc:{name}")).await {
            Ok(members) if members.is_empty() => {
                if documents.close_if_saved(&name) {
                    tracing::debug!(document = name, "closed: nobody has it open");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(document = name, error = %e, "could not read a room's presence"),
        }
    }
}

/// The page, its script, and the realtime endpoints under `/realtime`.
pub fn configure(hub: &Hub) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |cfg| {
        cfg.service(tidings::scope("/realtime", hub))
            .route("/", web::get().to(|| page("text/html; charset=utf-8", include_str!("../static/index.html"))))
            .route(
                "/app.js",
                web::get().to(|| page("text/javascript; charset=utf-8", include_str!("../static/app.js"))),
            );
    }
}

async fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings::testkit::TestClient;
    use yrs::updates::decoder::Decode;
    use yrs::updates::encoder::Encode;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

    fn b64_update_inserting(text: &str) -> String {
        let doc = Doc::new();
        doc.get_or_insert_text("text").insert(&mut doc.transact_mut(), 0, text);
        let update = doc.transact().encode_state_as_update_v1(&Default::default());
        BASE64.encode(update)
    }

    #[actix_rt::test]
    async fn members_edit_sync_and_see_each_others_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let documents = Arc::new(Documents::in_dir(dir.path()).unwrap());
        let hub = hub(&documents);
        let mut ann = TestClient::connect(&hub).await;
        let mut bob = TestClient::connect(&hub).await;
        ann.join("doc:plan", json!({ "name": "ann", "color": "#e11d48" })).await.unwrap();
        bob.join("doc:plan", json!({ "name": "bob", "color": "#2563eb" })).await.unwrap();
        assert_eq!(ann.expect_member_joined("doc:plan").await.meta["name"], "bob");

        let update = b64_update_inserting("hello");
        ann.message("doc:plan", json!({ "type": "update", "update": update })).await.unwrap();
        let relayed = bob.expect_broadcast("doc:plan").await;
        assert_eq!((relayed["type"].as_str(), relayed["update"].as_str()), (Some("update"), Some(update.as_str())));
        assert_eq!(documents.get("plan").unwrap().text(), "hello");

        // A late joiner with nothing gets the whole document.
        let mut cat = TestClient::connect(&hub).await;
        cat.join("doc:plan", json!({ "name": "cat", "color": "#16a34a" })).await.unwrap();
        let empty = BASE64.encode(Doc::new().transact().state_vector().encode_v1());
        let reply = cat.message("doc:plan", json!({ "type": "sync", "sv": empty })).await.unwrap();
        let replica = Doc::new();
        let text = replica.get_or_insert_text("text");
        let update = Update::decode_v1(&BASE64.decode(reply["update"].as_str().unwrap()).unwrap()).unwrap();
        replica.transact_mut().apply_update(update).unwrap();
        assert_eq!(text.get_string(&replica.transact()), "hello");

        // Broadcasts are publications of the room, so the sender gets its own too (Yjs ignores what it has).
        assert_eq!(ann.expect_broadcast("doc:plan").await["from"], ann.session_id());
        bob.message("doc:plan", json!({ "type": "cursor", "anchor": "AQID", "head": "AQID" })).await.unwrap();
        let cursor = ann.expect_broadcast("doc:plan").await;
        assert_eq!((cursor["type"].as_str(), cursor["from"].as_str()), (Some("cursor"), Some(bob.session_id())));
    }

    #[actix_rt::test]
    async fn a_document_nobody_has_open_is_closed_once_saved_and_reopened_whole() {
        let dir = tempfile::tempdir().unwrap();
        let documents = Arc::new(Documents::in_dir(dir.path()).unwrap());
        let hub = hub(&documents);
        let mut ann = TestClient::connect(&hub).await;
        ann.join("doc:memo", json!({ "name": "ann", "color": "#e11d48" })).await.unwrap();
        ann.message("doc:memo", json!({ "type": "update", "update": b64_update_inserting("kept") })).await.unwrap();

        close_unused(&hub, &documents).await;
        assert_eq!(documents.open_names(), ["memo"], "a member has it open");
        ann.disconnect().await;
        while hub.session_count() > 0 {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        close_unused(&hub, &documents).await;
        assert_eq!(documents.open_names(), ["memo"], "not saved yet");
        documents.save_changed().unwrap();
        close_unused(&hub, &documents).await;
        assert!(documents.open_names().is_empty());

        let mut bob = TestClient::connect(&hub).await;
        bob.join("doc:memo", json!({ "name": "bob", "color": "#2563eb" })).await.unwrap();
        assert_eq!(documents.get("memo").unwrap().text(), "kept");
    }

    #[actix_rt::test]
    async fn bad_input_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let documents = Arc::new(Documents::in_dir(dir.path()).unwrap());
        let hub = hub(&documents);
        let mut eve = TestClient::connect(&hub).await;
        let bad = |code: &str, e: tidings::testkit::ErrorReply| assert_eq!(e.code, code, "{e:?}");
        bad("forbidden", eve.subscribe("doc:plan").await.unwrap_err());
        bad("unknown_topic", eve.join("doc:Plan", json!({ "name": "eve", "color": "#000000" })).await.unwrap_err());
        bad("bad_payload", eve.join("doc:plan", json!({ "name": "", "color": "#000000" })).await.unwrap_err());
        bad("bad_payload", eve.join("doc:plan", json!({ "name": "eve", "color": "red" })).await.unwrap_err());
        eve.join("doc:plan", json!({ "name": "eve", "color": "#000000" })).await.unwrap();
        bad("bad_payload", eve.message("doc:plan", json!({ "type": "update", "update": "%%%" })).await.unwrap_err());
        bad("bad_payload", eve.message("doc:plan", json!({ "type": "update", "update": "//79" })).await.unwrap_err());
        bad("bad_payload", eve.message("doc:plan", json!({ "type": "sync", "sv": "//////8=" })).await.unwrap_err());
        bad("bad_payload", eve.message("doc:plan", json!({ "type": "delete" })).await.unwrap_err());
        assert_eq!(documents.get("plan").unwrap().text(), "");
        assert_eq!(documents.save_changed().unwrap(), 0);
    }
}

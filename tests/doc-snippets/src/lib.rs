//! Every ```rust block of `README.md` and `docs/**/*.md`, compiled against the current API.
//!
//! The build script copies each block into its own function, at the same line numbers as in the Markdown, so a block
//! that stops compiling fails this crate's test build (`cargo test`, `cargo clippy --all-targets`) with an error at
//! `<OUT_DIR>/<file>.md.rs:<line>` (`.../out/docs/guide/topics.md.rs:21`): the Markdown file and line of the code.
//! Each function takes `hub: tidings::Hub` (the hub a fragment publishes to or mounts) and returns
//! `Result<(), Box<dyn Error>>` (so `?` works); the preamble below provides the names fragments use without
//! importing them. The code is only compiled, never run.
//!
//! A block that is not Rust takes another tag (`text`, `sh`); `rust,ignore` is refused, and so are lines hidden from
//! rustdoc (`# ...`), which a Markdown page shows.

#[cfg(test)]
mod extract;

#[cfg(test)]
#[allow(
    // Fragments define things to show them, not to use them.
    dead_code,
    unused_imports,
    unused_variables,
    unused_mut,
    unreachable_code,
    unreachable_pub,
    // Tests shown in the docs (`#[actix_rt::test]`) are compiled, not run.
    unnameable_test_items,
    clippy::print_stdout,
    // The wrapper's `let _ = { <block> };`, which also takes a block whose last line is an expression.
    clippy::let_unit_value
)]
mod snippets {
    /// What a fragment may use without importing it; glob-imported, so a block's own `use` takes precedence.
    mod prelude {
        pub(crate) use actix_web::{web, App, HttpServer};
        pub(crate) use bytes::Bytes;
        pub(crate) use serde::{Deserialize, Serialize};
        pub(crate) use serde_json::json;
        pub(crate) use std::time::Duration;
        pub(crate) use tidings::*;
    }

    include!(concat!(env!("OUT_DIR"), "/snippets.rs"));

    /// The generated code is that of the Markdown as it is now, and covers every file with rust blocks.
    #[test]
    fn every_rust_block_is_compiled() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found = Vec::new();
        for file in super::extract::markdown_files(&root).unwrap() {
            let markdown = std::fs::read_to_string(root.join(&file)).unwrap();
            for block in super::extract::rust_blocks(&markdown).unwrap() {
                found.push((file.clone(), block.open, block.close));
            }
        }
        let compiled: Vec<_> = BLOCKS.iter().map(|(file, open, close)| (file.to_string(), *open, *close)).collect();
        assert_eq!(compiled, found, "the generated snippets are stale: the build script did not rerun");
        assert!(compiled.iter().any(|(file, ..)| file == "README.md"));
    }
}

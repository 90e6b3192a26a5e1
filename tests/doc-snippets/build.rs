//! Generates the test module that compiles every ```rust block of `README.md` and `docs/**/*.md`.
//!
//! For each Markdown file with rust blocks, `$OUT_DIR/<file>.rs` (`docs/guide/topics.md.rs`) has each block's code on
//! the same lines as in the Markdown, so a compile error names the Markdown file and its line. A block's opening
//! fence line becomes the head of its own function, `async fn line_<N>(hub: Hub) -> Result<(), Box<dyn Error>>`,
//! whose body is the block (items such as `use`, `struct`, `impl` and `async fn` are allowed in a body); its closing
//! fence ends the function. Everything else is blank. `$OUT_DIR/snippets.rs` includes each file in a module that
//! glob-imports the shared preamble (`src/lib.rs`), which a block's own `use` shadows.

#[path = "src/extract.rs"]
#[allow(dead_code, unreachable_pub)]
mod extract;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in ["README.md", "docs"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/extract.rs");

    let files = extract::markdown_files(&root).expect("README.md and docs/ are readable");
    let mut index =
        String::from("/// `(file, opening fence line, closing fence line)` of every rust block, in order.\n");
    index.push_str("pub(crate) const BLOCKS: &[(&str, usize, usize)] = &[\n");
    let mut modules = String::new();
    let mut problems = Vec::new();
    for file in &files {
        let markdown = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let blocks = match extract::rust_blocks(&markdown) {
            Ok(blocks) => blocks,
            Err(found) => {
                problems.extend(found.into_iter().map(|p| format!("{file}:{p}")));
                continue;
            }
        };
        if blocks.is_empty() {
            continue;
        }
        let generated = out.join(format!("{file}.rs"));
        write(&generated, &wrap(file, &blocks));
        for block in &blocks {
            writeln!(index, "    ({file:?}, {}, {}),", block.open, block.close).expect("writing to a String");
        }
        let module: String =
            file.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        writeln!(
            modules,
            "/// The rust blocks of `{file}`.\nmod {module} {{\n    use super::prelude::*;\n    include!({:?});\n}}",
            generated.display().to_string()
        )
        .expect("writing to a String");
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        std::process::exit(1);
    }
    index.push_str("];\n");
    index.push_str(&modules);
    write(&out.join("snippets.rs"), &index);
}

/// The code of `file`'s blocks, each wrapped in a function, each line where it is in the Markdown.
fn wrap(file: &str, blocks: &[extract::Block]) -> String {
    let mut code = String::new();
    let mut line = 1;
    for block in blocks {
        while line < block.open {
            code.push('\n');
            line += 1;
        }
        writeln!(
            code,
            "pub(super) async fn line_{}(hub: ::tidings::Hub) -> ::std::result::Result<(), \
             ::std::boxed::Box<dyn ::std::error::Error>> {{ let _ = {{ // {file}:{}",
            block.open, block.open
        )
        .expect("writing to a String");
        for text in &block.code {
            code.push_str(text);
            code.push('\n');
        }
        code.push_str("}; ::std::result::Result::Ok(()) }\n");
        line = block.close + 1;
    }
    code
}

/// Writes `path` unless it already holds `contents` (so that an unchanged file does not look new).
fn write(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a file in OUT_DIR")).expect("OUT_DIR is writable");
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

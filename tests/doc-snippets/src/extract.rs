//! Finds the ```rust blocks of a Markdown file. Shared by the build script, which generates the code, and the test,
//! which checks that the generated code is current.

/// A ```rust block: the lines of its fences (1-based) and the code between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The line of the opening fence.
    pub(crate) open: usize,
    /// The line of the closing fence.
    pub(crate) close: usize,
    /// The lines between the fences.
    pub(crate) code: Vec<String>,
}

/// The ```rust blocks of `markdown`, or what is wrong with one (`line: problem`).
///
/// A block tagged `rust` (or `rust,no_run`) must compile; there is no way to opt out (`ignore`), since the
/// Markdown is what readers see: a block that is not Rust takes another tag (`text`, `sh`). Lines that rustdoc would
/// hide (`# ...`) are refused for the same reason: a Markdown page shows them.
pub(crate) fn rust_blocks(markdown: &str) -> Result<Vec<Block>, Vec<String>> {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    // The open fence (its backticks or tildes) and, for a rust block, the block so far.
    let mut open: Option<(String, Option<Block>)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                let fence: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
                if fence.len() < 3 || fence.chars().any(|c| c != fence.chars().next().unwrap_or('`')) {
                    continue;
                }
                let info = trimmed[fence.len()..].trim();
                let mut tags = info.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty());
                let block = if tags.next() == Some("rust") {
                    for tag in tags.filter(|t| *t != "no_run") {
                        problems.push(format!(
                            "{number}: ```{info}: `{tag}` is not allowed; a rust block must compile (tag it `text` \
                             if it is not Rust)"
                        ));
                    }
                    Some(Block { open: number, close: 0, code: Vec::new() })
                } else {
                    None
                };
                open = Some((fence, block));
            }
            Some((fence, block)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_end().chars().all(|c| fence.starts_with(c)) {
                    if let Some(mut block) = block.take() {
                        block.close = number;
                        blocks.push(block);
                    }
                    open = None;
                } else if let Some(block) = block {
                    if trimmed == "#" || trimmed.starts_with("# ") {
                        problems.push(format!(
                            "{number}: a line hidden from rustdoc (`# ...`) shows in Markdown: write it out, or \
                             leave it out"
                        ));
                    }
                    block.code.push(line.to_owned());
                }
            }
        }
    }
    if let Some((_, Some(block))) = open {
        problems.push(format!("{}: the rust block is never closed", block.open));
    }
    if problems.is_empty() {
        Ok(blocks)
    } else {
        Err(problems)
    }
}

/// The Markdown files whose rust blocks are checked, relative to the workspace root: `README.md` and every `.md`
/// under `docs/`, sorted.
pub(crate) fn markdown_files(root: &std::path::Path) -> std::io::Result<Vec<String>> {
    fn walk(root: &std::path::Path, dir: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(root.join(dir))? {
            let entry = entry?;
            let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                walk(root, &name, out)?;
            } else if name.ends_with(".md") {
                out.push(name);
            }
        }
        Ok(())
    }
    let mut files = vec!["README.md".to_owned()];
    walk(root, "docs", &mut files)?;
    files[1..].sort();
    Ok(files)
}

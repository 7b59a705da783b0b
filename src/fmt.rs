//! `exp fmt`: rewrites `.exp` files in their canonical layout (`exp_syntax::format`), or, with
//! `--check`, only says which files are not in it.

use std::path::Path;

use exp_diag::SourceMap;

use crate::Exit;

/// How many changed lines of each side `--check` shows per file.
const DIFF_LINES: usize = 6;

pub fn fmt_command(files: &[std::path::PathBuf], check: bool, color: bool) -> Exit {
    let mut exit = Exit::Success;
    for file in files {
        let outcome = fmt_file(file, check, color);
        if severity(&outcome) > severity(&exit) {
            exit = outcome;
        }
    }
    exit
}

/// Which outcome wins when files differ: an unreadable file, then a syntax error, then an
/// unformatted file.
fn severity(exit: &Exit) -> u8 {
    match exit {
        Exit::Success => 0,
        Exit::Unformatted => 1,
        Exit::InvalidInput => 2,
        _ => 3,
    }
}

fn fmt_file(file: &Path, check: bool, color: bool) -> Exit {
    let display_name = file.display().to_string();
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read `{display_name}`: {error}");
            return Exit::Fatal;
        }
    };
    let mut sources = SourceMap::new();
    let (file_id, not_utf8) = exp_syntax::add_source(&mut sources, display_name.clone(), &bytes);
    if let Some(diagnostic) = not_utf8 {
        eprint!("{}", exp_diag::render(&[diagnostic], &sources, color));
        eprintln!("error: `{display_name}` has 1 error; it was not formatted");
        return Exit::InvalidInput;
    }
    // Without its byte-order mark, if it had one: a file that differs only by one is left alone.
    let text = sources.text(file_id).to_string();
    let formatted = match exp_syntax::format(&text) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            eprint!("{}", exp_diag::render(&diagnostics, &sources, color));
            let errors = diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.is_error())
                .count();
            eprintln!(
                "error: `{display_name}` has {}; it was not formatted",
                exp_diag::count(errors, "error")
            );
            return Exit::InvalidInput;
        }
    };
    if formatted == text {
        return Exit::Success;
    }
    if check {
        eprintln!("`{display_name}` is not formatted");
        eprint!("{}", short_diff(&display_name, &text, &formatted));
        return Exit::Unformatted;
    }
    match write_atomically(file, &formatted) {
        Ok(()) => Exit::Success,
        Err(error) => {
            eprintln!("error: cannot write `{display_name}`: {error}");
            Exit::Fatal
        }
    }
}

/// Writes beside the file, then renames over it, so a reader never sees half a file.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = file.with_file_name(format!(".{name}.exp-fmt.tmp"));
    let permissions = std::fs::metadata(file)?.permissions();
    std::fs::write(&temporary, text)?;
    let renamed = std::fs::set_permissions(&temporary, permissions)
        .and_then(|()| std::fs::rename(&temporary, file));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

/// The first stretch of lines that differ, as one unified-diff hunk (at most `DIFF_LINES` lines
/// of each side).
fn short_diff(name: &str, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let prefix = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(old_line, new_line)| old_line == new_line)
        .count();
    let suffix = old_lines[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(old_line, new_line)| old_line == new_line)
        .count();
    let removed = &old_lines[prefix..old_lines.len() - suffix];
    let added = &new_lines[prefix..new_lines.len() - suffix];
    let mut out = format!(
        "--- {name}\n+++ {name} (formatted)\n@@ -{},{} +{},{} @@\n",
        prefix + 1,
        removed.len(),
        prefix + 1,
        added.len()
    );
    for (sign, lines) in [('-', removed), ('+', added)] {
        for line in lines.iter().take(DIFF_LINES) {
            out.push_str(&format!("{sign}{line}\n"));
        }
        if lines.len() > DIFF_LINES {
            out.push_str(&format!(
                "{sign}... ({} more lines)\n",
                lines.len() - DIFF_LINES
            ));
        }
    }
    out
}

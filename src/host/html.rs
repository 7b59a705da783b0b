//! The HTML page of a run (`exp report RUN --html`, or `report { html: true }` in the file):
//! one self-contained file, `report.html` in the run directory, that opens offline and prints.
//!
//! Everything on it is read back from the run directory as the run left it, never recomputed:
//! the tables from the reports' Markdown files (so replicates show as mean ± std, as `exp show`
//! prints them), every SVG chart inlined (the PNG twins are left out), the accuracy matrices
//! from `*.matrix.csv` with their heatmaps, and from `manifest.json` the run's settings,
//! failures with their messages, the data ledger, and every node's resolved parameters, with
//! links between the points of each sweep. The page has no script, no external style sheet,
//! font or image: nothing is fetched when it opens.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::runs::{entries_where, files_ending};

/// The page's name in the run directory.
pub const PAGE: &str = "report.html";

const STYLE: &str = r#"
:root { color-scheme: light; --line: #d0d4da; --muted: #5b6470; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1c2128; margin: 0 auto; max-width: 1100px; padding: 24px 28px 48px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05em; margin: 22px 0 8px; }
.meta { color: var(--muted); margin: 2px 0; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
nav { margin: 14px 0 0; display: flex; flex-wrap: wrap; gap: 6px 16px; }
nav a, a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #f1f3f6; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
tr.failed td, .failed { color: #a4161a; }
tr.skipped td { color: var(--muted); }
.scroll { overflow-x: auto; }
table.matrix td { text-align: right; min-width: 4.5em; }
figure { margin: 12px 0 22px; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figure img { max-width: 100%; height: auto; display: block; image-rendering: pixelated; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
.params { font-size: 0.85em; max-width: 560px; overflow-wrap: anywhere; }
.points { display: flex; flex-wrap: wrap; gap: 4px 12px; }
.empty { color: var(--muted); font-style: italic; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  a { color: inherit; }
  h2 { break-after: avoid; }
  table, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"#;

/// Text safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// An element id for a node (names hold brackets, commas and dots).
fn anchor(prefix: &str, name: &str) -> String {
    let mut id = String::from(prefix);
    for character in name.chars() {
        if character.is_ascii_alphanumeric() || character == '-' || character == '_' {
            id.push(character);
        } else {
            let _ = write!(id, ".{:x}", character as u32);
        }
    }
    id
}

fn node_link(name: &str) -> String {
    format!(
        "<a href=\"#{}\" class=\"mono\">{}</a>",
        anchor("node-", name),
        escape(name)
    )
}

/// The family of a swept node (`ft` for `ft[lr=0.1,seed=0]`), if it is one.
fn family(name: &str) -> Option<&str> {
    let open = name.find('[')?;
    name.ends_with(']').then(|| &name[..open])
}

fn file_label(run_dir: &Path, path: &Path) -> String {
    path.strip_prefix(run_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every sequence's matrices: (node, split prefix, path) for each `nodes/NODE/[SPLIT.]matrix.csv`,
/// by node and with the test split (no prefix) first.
fn sequence_matrices(run_dir: &Path) -> Vec<(String, String, PathBuf)> {
    let nodes = entries_where(&run_dir.join("nodes"), Path::is_dir);
    let mut found = Vec::new();
    for folder in nodes {
        let node = folder
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        for path in files_ending(&folder, "matrix.csv") {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let split = name.trim_end_matches("matrix.csv").to_string();
            found.push((node.clone(), split, path));
        }
    }
    found.sort_by(|a, b| (&a.0, !a.1.is_empty(), &a.1).cmp(&(&b.0, !b.1.is_empty(), &b.1)));
    found
}

/// How a matrix's split is named beside its node: nothing for the test split, ` (validation)`.
fn split_label(prefix: &str) -> String {
    match prefix.trim_end_matches('.') {
        "" => String::new(),
        split => format!(" ({split})"),
    }
}

/// A Markdown table as `exp run` writes it: header, rule, rows, cells between pipes.
fn markdown_table(text: &str) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_string())
            .collect()
    };
    let header = cells(lines.next()?);
    lines.next()?;
    Some((header, lines.map(cells).collect()))
}

fn is_number(cell: &str) -> bool {
    let first = cell.split_whitespace().next().unwrap_or_default();
    !first.is_empty() && first.parse::<f64>().is_ok()
}

/// The names a page can link to: its nodes and its sweeps' families.
struct Names {
    nodes: std::collections::BTreeSet<String>,
    families: std::collections::BTreeSet<String>,
}

impl Names {
    /// A link to the node, or to the sweep whose rows a report groups under the family's name.
    fn link(&self, name: &str) -> String {
        if self.nodes.contains(name) {
            node_link(name)
        } else if self.families.contains(name) {
            format!(
                "<a href=\"#{}\" class=\"mono\">{}</a>",
                anchor("family-", name),
                escape(name)
            )
        } else {
            format!("<span class=\"mono\">{}</span>", escape(name))
        }
    }
}

fn html_table(header: &[String], rows: &[Vec<String>], names: &Names) -> String {
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for cell in header {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        let class = if row.iter().any(|cell| cell == "(failed)") {
            " class=\"failed\""
        } else if row.iter().any(|cell| cell == "(skipped)") {
            " class=\"skipped\""
        } else {
            ""
        };
        let _ = write!(out, "<tr{class}>");
        for (index, cell) in row.iter().enumerate() {
            if index == 0 {
                let _ = write!(out, "<td>{}</td>", names.link(cell));
            } else if is_number(cell) {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// An SVG file's markup, ready to inline: without an XML declaration or doctype, and without
/// the namespace declarations, which HTML's parser supplies itself (so that the page holds no
/// `http://` address at all, and nothing that looks like one it could fetch).
fn inline_svg(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("<svg")?;
    Some(
        text[start..]
            .trim_end()
            .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
            .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", ""),
    )
}

fn figure(run_dir: &Path, path: &Path) -> String {
    match inline_svg(path) {
        Some(svg) => format!(
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            escape(&file_label(run_dir, path))
        ),
        None => format!(
            "<p class=\"empty\">cannot read {}</p>",
            escape(&file_label(run_dir, path))
        ),
    }
}

/// A PNG (a grid of samples) as an image whose data is in the page.
fn png_figure(run_dir: &Path, path: &Path) -> String {
    let label = escape(&file_label(run_dir, path));
    match std::fs::read(path) {
        Ok(bytes) => format!(
            "<figure><img alt=\"{label}\" src=\"data:image/png;base64,{}\">\
             <figcaption>{label}</figcaption></figure>",
            base64(&bytes)
        ),
        Err(_) => format!("<p class=\"empty\">cannot read {label}</p>"),
    }
}

/// Standard base64 with padding (RFC 4648), for data URIs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (index, byte)| {
            word | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(ALPHABET[(word >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A resolved value of the manifest (`{"type", "value"}` pairs, component references, lists
/// and records) in `.exp`-like words; source spans are left out.
fn value_text(value: &Value) -> String {
    match value {
        Value::Object(map) if map.contains_key("type") && map.contains_key("value") => {
            value_text(&map["value"])
        }
        Value::Object(map) if map.contains_key("name") && map.contains_key("params") => {
            let params = value_text(&map["params"]);
            match map["name"].as_str() {
                Some(name) if params == "{}" => name.to_string(),
                Some(name) => format!("{name} {params}"),
                None => params,
            }
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(key, _)| key.as_str() != "span")
                .map(|(key, value)| format!("{key}: {}", value_text(value)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(text) => format!("\"{text}\""),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

/// The page for the run in `run_dir`.
pub fn page(run_dir: &Path) -> Result<String, String> {
    let manifest_path = run_dir.join("manifest.json");
    let manifest: Value = std::fs::read(&manifest_path)
        .map_err(|error| format!("cannot read `{}`: {error}", manifest_path.display()))
        .and_then(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|error| format!("`{}` is not JSON: {error}", manifest_path.display()))
        })?;
    let text = |value: &Value| value.as_str().unwrap_or("?").to_string();
    let experiment = text(&manifest["experiment"]);
    let run_id = run_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nodes: Vec<Value> = manifest["nodes"].as_array().cloned().unwrap_or_default();
    let status_of = |node: &Value| {
        node["outcome"]["status"]
            .as_str()
            .unwrap_or("unfinished")
            .to_string()
    };
    let count = |status: &str| {
        nodes
            .iter()
            .filter(|node| status_of(node) == status)
            .count()
    };

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"exp {}\">\n<title>{} — run {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&text(&manifest["exp_version"])),
        escape(&experiment),
        escape(&run_id)
    );
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"meta\">run <code>{}</code> · {} · {} nodes: {} done, {} failed, {} skipped</p>\n\
         <p class=\"meta\">file <code>{}</code> (sha256 <code>{}</code>) · seed {} · device {} · libtorch {} · {} jobs × {} threads · exp {}</p>\n",
        escape(&experiment),
        escape(&run_id),
        escape(&text(&manifest["status"])),
        nodes.len(),
        count("done"),
        count("failed"),
        count("skipped"),
        escape(&text(&manifest["file"]["path"])),
        escape(&text(&manifest["file"]["sha256"]).chars().take(16).collect::<String>()),
        manifest["seed"],
        escape(&text(&manifest["device"])),
        escape(&text(&manifest["libtorch"])),
        manifest["threads"]["jobs"],
        manifest["threads"]["intra_op"],
        escape(&text(&manifest["exp_version"])),
    );
    out.push_str(
        "<nav><a href=\"#tables\">Tables</a><a href=\"#plots\">Plots</a>\
         <a href=\"#matrices\">Accuracy matrices</a><a href=\"#failures\">Failures</a>\
         <a href=\"#ledger\">Data ledger</a><a href=\"#sweeps\">Sweep points</a>\
         <a href=\"#nodes\">Nodes and parameters</a></nav>\n</header>\n",
    );

    let names = Names {
        nodes: nodes.iter().map(|node| text(&node["name"])).collect(),
        families: nodes
            .iter()
            .filter_map(|node| {
                family(node["name"].as_str().unwrap_or_default()).map(str::to_string)
            })
            .collect(),
    };

    // Tables.
    out.push_str("<section id=\"tables\">\n<h2>Tables</h2>\n");
    let tables = files_ending(run_dir, ".md");
    if tables.is_empty() {
        out.push_str("<p class=\"empty\">This run wrote no table.</p>\n");
    }
    for path in &tables {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let body = std::fs::read_to_string(path).unwrap_or_default();
        let _ = writeln!(
            out,
            "<h3 id=\"{}\">{}</h3>",
            anchor("table-", &name),
            escape(&name)
        );
        match markdown_table(&body) {
            Some((header, rows)) => out.push_str(&html_table(&header, &rows, &names)),
            None => out.push_str("<p class=\"empty\">(no rows)</p>"),
        }
        out.push('\n');
    }
    out.push_str("</section>\n");

    // Plots: every SVG but the heatmaps, which go with their matrices.
    out.push_str("<section id=\"plots\">\n<h2>Plots</h2>\n");
    let mut charts: Vec<PathBuf> = files_ending(run_dir, ".svg")
        .into_iter()
        .filter(|path| !path.to_string_lossy().ends_with(".heatmap.svg"))
        .collect();
    charts.extend(files_ending(&run_dir.join("plots"), ".svg"));
    if charts.is_empty() {
        out.push_str("<p class=\"empty\">This run drew no plot.</p>\n");
    }
    for path in &charts {
        out.push_str(&figure(run_dir, path));
        out.push('\n');
    }
    out.push_str("</section>\n");

    // Samples: the grids of `sample(..)` datasets, embedded so the page stays self-contained.
    let grids = files_ending(&run_dir.join("samples"), ".png");
    if !grids.is_empty() {
        out.push_str("<section id=\"samples\">\n<h2>Samples</h2>\n");
        for path in &grids {
            out.push_str(&png_figure(run_dir, path));
            out.push('\n');
        }
        out.push_str("</section>\n");
    }

    // Accuracy matrices: each sequence's in its folder (`nodes/NODE/`), with its heatmaps where
    // it drew them, then the reports' heatmaps (the mean over a row's copies).
    out.push_str("<section id=\"matrices\">\n<h2>Accuracy matrices</h2>\n");
    let matrices = sequence_matrices(run_dir);
    let heatmaps = files_ending(run_dir, ".heatmap.svg");
    if matrices.is_empty() && heatmaps.is_empty() {
        out.push_str("<p class=\"empty\">This run has no task sequence.</p>\n");
    }
    for (node, split, path) in &matrices {
        let _ = writeln!(
            out,
            "<h3>{}{}</h3>",
            node_link(node),
            escape(&split_label(split))
        );
        out.push_str(&matrix_table(
            &std::fs::read_to_string(path).unwrap_or_default(),
        ));
        let heatmap = path.with_file_name(format!("{split}heatmap.svg"));
        if heatmap.is_file() {
            out.push_str(&figure(run_dir, &heatmap));
        }
        out.push('\n');
    }
    for path in &heatmaps {
        out.push_str(&figure(run_dir, path));
        out.push('\n');
    }
    out.push_str("</section>\n");

    // Failures.
    out.push_str("<section id=\"failures\">\n<h2>Failures</h2>\n");
    let failed: Vec<&Value> = nodes
        .iter()
        .filter(|node| matches!(status_of(node).as_str(), "failed" | "skipped"))
        .collect();
    if failed.is_empty() {
        out.push_str("<p class=\"empty\">No node failed or was skipped.</p>\n");
    } else {
        out.push_str("<div class=\"scroll\"><table><thead><tr><th>node</th><th>outcome</th><th>message</th></tr></thead><tbody>");
        for node in failed {
            let status = status_of(node);
            let message = match status.as_str() {
                "failed" => text(&node["outcome"]["error"]),
                _ => format!(
                    "skipped because {}",
                    value_text(&node["outcome"]["because"])
                ),
            };
            let _ = write!(
                out,
                "<tr class=\"{status}\"><td>{}</td><td>{status}</td><td class=\"mono\">{}</td></tr>",
                node_link(&text(&node["name"])),
                escape(&message)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");

    // Data ledger.
    out.push_str("<section id=\"ledger\">\n<h2>Data ledger</h2>\n<p class=\"meta\">Which data fed each model: per model-producing node, its checkpoint and every source with its licence and the examples drawn from it.</p>\n");
    let ledger = manifest["ledger"].as_array().cloned().unwrap_or_default();
    if ledger.is_empty() {
        out.push_str("<p class=\"empty\">The ledger is empty.</p>\n");
    } else {
        out.push_str("<div class=\"scroll\"><table><thead><tr><th>node</th><th>checkpoint</th><th>source</th><th>licence</th><th>via</th><th>examples</th></tr></thead><tbody>");
        for entry in &ledger {
            let sources = entry["sources"].as_array().cloned().unwrap_or_default();
            let rows = sources.len().max(1);
            let _ = write!(
                out,
                "<tr><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\" class=\"mono\">{}</td>",
                node_link(&text(&entry["node"])),
                escape(entry["checkpoint"].as_str().unwrap_or(""))
            );
            if sources.is_empty() {
                out.push_str(
                    "<td colspan=\"4\" class=\"empty\">no data (an initialisation)</td></tr>",
                );
            }
            for (index, source) in sources.iter().enumerate() {
                if index > 0 {
                    out.push_str("<tr>");
                }
                let _ = write!(
                    out,
                    "<td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                    escape(&text(&source["source"])),
                    escape(&text(&source["license"])),
                    node_link(&text(&source["node"])),
                    source["examples"]
                );
            }
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");

    // Sweep points.
    out.push_str("<section id=\"sweeps\">\n<h2>Sweep points</h2>\n");
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for node in &nodes {
        let name = text(&node["name"]);
        if let Some(family) = family(&name) {
            match families.iter_mut().find(|(known, _)| known == family) {
                Some((_, members)) => members.push(name.clone()),
                None => families.push((family.to_string(), vec![name.clone()])),
            }
        }
    }
    if families.is_empty() {
        out.push_str("<p class=\"empty\">This run has no sweep.</p>\n");
    }
    for (family, members) in &families {
        let _ = write!(
            out,
            "<h3 id=\"{}\"><span class=\"mono\">{}</span> · {} points</h3>\n<div class=\"points\">",
            anchor("family-", family),
            escape(family),
            members.len()
        );
        for member in members {
            out.push_str(&node_link(member));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");

    // Nodes and their resolved parameters.
    out.push_str("<section id=\"nodes\">\n<h2>Nodes and parameters</h2>\n<p class=\"meta\">Every node with its seed, inputs, outcome and resolved parameters (defaults included), as the manifest records them.</p>\n");
    out.push_str("<div class=\"scroll\"><table><thead><tr><th>node</th><th>kind</th><th>seed</th><th>inputs</th><th>outcome</th><th>parameters</th></tr></thead><tbody>");
    for node in &nodes {
        let name = text(&node["name"]);
        let status = status_of(node);
        let inputs: Vec<String> = node["inputs"]
            .as_array()
            .map(|inputs| {
                inputs
                    .iter()
                    .map(|input| match input.as_str() {
                        Some(name) => node_link(name),
                        None => {
                            let from = input["node"]
                                .as_str()
                                .or_else(|| input["from"].as_str())
                                .unwrap_or_default();
                            let role = input["role"].as_str().unwrap_or_default();
                            if from.is_empty() {
                                escape(&value_text(input))
                            } else if role.is_empty() {
                                node_link(from)
                            } else {
                                format!("{}: {}", escape(role), node_link(from))
                            }
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut spec = node["spec"].clone();
        if let Some(map) = spec.as_object_mut() {
            map.remove("kind");
        }
        let seconds = node["outcome"]["seconds"]
            .as_f64()
            .map(|seconds| format!(" ({seconds:.2} s)"))
            .unwrap_or_default();
        let family_link = family(&name)
            .map(|family| {
                format!(
                    "<br><a href=\"#{}\">all points of {}</a>",
                    anchor("family-", family),
                    escape(family)
                )
            })
            .unwrap_or_default();
        let class = match status.as_str() {
            "failed" => " class=\"failed\"",
            "skipped" => " class=\"skipped\"",
            _ => "",
        };
        let _ = write!(
            out,
            "<tr id=\"{}\"{class}><td class=\"mono\">{}{family_link}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}{}</td><td class=\"params mono\">{}</td></tr>",
            anchor("node-", &name),
            escape(&name),
            escape(&text(&node["kind"])),
            node["seed"],
            inputs.join(", "),
            escape(&status),
            seconds,
            escape(&value_text(&spec)),
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    let _ = write!(
        out,
        "<footer class=\"meta\"><p>Written by exp from <code>{}</code>: manifest.json, the reports' tables and the charts the run drew. The page is self-contained: it loads nothing.</p></footer>\n</body>\n</html>\n",
        escape(&run_dir.display().to_string())
    );
    Ok(out)
}

/// An accuracy matrix (`after,task1,..` then a row per task) as a table, each cell shaded by
/// its value (0 white, 1 full blue), so it reads like the heatmap and prints without it.
fn matrix_table(csv: &str) -> String {
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut out = String::from("<div class=\"scroll\"><table class=\"matrix\"><thead><tr>");
    for cell in &header {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr></thead><tbody>");
    for line in lines {
        let mut cells = line.split(',');
        let _ = write!(
            out,
            "<tr><th>{}</th>",
            escape(cells.next().unwrap_or_default())
        );
        for cell in cells {
            match cell.parse::<f64>() {
                Ok(value) => {
                    let alpha = value.clamp(0.0, 1.0) * 0.55;
                    let _ = write!(
                        out,
                        "<td style=\"background: rgba(31, 95, 168, {alpha:.3})\">{value:.4}</td>"
                    );
                }
                Err(_) => {
                    let _ = write!(out, "<td>{}</td>", escape(cell));
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// Writes the page into the run directory (under a temporary name, then renamed); returns its
/// path.
pub fn write_page(run_dir: &Path) -> Result<PathBuf, String> {
    let html = page(run_dir)?;
    let target = run_dir.join(PAGE);
    let temporary = run_dir.join(format!(".{PAGE}.tmp"));
    std::fs::write(&temporary, html)
        .and_then(|()| std::fs::rename(&temporary, &target))
        .map_err(|error| format!("cannot write `{}`: {error}", target.display()))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::{anchor, escape, family, markdown_table, value_text};

    #[test]
    fn base64_matches_rfc_4648() {
        // The test vectors of RFC 4648, section 10.
        for (text, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(text.as_bytes()), encoded, "{text}");
        }
        assert_eq!(super::base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn names_become_ids_and_text_is_escaped() {
        assert_eq!(
            anchor("node-", "ft[lr=0.1,seed=0]"),
            "node-ft.5blr.3d0.2e1.2cseed.3d0.5d"
        );
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(family("ft[lr=0.1]"), Some("ft"));
        assert_eq!(family("run.ft"), None);
    }

    #[test]
    fn tables_and_values_read_back() {
        let (header, rows) = markdown_table(
            "| node | accuracy | n |\n| --- | --- | --- |\n| a | 0.9 ± 0.01 | 2 |\n",
        )
        .unwrap();
        assert_eq!(header, ["node", "accuracy", "n"]);
        assert_eq!(rows, [["a", "0.9 ± 0.01", "2"]]);
        let spec = serde_json::json!({ "component": { "kind": "optimizer", "name": "adamw",
            "params": { "lr": { "type": "float", "value": 0.001 } }, "span": { "start": 1 } } });
        assert_eq!(value_text(&spec), "{component: adamw {lr: 0.001}}");
    }
}

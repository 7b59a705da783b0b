//! `Table`: a results table, written as CSV and as Markdown.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// One row per node: its name, then a value (or none) per column. In a table of
    /// replicates, a row is a group of runs and its values are their means.
    pub rows: Vec<(String, Vec<Option<f64>>)>,
    /// For a table of replicates, per row: the number of runs and each column's standard
    /// deviation over them (sample std, none for one run). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spread: Vec<(usize, Vec<Option<f64>>)>,
    /// For a table of replicates, per row: its family and sweep point without the seed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<(String, Vec<(String, String)>)>,
    /// Per row, the accuracy matrix of a task sequence (the mean over replicates), if the row
    /// is one; drawn as `<report>.<row>.heatmap.png`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrices: Vec<Option<Vec<Vec<f64>>>>,
    /// For a table of replicates, every run's own numbers (written as `<name>_runs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<Box<Table>>,
}

/// A CSV field: quoted (with quotes doubled) when it holds a comma, a quote or a line break,
/// as sweep points do (`ft[lr=0.001,seed=1]`).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn cell(value: &Option<f64>) -> String {
    match value {
        Some(number) => format!("{number:.4}"),
        None => String::new(),
    }
}

impl Table {
    pub fn to_csv(&self) -> String {
        let mut out = String::from("node");
        for column in &self.columns {
            out.push(',');
            out.push_str(&csv_field(column));
            if !self.spread.is_empty() {
                let _ = write!(out, ",{column}_std");
            }
        }
        if !self.spread.is_empty() {
            out.push_str(",n");
        }
        out.push('\n');
        for (index, (name, values)) in self.rows.iter().enumerate() {
            out.push_str(&csv_field(name));
            let spread = self.spread.get(index);
            for (column, value) in values.iter().enumerate() {
                out.push(',');
                if let Some(number) = value {
                    // Full precision in CSV: it is for machines.
                    let _ = write!(out, "{number}");
                }
                if let Some((_, stds)) = spread {
                    out.push(',');
                    if let Some(Some(std)) = stds.get(column) {
                        let _ = write!(out, "{std}");
                    }
                }
            }
            if let Some((count, _)) = spread {
                let _ = write!(out, ",{count}");
            }
            out.push('\n');
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut header = vec!["node".to_string()];
        header.extend(self.columns.iter().cloned());
        if !self.spread.is_empty() {
            header.push("n".to_string());
        }
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .enumerate()
            .map(|(index, (name, values))| {
                let spread = self.spread.get(index);
                let cells = values.iter().enumerate().map(|(column, value)| {
                    match (
                        value,
                        spread.and_then(|(_, stds)| stds.get(column).copied().flatten()),
                    ) {
                        (Some(mean), Some(std)) => format!("{mean:.4} ± {std:.4}"),
                        _ => cell(value),
                    }
                });
                std::iter::once(name.clone())
                    .chain(cells)
                    .chain(spread.map(|(count, _)| count.to_string()))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|col| {
                body.iter()
                    .map(|row| row[col].chars().count())
                    .chain([header[col].len(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(text, width)| {
                    let pad = width.saturating_sub(text.chars().count());
                    format!("{text}{}", " ".repeat(pad))
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&header);
        let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
        out.push_str(&line(&rule));
        for row in &body {
            out.push_str(&line(row));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn writes_csv_and_markdown() {
        let table = Table {
            name: "results".into(),
            columns: vec!["accuracy".into(), "loss".into()],
            rows: vec![
                ("a".into(), vec![Some(0.5), None]),
                ("soup".into(), vec![Some(0.75), Some(0.1)]),
            ],
            spread: Vec::new(),
            runs: None,
            points: Vec::new(),
            matrices: Vec::new(),
        };
        assert_eq!(
            table.to_csv(),
            "node,accuracy,loss\na,0.5,\nsoup,0.75,0.1\n"
        );
        let markdown = table.to_markdown();
        assert!(
            markdown.starts_with("| node | accuracy | loss   |\n| ---- | -------- | ------ |\n"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| soup | 0.7500   | 0.1000 |"),
            "{markdown}"
        );
    }
}

#[cfg(test)]
mod replicate_tests {
    use super::Table;

    #[test]
    fn replicates_show_mean_and_std() {
        let table = Table {
            name: "results".into(),
            columns: vec!["accuracy".into()],
            rows: vec![("ft".into(), vec![Some(0.5)])],
            spread: vec![(3, vec![Some(0.1)])],
            runs: None,
            points: Vec::new(),
            matrices: Vec::new(),
        };
        assert_eq!(
            table.to_csv(),
            "node,accuracy,accuracy_std,n\nft,0.5,0.1,3\n"
        );
        let swept = Table {
            rows: vec![("ft[lr=0.1,seed=\"a\"]".into(), vec![Some(0.5)])],
            columns: vec!["accuracy".into()],
            ..Table::default()
        };
        assert_eq!(
            swept.to_csv(),
            "node,accuracy\n\"ft[lr=0.1,seed=\"\"a\"\"]\",0.5\n"
        );
        assert!(
            table
                .to_markdown()
                .contains("| ft   | 0.5000 ± 0.1000 | 3   |"),
            "{}",
            table.to_markdown()
        );
    }
}

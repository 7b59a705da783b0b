//! `Table`: a results table, written as CSV and as Markdown.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// One row per node: its name, then a value (or none) per column.
    pub rows: Vec<(String, Vec<Option<f64>>)>,
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
            out.push_str(column);
        }
        out.push('\n');
        for (name, values) in &self.rows {
            out.push_str(name);
            for value in values {
                out.push(',');
                if let Some(number) = value {
                    // Full precision in CSV: it is for machines.
                    let _ = write!(out, "{number}");
                }
            }
            out.push('\n');
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut header = vec!["node".to_string()];
        header.extend(self.columns.iter().cloned());
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|(name, values)| {
                std::iter::once(name.clone())
                    .chain(values.iter().map(cell))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|col| {
                body.iter()
                    .map(|row| row[col].len())
                    .chain([header[col].len(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(text, width)| format!("{text:<width$}"))
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

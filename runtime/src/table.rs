//! `Table`: a results table, written as CSV and as Markdown.
//!
//! A table of replicates shows each value as `mean ± std [low, high]`: the mean over the runs,
//! their sample standard deviation, and the 95% confidence interval of the mean (Student's t
//! with n − 1 degrees of freedom). The CSV has them as `<column>`, `<column>_std`,
//! `<column>_ci95_low` and `<column>_ci95_high`.

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
    /// The metric in `matrices` (the first row's that says), for the heatmaps' titles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_metric: Option<String>,
    /// For a table of replicates, every run's own numbers (written as `<name>_runs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<Box<Table>>,
    /// For a report that chooses settings, every candidate's score (written as
    /// `<name>_choices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Box<Table>>,
}

/// The two-sided 95% quantile of Student's t distribution with `df` degrees of freedom: the
/// factor of the standard error in a 95% confidence interval of a mean of `df + 1` values.
pub fn t_quantile_95(df: usize) -> f64 {
    // Exact to three decimals up to 30 degrees of freedom (the usual tables); beyond, the
    // Cornish-Fisher expansion around the normal quantile, within 0.001 of the exact value.
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z: f64 = 1.959_964;
            let n = df as f64;
            z + (z.powi(3) + z) / (4.0 * n)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// The 95% confidence interval of the mean of `count` values with this mean and sample
/// standard deviation (Student's t), or none for fewer than two values.
pub fn interval_95(mean: f64, std: f64, count: usize) -> Option<(f64, f64)> {
    if count < 2 {
        return None;
    }
    let half = t_quantile_95(count - 1) * std / (count as f64).sqrt();
    Some((mean - half, mean + half))
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
                let column = csv_field(column);
                let _ = write!(out, ",{column}_std,{column}_ci95_low,{column}_ci95_high");
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
                if let Some((count, stds)) = spread {
                    out.push(',');
                    let std = stds.get(column).copied().flatten();
                    if let Some(std) = std {
                        let _ = write!(out, "{std}");
                    }
                    out.push(',');
                    if let Some((low, high)) = value
                        .zip(std)
                        .and_then(|(mean, std)| interval_95(mean, std, *count))
                    {
                        let _ = write!(out, "{low},{high}");
                    } else {
                        out.push(',');
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
                        (Some(mean), Some(std)) => {
                            let count = spread.map_or(0, |(count, _)| *count);
                            match interval_95(*mean, std, count) {
                                Some((low, high)) => {
                                    format!("{mean:.4} ± {std:.4} [{low:.4}, {high:.4}]")
                                }
                                None => format!("{mean:.4} ± {std:.4}"),
                            }
                        }
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
            ..Table::default()
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
    use super::{interval_95, t_quantile_95, Table};

    #[test]
    fn t_quantiles_follow_the_tables_and_approach_the_normal() {
        assert_eq!(t_quantile_95(4), 2.776);
        assert_eq!(t_quantile_95(30), 2.042);
        // 40 and 120 degrees of freedom: 2.021 and 1.980 in the tables.
        assert!((t_quantile_95(40) - 2.021).abs() < 1e-3);
        assert!((t_quantile_95(120) - 1.980).abs() < 1e-3);
        assert!(t_quantile_95(0).is_nan());
        assert_eq!(interval_95(1.0, 0.5, 1), None);
        // Five runs: 0.6 ± 2.776 · 0.05 / √5.
        let (low, high) = interval_95(0.6, 0.05, 5).unwrap();
        assert!((high - 0.6 - 2.776 * 0.05 / 5f64.sqrt()).abs() < 1e-12 && low < 0.6);
    }

    #[test]
    fn replicates_show_mean_and_std() {
        let table = Table {
            name: "results".into(),
            columns: vec!["accuracy".into()],
            rows: vec![("ft".into(), vec![Some(0.5)])],
            spread: vec![(3, vec![Some(0.1)])],
            ..Table::default()
        };
        // t(2) = 4.303: the interval is 0.5 ± 4.303 · 0.1 / √3 = 0.5 ± 0.248434.
        let csv = table.to_csv();
        let (header, row) = csv.split_once('\n').unwrap();
        assert_eq!(
            header,
            "node,accuracy,accuracy_std,accuracy_ci95_low,accuracy_ci95_high,n"
        );
        let cells: Vec<&str> = row.trim_end().split(',').collect();
        assert_eq!(cells[..3], ["ft", "0.5", "0.1"]);
        let low: f64 = cells[3].parse().unwrap();
        let high: f64 = cells[4].parse().unwrap();
        assert!(
            (low - 0.251566).abs() < 1e-6 && (high - 0.748434).abs() < 1e-6,
            "{csv}"
        );
        assert_eq!(cells[5], "3");
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
                .contains("| ft   | 0.5000 ± 0.1000 [0.2516, 0.7484] | 3   |"),
            "{}",
            table.to_markdown()
        );
    }
}

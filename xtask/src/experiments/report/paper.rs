//! The paper's tables as transcribed in `docs/paper/tables.json`: reading them, the paper's
//! cells beside ours, and the section that shows every table in full with the lines of the
//! paper each came from.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PaperTables {
    pub(super) source: Option<PaperSource>,
    pub(super) tables: Vec<PaperTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PaperSource {
    /// Where the numbers were transcribed from.
    pub(super) read_from: String,
}

/// Every field may be absent (`serde(default)`): the tests in `paper_tables.rs` check that the
/// transcription holds each table's columns and rows.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PaperTable {
    pub(super) id: String,
    /// The paper's table number.
    pub(super) table: Option<u32>,
    pub(super) paper_label: String,
    /// The caption as the paper's text gives it (none survived in the text transcribed).
    pub(super) caption: Option<String>,
    /// What the table holds, in lran's words.
    pub(super) description: String,
    /// lran's keys for the columns (what the report looks values up by).
    pub(super) columns: Vec<String>,
    /// The paper's own headers, one per column; absent or empty: `columns`.
    pub(super) column_labels: Vec<String>,
    /// `row[0]` is the row's label (a method or a configuration), the others numbers or null.
    pub(super) rows: Vec<Vec<serde_json::Value>>,
    /// The label of the row holding LRAN's values (default: the row labelled "LRAN").
    pub(super) lran_row: Option<String>,
    /// Tables whose rows are variants of LRAN (the ablation, the two scores): lran's key for
    /// each row, in order ("no-latent", …, "full"; "pixel", "latent").
    pub(super) row_keys: Vec<String>,
    /// With `row_keys`: the column that `PaperTables::lran(id, row key)` reads.
    pub(super) lookup_column: Option<String>,
    /// The text lost the row labels; `rows[i][0]` was inferred (see `inferred_from`).
    pub(super) row_labels_inferred: bool,
    pub(super) inferred_from: Option<Inference>,
    pub(super) source: Option<TableSource>,
    pub(super) notes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TableSource {
    /// The text file, relative to the repository root.
    pub(super) file: String,
    /// First and last line of the table in `file`.
    pub(super) lines: Vec<u64>,
    /// The prose that cites the table by number.
    pub(super) identified_by: Option<Quote>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Quote {
    #[serde(default)]
    pub(super) line: Option<u64>,
    pub(super) quote: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Inference {
    pub(super) lines: Vec<u64>,
    pub(super) quotes: Vec<Quote>,
    pub(super) reasoning: String,
}

pub(super) fn row_label(row: &[serde_json::Value]) -> Option<&str> {
    row.first().and_then(|m| m.as_str())
}

impl PaperTable {
    pub(super) fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == key)
    }

    /// The paper's header of column `index` (lran's key where the paper's is not recorded).
    pub(super) fn header(&self, index: usize) -> &str {
        self.column_labels
            .get(index)
            .map(String::as_str)
            .filter(|l| !l.is_empty())
            .or_else(|| self.columns.get(index).map(String::as_str))
            .unwrap_or("")
    }

    pub(super) fn lran_label(&self) -> &str {
        self.lran_row.as_deref().unwrap_or("LRAN")
    }

    pub(super) fn lran_row(&self) -> Option<&[serde_json::Value]> {
        let label = self.lran_label();
        self.rows
            .iter()
            .find(|r| row_label(r) == Some(label))
            .map(Vec::as_slice)
    }

    pub(super) fn keyed_row(&self, key: &str) -> Option<&[serde_json::Value]> {
        let index = self.row_keys.iter().position(|k| k == key)?;
        self.rows.get(index).map(Vec::as_slice)
    }
}

impl PaperTables {
    pub(super) fn table(&self, id: &str) -> Option<&PaperTable> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The paper's value for LRAN in table `id`. `key` is a column (read in LRAN's row) or, in
    /// a table whose rows are LRAN's variants (`row_keys`: the ablation's configurations), a
    /// row key, read in the table's `lookup_column`.
    pub(super) fn lran(&self, id: &str, key: &str) -> Option<f64> {
        let table = self.table(id)?;
        if let Some(row) = table.keyed_row(key) {
            let column = table.column(table.lookup_column.as_deref()?)?;
            return row.get(column)?.as_f64();
        }
        let column = table.column(key)?;
        table.lran_row()?.get(column)?.as_f64()
    }

    /// The paper's value in table `id`, the row with key `row_key`, column `column`.
    pub(super) fn cell(&self, id: &str, row_key: &str, column: &str) -> Option<f64> {
        let table = self.table(id)?;
        let column = table.column(column)?;
        table.keyed_row(row_key)?.get(column)?.as_f64()
    }

    /// The best value in column `column` of table `id` among the rows other than LRAN's (the
    /// methods the paper compares with), with the row's label as the paper prints it.
    pub(super) fn best_other(&self, id: &str, column: &str) -> Option<(&str, f64)> {
        let table = self.table(id)?;
        let index = table.column(column)?;
        let lran = table.lran_label();
        let mut best: Option<(&str, f64)> = None;
        for row in &table.rows {
            let Some(label) = row_label(row) else {
                continue;
            };
            if label == lran {
                continue;
            }
            if let Some(value) = row.get(index).and_then(|v| v.as_f64())
                && best.is_none_or(|(_, b)| value > b)
            {
                best = Some((label, value));
            }
        }
        best
    }

    /// The paper's header for column `column` of table `id` where it differs from the key
    /// ("PLANE" for CIFAR-10's class 0).
    pub(super) fn column_label(&self, id: &str, column: &str) -> Option<&str> {
        let table = self.table(id)?;
        let header = table.header(table.column(column)?);
        (!header.eq_ignore_ascii_case(column)).then_some(header)
    }

    pub(super) fn label(&self, id: &str) -> Option<&str> {
        self.table(id).map(|t| t.paper_label.as_str())
    }
}

pub(super) fn spread(s: &Spread) -> String {
    if s.n > 1 {
        format!("{:.3} ± {:.3} (n={})", s.mean, s.std, s.n)
    } else {
        format!("{:.3} (n=1)", s.mean)
    }
}

pub(super) fn paper_cell(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "—".into())
}

/// Text for a Markdown table cell: no pipes or line breaks.
pub(super) fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A transcribed cell: a number with at least the three decimals the paper mostly prints
/// (JSON keeps no trailing zeros: 0.710 reads 0.71) and more where the paper gives more.
pub(super) fn transcribed(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(text) => markdown_cell(text),
        serde_json::Value::Number(number) => {
            let shortest = number.to_string();
            let decimals = shortest.split_once('.').map_or(0, |(_, d)| d.len());
            match number.as_f64() {
                Some(v) if decimals < 3 && !shortest.contains(|c: char| c == 'e' || c == 'E') => {
                    format!("{v:.3}")
                }
                _ => shortest,
            }
        }
        other => markdown_cell(&other.to_string()),
    }
}

/// "line 88" or "lines 57–68".
pub(super) fn line_span(lines: &[u64]) -> String {
    match lines {
        [] => String::new(),
        [line] => format!("line {line}"),
        [first, .., last] if first == last => format!("line {first}"),
        [first, .., last] => format!("lines {first}–{last}"),
    }
}

pub(super) fn quoted(quote: &Quote) -> String {
    match quote.line {
        Some(line) => format!("line {line}: “{}”", quote.quote),
        None => format!("“{}”", quote.quote),
    }
}

/// Every table of `docs/paper/tables.json`, in full: each method's row as the paper prints it,
/// with where it was read. None of it is ours.
pub(super) fn paper_section(out: &mut String, paper: &PaperTables) {
    if paper.tables.is_empty() {
        return;
    }
    out.push_str("### The paper's tables (transcribed, not produced by lran)\n\n");
    out.push_str(
        "Every number below is the paper's, as its authors report it: LRAN's rows (\"Proposed \
         method\") and the compared methods' rows alike, transcribed into \
         `docs/paper/tables.json`; lran produced none of them. Row labels are the paper's \
         unless marked *inferred*. Numbers are shown with at least three decimals (the \
         paper prints a few with two, and its means with four).",
    );
    if let Some(from) = paper
        .source
        .as_ref()
        .map(|s| s.read_from.as_str())
        .filter(|f| !f.is_empty())
    {
        out.push_str(&format!(" Read from: {from}"));
    }
    out.push_str("\n\n");
    for table in &paper.tables {
        let number = table.table.map(|n| format!("Table {n}"));
        let title = if !table.paper_label.is_empty() {
            table.paper_label.clone()
        } else {
            number.clone().unwrap_or_else(|| table.id.clone())
        };
        out.push_str(&format!("#### {title} (`{}`)\n\n", table.id));
        if !table.description.is_empty() {
            out.push_str(&format!("{}\n\n", table.description));
        }
        let caption = match &table.caption {
            Some(caption) if !caption.is_empty() => format!("caption “{caption}”"),
            _ => "no caption in the text".into(),
        };
        let mut source = format!(
            "Source: the paper's {}, {caption}",
            number.as_deref().unwrap_or("table")
        );
        if let Some(place) = &table.source {
            let file = if place.file.is_empty() {
                "the paper's text".to_string()
            } else {
                format!("`{}`", place.file)
            };
            let span = line_span(&place.lines);
            if !span.is_empty() {
                source.push_str(&format!("; {file} {span}"));
            }
            if let Some(cited) = &place.identified_by {
                source.push_str(&format!(" (cited at {})", quoted(cited)));
            }
        }
        out.push_str(&format!("{source}.\n\n"));
        let width = table.columns.len();
        let headers: Vec<String> = (0..width)
            .map(|i| {
                let header = markdown_cell(table.header(i));
                if i == 0 {
                    format!("paper's {header}")
                } else {
                    header
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", headers.join(" | ")));
        out.push_str(&format!("|{}\n", " --- |".repeat(width.max(1))));
        let lran = table.lran_label();
        for row in &table.rows {
            let mut cells: Vec<String> = row.iter().map(transcribed).collect();
            cells.resize(width.max(cells.len()), "—".into());
            if let Some(first) = cells.first_mut() {
                if row_label(row) == Some(lran) && !first.contains("LRAN") {
                    first.push_str(" (= LRAN)");
                }
                if table.row_labels_inferred {
                    first.push_str(" *(inferred)*");
                }
            }
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push('\n');
        if let Some(inference) = &table.inferred_from {
            let span = line_span(&inference.lines);
            out.push_str(&format!(
                "Row labels inferred from the prose{}: {}",
                if span.is_empty() {
                    String::new()
                } else {
                    format!(" ({span})")
                },
                inference
                    .quotes
                    .iter()
                    .map(quoted)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            if !inference.reasoning.is_empty() {
                out.push_str(&format!(" Reasoning: {}", inference.reasoning));
            }
            out.push_str("\n\n");
        }
        for note in &table.notes {
            out.push_str(&format!("- {note}\n"));
        }
        if !table.notes.is_empty() {
            out.push('\n');
        }
    }
}

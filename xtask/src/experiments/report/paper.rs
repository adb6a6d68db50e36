//! The paper's tables as transcribed in `docs/paper/tables.json`: reading them, the paper's
//! cells beside ours, and the section that shows every table in full with the lines of the
//! paper each came from.

use super::document::{Cell, Document, Number, Origin, PAPER_FILE, Table};
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
}

impl PaperTables {
    pub(super) fn table(&self, id: &str) -> Option<&PaperTable> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// Table `id` with its JSON pointer in the transcription (`/tables/<index>`).
    fn table_at(&self, id: &str) -> Option<(&PaperTable, String)> {
        let index = self.tables.iter().position(|t| t.id == id)?;
        Some((&self.tables[index], format!("/tables/{index}")))
    }

    /// The number in row `row` (an index into the table's rows), column `column`, with its
    /// JSON pointer in the transcription.
    fn number_at(table: (&PaperTable, String), row: usize, column: usize) -> Option<(f64, String)> {
        let value = table.0.rows.get(row)?.get(column)?.as_f64()?;
        Some((value, format!("{}/rows/{row}/{column}", table.1)))
    }

    /// The paper's value for LRAN in table `id`. `key` is a column (read in LRAN's row) or, in
    /// a table whose rows are LRAN's variants (`row_keys`: the ablation's configurations), a
    /// row key, read in the table's `lookup_column`.
    pub(super) fn lran(&self, id: &str, key: &str) -> Option<f64> {
        self.lran_at(id, key).map(|(value, _)| value)
    }

    /// [`Self::lran`] with the value's JSON pointer in the transcription.
    pub(super) fn lran_at(&self, id: &str, key: &str) -> Option<(f64, String)> {
        let (table, at) = self.table_at(id)?;
        if let Some(row) = table.row_keys.iter().position(|k| k == key) {
            let column = table.column(table.lookup_column.as_deref()?)?;
            return Self::number_at((table, at), row, column);
        }
        let column = table.column(key)?;
        let label = table.lran_label();
        let row = table
            .rows
            .iter()
            .position(|r| row_label(r) == Some(label))?;
        Self::number_at((table, at), row, column)
    }

    /// The paper's value in table `id`, the row with key `row_key`, column `column`.
    #[cfg(test)]
    pub(super) fn cell(&self, id: &str, row_key: &str, column: &str) -> Option<f64> {
        self.cell_at(id, row_key, column).map(|(value, _)| value)
    }

    /// [`Self::cell`] with the value's JSON pointer in the transcription.
    pub(super) fn cell_at(&self, id: &str, row_key: &str, column: &str) -> Option<(f64, String)> {
        let (table, at) = self.table_at(id)?;
        let column = table.column(column)?;
        let row = table.row_keys.iter().position(|k| k == row_key)?;
        Self::number_at((table, at), row, column)
    }

    /// The best value in column `column` of table `id` among the rows other than LRAN's (the
    /// methods the paper compares with), with the row's label as the paper prints it.
    #[cfg(test)]
    pub(super) fn best_other(&self, id: &str, column: &str) -> Option<(&str, f64)> {
        self.best_other_at(id, column)
            .map(|(label, value, _)| (label, value))
    }

    /// [`Self::best_other`] with the value's JSON pointer in the transcription.
    pub(super) fn best_other_at(&self, id: &str, column: &str) -> Option<(&str, f64, String)> {
        let (table, at) = self.table_at(id)?;
        let index = table.column(column)?;
        let lran = table.lran_label();
        let mut best: Option<(&str, f64, usize)> = None;
        for (r, row) in table.rows.iter().enumerate() {
            let Some(label) = row_label(row) else {
                continue;
            };
            if label == lran {
                continue;
            }
            if let Some(value) = row.get(index).and_then(|v| v.as_f64())
                && best.is_none_or(|(_, b, _)| value > b)
            {
                best = Some((label, value, r));
            }
        }
        best.map(|(label, value, r)| (label, value, format!("{at}/rows/{r}/{index}")))
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

/// A transcribed cell as a paper cell: a number names its place in the transcription.
fn transcribed_cell(value: &serde_json::Value, pointer: String) -> Cell {
    let text = transcribed(value);
    match value.as_f64() {
        Some(number) => {
            let digits = text.split_once('.').map_or(0, |(_, d)| d.len());
            Cell {
                text: text.clone(),
                origin: Some(Origin::Paper),
                numbers: vec![Number {
                    shown: text,
                    ..Number::new(PAPER_FILE, pointer, number, digits)
                }],
                ..Cell::default()
            }
        }
        None => Cell::text(text),
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
pub(super) fn paper_section(out: &mut Document, paper: &PaperTables) {
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
    for (t, table) in paper.tables.iter().enumerate() {
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
        let mut shown = Table::new(headers);
        let lran = table.lran_label();
        for (r, row) in table.rows.iter().enumerate() {
            let mut cells: Vec<Cell> = row
                .iter()
                .enumerate()
                .map(|(c, value)| transcribed_cell(value, format!("/tables/{t}/rows/{r}/{c}")))
                .collect();
            cells.resize(width.max(cells.len()), Cell::text("—"));
            if let Some(first) = cells.first_mut() {
                if row_label(row) == Some(lran) && !first.text.contains("LRAN") {
                    first.text.push_str(" (= LRAN)");
                }
                if table.row_labels_inferred {
                    first.text.push_str(" *(inferred)*");
                }
            }
            shown.row(cells);
        }
        out.table(shown);
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

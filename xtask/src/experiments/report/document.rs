//! The report as a document: Markdown prose and tables whose number cells say where each
//! number was read (a file and a JSON pointer into it). The README gets the document as
//! Markdown; the results page (`www/results.html`) gets it as JSON, with the prose rendered to
//! HTML, and its browser test reads every named number back from its file.

use serde::Serialize;

use crate::experiments::results::Spread;

/// The paper's transcription, relative to the repository root: where paper cells point.
pub const PAPER_FILE: &str = "docs/paper/tables.json";

#[derive(Debug, Default, Serialize)]
pub struct Document {
    pub blocks: Vec<Block>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Block {
    /// Headings, paragraphs and lists, as the README shows them.
    Prose {
        markdown: String,
    },
    Table(Table),
}

#[derive(Debug, Default, Serialize)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Whose number a cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Computed by lran from its results files.
    Ours,
    /// Reported by the paper's authors, transcribed in [`PAPER_FILE`].
    Paper,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Cell {
    /// The cell as Markdown (what the README shows).
    pub text: String,
    /// The same as HTML, where the results page's builder has rendered it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub html: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Every number the text shows, with where it was read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<Number>,
    /// The per-model results files behind the cell (a mean over seeds names each seed's file),
    /// relative to the repository root.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// A number shown in a cell: `shown` is `value × scale` with `digits` decimals, and `value` is
/// what the JSON pointer `pointer` reads in `file` (relative to the repository root).
#[derive(Debug, Clone, Serialize)]
pub struct Number {
    pub file: String,
    pub pointer: String,
    pub value: f64,
    /// 100 for a share shown in percent.
    pub scale: f64,
    pub digits: usize,
    pub shown: String,
}

impl Number {
    pub fn new(file: &str, pointer: String, value: f64, digits: usize) -> Self {
        Number {
            file: file.to_string(),
            pointer,
            value,
            scale: 1.0,
            digits,
            shown: format!("{value:.digits$}"),
        }
    }
}

/// A JSON pointer's reference token for `key` (RFC 6901: `~` and `/` escaped).
pub fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            ..Cell::default()
        }
    }

    /// One of our numbers, `digits` decimals.
    pub fn ours(value: f64, digits: usize, file: &str, pointer: String) -> Self {
        Cell::scaled(value, 1.0, digits, file, pointer)
    }

    /// One of our numbers shown × `scale` (100: a share in percent).
    pub fn scaled(value: f64, scale: f64, digits: usize, file: &str, pointer: String) -> Self {
        let number = Number {
            scale,
            shown: format!("{:.digits$}", value * scale),
            ..Number::new(file, pointer, value, digits)
        };
        Cell {
            text: number.shown.clone(),
            origin: Some(Origin::Ours),
            numbers: vec![number],
            ..Cell::default()
        }
    }

    /// mean ± std (n) over seeds, read at `pointer` (an object with `mean`, `std`, `n`).
    pub fn spread(spread: &Spread, file: &str, pointer: &str) -> Self {
        let mean = Number::new(file, format!("{pointer}/mean"), spread.mean, 3);
        let n = Number::new(file, format!("{pointer}/n"), spread.n as f64, 0);
        let (text, numbers) = if spread.n > 1 {
            let std = Number::new(file, format!("{pointer}/std"), spread.std, 3);
            (
                format!("{} ± {} (n={})", mean.shown, std.shown, n.shown),
                vec![mean, std, n],
            )
        } else {
            (format!("{} (n={})", mean.shown, n.shown), vec![mean, n])
        };
        Cell {
            text,
            origin: Some(Origin::Ours),
            numbers,
            ..Cell::default()
        }
    }

    /// A number of the paper's, or a dash where it has none.
    pub fn paper(value: Option<(f64, String)>) -> Self {
        match value {
            Some((value, pointer)) => Cell {
                origin: Some(Origin::Paper),
                ..Cell::ours(value, 3, PAPER_FILE, pointer)
            },
            None => Cell::text("—"),
        }
    }

    /// The per-model results files behind the cell.
    pub fn with_files(mut self, files: Vec<String>) -> Self {
        self.files = files;
        self
    }

    /// The same cell in bold.
    pub fn bold(self) -> Self {
        self.around("**", "**")
    }

    /// The cell's text with words before and after it.
    pub fn around(mut self, before: &str, after: &str) -> Self {
        self.text = format!("{before}{}{after}", self.text);
        self
    }
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn markdown(&self, out: &mut String) {
        // "| a | b |", an empty cell as "| |".
        let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
            out.push('|');
            for cell in cells {
                if !cell.is_empty() {
                    out.push(' ');
                    out.push_str(cell);
                }
                out.push_str(" |");
            }
            out.push('\n');
        };
        line(out, &mut self.header.iter().map(String::as_str));
        out.push_str(&format!("|{}\n", " --- |".repeat(self.header.len().max(1))));
        for row in &self.rows {
            line(out, &mut row.iter().map(|c| c.text.as_str()));
        }
    }
}

impl Document {
    /// Appends Markdown prose (so the report's writers read like writing to a `String`).
    pub fn push_str(&mut self, text: &str) {
        match self.blocks.last_mut() {
            Some(Block::Prose { markdown }) => markdown.push_str(text),
            _ => self.blocks.push(Block::Prose {
                markdown: text.to_string(),
            }),
        }
    }

    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Prose { markdown } => out.push_str(markdown),
                Block::Table(table) => table.markdown(&mut out),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_cell_names_each_number_it_shows() {
        let spread = Spread {
            mean: 0.91234,
            std: 0.0104,
            n: 3,
        };
        let cell = Cell::spread(
            &spread,
            "results/mnist/summary.json",
            "/groups/2/latent_auc",
        );
        assert_eq!(cell.text, "0.912 ± 0.010 (n=3)");
        let pointers: Vec<&str> = cell.numbers.iter().map(|n| n.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/groups/2/latent_auc/mean",
                "/groups/2/latent_auc/std",
                "/groups/2/latent_auc/n"
            ]
        );
        for number in &cell.numbers {
            assert!(cell.text.contains(&number.shown), "{number:?}");
        }
        let single = Cell::spread(&Spread { n: 1, ..spread }, "f", "/p");
        assert_eq!(single.text, "0.912 (n=1)");
        assert_eq!(single.numbers.len(), 2);
    }

    #[test]
    fn the_markdown_is_the_prose_and_the_tables_in_order() {
        let mut doc = Document::default();
        doc.push_str("### T\n\n");
        let mut table = Table::new(["a", "b"]);
        table.row(vec![Cell::text("x"), Cell::paper(None)]);
        doc.table(table);
        doc.push('\n');
        doc.push_str("end\n");
        assert_eq!(
            doc.markdown(),
            "### T\n\n| a | b |\n| --- | --- |\n| x | — |\n\nend\n"
        );
        assert_eq!(doc.blocks.len(), 3);
        assert_eq!(token("a/b~c"), "a~1b~0c");
    }
}

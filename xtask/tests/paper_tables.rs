//! `docs/paper/tables.json`, the paper's own numbers, against the paper's text
//! (`../shared/paper/paper.txt` beside this checkout): every table well formed and sourced, every
//! transcribed cell on the line it names, every quote verbatim, and the printed means against
//! the per-class values. Without the text the checks that need it are skipped, unless CI=true
//! or LRAN_REQUIRE_DATA=1 make that a failure.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::Value;

/// xtask's folder; at run time first (a warm target directory shared by checkouts may hold a
/// binary built in another).
fn manifest() -> PathBuf {
    common::manifest_dir()
}

fn tables_json() -> Value {
    let path = manifest().join("../docs/paper/tables.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The paper's text, one entry per line (line n is `lines[n - 1]`), or None when it is absent
/// and not required.
fn paper_lines() -> Option<Vec<String>> {
    let path = common::shared("paper/paper.txt")?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(text.lines().map(str::to_string).collect())
}

fn line(lines: &[String], number: u64) -> &str {
    assert!(
        number >= 1 && number as usize <= lines.len(),
        "line {number} is outside the paper's text ({} lines)",
        lines.len()
    );
    &lines[number as usize - 1]
}

/// The cells of a Markdown-ish table line of the text: split at '|', trimmed, empty ones dropped.
fn cells(text: &str) -> Vec<&str> {
    text.split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// A table's rule line, `---|---|`: not a list's bare "-".
fn is_rule(text: &str) -> bool {
    let cells = cells(text);
    text.contains('|')
        && !cells.is_empty()
        && cells
            .iter()
            .all(|c| c.len() >= 3 && c.chars().all(|ch| ch == '-'))
}

fn tables(doc: &Value) -> &Vec<Value> {
    doc["tables"].as_array().expect("a \"tables\" list")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().expect("a string")).collect())
        .unwrap_or_default()
}

fn numbers(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_u64().expect("a line number"))
                .collect()
        })
        .unwrap_or_default()
}

fn id(table: &Value) -> &str {
    table["id"].as_str().expect("every table has a string id")
}

fn table<'a>(doc: &'a Value, wanted: &str) -> &'a Value {
    tables(doc)
        .iter()
        .find(|t| id(t) == wanted)
        .unwrap_or_else(|| panic!("no table {wanted:?}"))
}

fn column(table: &Value, key: &str) -> usize {
    strings(&table["columns"])
        .iter()
        .position(|c| *c == key)
        .unwrap_or_else(|| panic!("{}: no column {key:?}", id(table)))
}

/// The row holding LRAN's values: the one labelled `lran_row` (default "LRAN").
fn lran_row(table: &Value) -> &Vec<Value> {
    let label = table["lran_row"].as_str().unwrap_or("LRAN");
    let rows: Vec<&Vec<Value>> = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_array().expect("a row is a list"))
        .filter(|r| r.first().and_then(Value::as_str) == Some(label))
        .collect();
    assert_eq!(rows.len(), 1, "{}: one row labelled {label:?}", id(table));
    rows[0]
}

fn keyed_row<'a>(table: &'a Value, key: &str) -> &'a Vec<Value> {
    let index = strings(&table["row_keys"])
        .iter()
        .position(|k| *k == key)
        .unwrap_or_else(|| panic!("{}: no row key {key:?}", id(table)));
    table["rows"][index].as_array().expect("a row")
}

#[test]
fn every_table_is_well_formed_and_says_where_it_came_from() {
    let doc = tables_json();
    let read_from = doc["source"]["read_from"]
        .as_str()
        .expect("source.read_from");
    assert!(read_from.contains("paper.txt"), "{read_from}");
    assert!(
        doc["note"]
            .as_str()
            .is_some_and(|n| n.contains("paper.txt")),
        "the note says where the numbers come from"
    );
    let all = tables(&doc);
    assert!(!all.is_empty());
    let mut ids = HashSet::new();
    let mut numbers_seen = HashSet::new();
    for t in all {
        let name = id(t);
        assert!(!name.is_empty());
        assert!(ids.insert(name), "table id {name:?} twice");
        assert!(
            t["paper_label"].as_str().is_some_and(|l| !l.is_empty()),
            "{name}: paper_label"
        );
        let number = t["table"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: table number"));
        assert!(number >= 1, "{name}");
        assert!(numbers_seen.insert(number), "{name}: Table {number} twice");

        // Where it came from.
        let source = &t["source"];
        assert!(
            source["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("paper.txt")),
            "{name}: source.file"
        );
        assert_eq!(
            source["table"].as_u64(),
            Some(number),
            "{name}: source.table"
        );
        let span = numbers(&source["lines"]);
        assert_eq!(span.len(), 2, "{name}: source.lines is [first, last]");
        assert!(span[0] <= span[1], "{name}: {span:?}");
        let inside = |l: u64| span[0] <= l && l <= span[1];
        let header = source["header_line"].as_u64().expect("header_line");
        assert!(
            inside(header),
            "{name}: header line {header} outside {span:?}"
        );
        let row_lines = numbers(&source["row_lines"]);
        assert!(row_lines.iter().all(|&l| inside(l) && l > header), "{name}");
        assert!(
            row_lines.windows(2).all(|w| w[0] < w[1]),
            "{name}: row lines in order"
        );
        let cited = &source["identified_by"];
        assert!(
            cited["line"].as_u64().is_some(),
            "{name}: identified_by.line"
        );
        assert!(
            cited["quote"].as_str().is_some_and(|q| !q.is_empty()),
            "{name}: identified_by.quote"
        );

        // Shape: as many cells as columns, a label then numbers or nulls.
        let columns = strings(&t["columns"]);
        assert!(columns.len() >= 2, "{name}");
        assert_eq!(
            columns.iter().collect::<HashSet<_>>().len(),
            columns.len(),
            "{name}: column keys unique"
        );
        let labels = strings(&t["column_labels"]);
        assert_eq!(
            labels.len(),
            columns.len(),
            "{name}: one paper header per column"
        );
        let rows = t["rows"].as_array().expect("rows");
        assert!(!rows.is_empty(), "{name}");
        assert_eq!(
            rows.len(),
            row_lines.len(),
            "{name}: one source line per row"
        );
        let auc = t["metric"].as_str() == Some("AUC");
        let mut row_labels = HashSet::new();
        for row in rows {
            let row = row.as_array().expect("a row is a list");
            assert_eq!(row.len(), columns.len(), "{name}: {row:?}");
            let label = row[0].as_str().expect("row[0] is the row's label");
            assert!(!label.is_empty(), "{name}");
            assert!(row_labels.insert(label), "{name}: row {label:?} twice");
            for cell in &row[1..] {
                match cell {
                    Value::Null => {}
                    Value::Number(n) => {
                        let v = n.as_f64().unwrap();
                        if auc {
                            assert!((0.0..=1.0).contains(&v), "{name}: AUC {v} in {label:?}");
                        }
                    }
                    other => panic!("{name}: {label:?} holds {other}"),
                }
            }
        }
        lran_row(t);
        let keys = strings(&t["row_keys"]);
        if !keys.is_empty() {
            assert_eq!(keys.len(), rows.len(), "{name}: one key per row");
            assert_eq!(
                keys.iter().collect::<HashSet<_>>().len(),
                keys.len(),
                "{name}"
            );
        }
        if let Some(lookup) = t["lookup_column"].as_str() {
            assert!(!keys.is_empty(), "{name}: lookup_column without row_keys");
            column(t, lookup);
        }
        if t["row_labels_inferred"].as_bool() == Some(true) {
            let inference = &t["inferred_from"];
            assert!(
                inference["quotes"]
                    .as_array()
                    .is_some_and(|q| !q.is_empty()),
                "{name}: inferred row labels quote the prose they come from"
            );
            assert!(
                inference["reasoning"]
                    .as_str()
                    .is_some_and(|r| !r.is_empty()),
                "{name}: and say how"
            );
        }
    }
    // What the report looks up (xtask/src/experiments/report.rs).
    for wanted in [
        "mnist",
        "cifar10",
        "ablation",
        "ablation-brain",
        "brain",
        "scores",
    ] {
        table(&doc, wanted);
    }
    // Training details: each quoted where the paper states it, or says it is not there.
    let details = doc["training_details"]
        .as_array()
        .expect("training_details");
    assert!(!details.is_empty());
    for detail in details {
        let what = detail["what"].as_str().expect("what");
        let quoted = detail["source"]["quote"].as_str().is_some();
        let noted = detail["note"].as_str().is_some_and(|n| !n.is_empty());
        assert!(quoted || noted, "{what}: neither a quote nor a note");
        if detail["value"].is_null() {
            assert!(noted, "{what}: no value, and no note saying why");
        }
    }
    assert!(
        details.iter().any(|d| {
            d["what"]
                .as_str()
                .is_some_and(|w| w.contains("loss weights"))
                && d["value"].is_null()
                && d["note"].as_str().is_some_and(|n| n.contains("LOST"))
        }),
        "the loss weights' loss in extraction is said explicitly"
    );
}

#[test]
fn every_transcribed_cell_is_on_its_line_of_the_paper() {
    let Some(lines) = paper_lines() else {
        return;
    };
    let doc = tables_json();
    let mut covered: Vec<(u64, u64)> = Vec::new();
    for t in tables(&doc) {
        let name = id(t);
        let source = &t["source"];
        let span = numbers(&source["lines"]);
        covered.push((span[0], span[1]));
        // The paper's headers, in order, on the header line.
        let header = source["header_line"].as_u64().unwrap();
        let labels = strings(&t["column_labels"]);
        assert_eq!(
            cells(line(&lines, header)),
            labels[1..],
            "{name}: the headers of line {header}"
        );
        // Each row on its line: its label where the text kept one, then every value in order.
        let inferred = t["row_labels_inferred"].as_bool() == Some(true);
        let row_lines = numbers(&source["row_lines"]);
        for (row, &at) in t["rows"].as_array().unwrap().iter().zip(&row_lines) {
            let row = row.as_array().unwrap();
            let text = line(&lines, at);
            let mut found = cells(text);
            if !inferred {
                assert_eq!(
                    found.first().copied(),
                    row[0].as_str(),
                    "{name}: label on line {at}"
                );
                found.remove(0);
            }
            assert_eq!(
                found.len(),
                row.len() - 1,
                "{name}: cells of line {at}: {text}"
            );
            for (cell, printed) in row[1..].iter().zip(&found) {
                let value: f64 = printed
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: line {at}: {printed:?} is not a number"));
                assert_eq!(cell.as_f64(), Some(value), "{name}: line {at}: {printed}");
            }
        }
        // Nothing else in the table's span: its header, rule lines and rows only.
        for at in span[0]..=span[1] {
            let text = line(&lines, at);
            assert!(
                at == header || row_lines.contains(&at) || is_rule(text),
                "{name}: line {at} of its span is not transcribed: {text}"
            );
        }
        // LRAN's row, spelled out: its values in order on its line.
        let lran = lran_row(t);
        let index = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| r.as_array() == Some(lran))
            .unwrap();
        let printed: Vec<f64> = cells(line(&lines, row_lines[index]))
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        let ours: Vec<f64> = lran[1..].iter().filter_map(Value::as_f64).collect();
        assert_eq!(printed, ours, "{name}: LRAN's row");
    }
    // Every table of the text is transcribed: each rule line lies in some table's span.
    for (index, text) in lines.iter().enumerate() {
        let at = index as u64 + 1;
        if is_rule(text) {
            assert!(
                covered.iter().any(|&(a, b)| a <= at && at <= b),
                "line {at} is a table rule outside every transcribed table: {text}"
            );
        }
    }
}

/// Every `{"line": n, "quote": "…"}` anywhere in the file.
fn quotes<'a>(value: &'a Value, found: &mut Vec<(u64, &'a str)>) {
    match value {
        Value::Object(map) => {
            if let (Some(line), Some(quote)) = (
                map.get("line").and_then(Value::as_u64),
                map.get("quote").and_then(Value::as_str),
            ) {
                found.push((line, quote));
            }
            for child in map.values() {
                quotes(child, found);
            }
        }
        Value::Array(items) => {
            for child in items {
                quotes(child, found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_quote_is_verbatim_on_its_line() {
    let Some(lines) = paper_lines() else {
        return;
    };
    let doc = tables_json();
    let mut found = Vec::new();
    quotes(&doc, &mut found);
    // The tables' citations and inferences, the training details, the findings.
    assert!(
        found.len() >= tables(&doc).len() * 2,
        "{} quotes",
        found.len()
    );
    for (at, quote) in found {
        assert!(!quote.trim().is_empty(), "an empty quote on line {at}");
        assert!(
            line(&lines, at).contains(quote),
            "line {at} does not hold {quote:?}"
        );
    }
    // An inference's quotes lie in the lines it names.
    for t in tables(&doc) {
        let inference = &t["inferred_from"];
        if inference.is_null() {
            continue;
        }
        let span = numbers(&inference["lines"]);
        let (first, last) = (span[0], *span.last().unwrap());
        for quote in inference["quotes"].as_array().unwrap() {
            let at = quote["line"].as_u64().unwrap();
            assert!(first <= at && at <= last, "{}: quote of line {at}", id(t));
        }
    }
}

#[test]
fn printed_means_agree_with_the_per_class_values_or_the_difference_is_noted() {
    let doc = tables_json();
    let mut checked = 0;
    for t in tables(&doc) {
        let columns = strings(&t["columns"]);
        let Some(mean_at) = columns.iter().position(|c| *c == "mean") else {
            continue;
        };
        let classes: Vec<usize> = (1..columns.len()).filter(|&i| i != mean_at).collect();
        let notes = t["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            })
            .unwrap_or_default();
        for row in t["rows"].as_array().unwrap() {
            let row = row.as_array().unwrap();
            let label = row[0].as_str().unwrap();
            let (Some(mean), Some(values)) = (
                row[mean_at].as_f64(),
                classes
                    .iter()
                    .map(|&i| row[i].as_f64())
                    .collect::<Option<Vec<f64>>>(),
            ) else {
                continue;
            };
            let computed = values.iter().sum::<f64>() / values.len() as f64;
            // Per-class values are printed to 3 decimals (each off by up to 0.0005, and so
            // their mean), means to 4 (off by up to 0.00005).
            assert!(
                (mean - computed).abs() <= 0.0005 + 0.00005 + 1e-9,
                "{}: {label}: printed mean {mean}, mean of the printed classes {computed:.5}",
                id(t)
            );
            // Not equal to 4 decimals: the table's notes say so, with the computed mean.
            if (mean - computed).abs() > 0.00005 + 1e-9 {
                let method = label.split(" (").next().unwrap().to_lowercase();
                let computed = format!("{computed:.4}");
                assert!(
                    notes.contains(&method) && notes.contains(&computed),
                    "{}: the mean of {label:?} ({mean}) is not that of its classes ({computed}), \
                     and the notes do not record it",
                    id(t)
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no table with a mean column");
}

#[test]
fn the_full_model_of_the_ablation_is_the_latent_score_of_the_score_tables() {
    // The inferred row order of Tables 3-6 rests on this (see their "reasoning"); a
    // mistranscribed cell breaks it.
    let doc = tables_json();
    let (ablation, scores) = (table(&doc, "ablation"), table(&doc, "scores"));
    for key in ["mnist", "cifar10"] {
        assert_eq!(
            keyed_row(ablation, "full")[column(ablation, key)].as_f64(),
            keyed_row(scores, "latent")[column(scores, key)].as_f64(),
            "{key}"
        );
    }
    let (ablation, brain) = (table(&doc, "ablation-brain"), table(&doc, "brain"));
    assert_eq!(
        keyed_row(ablation, "full")[column(ablation, "brats")].as_f64(),
        keyed_row(brain, "latent")[column(brain, "auc")].as_f64()
    );
    // Where Table 1's LRAN mean differs from the ablation's full model, a finding says so.
    let one_class = lran_row(table(&doc, "mnist"))[column(table(&doc, "mnist"), "mean")]
        .as_f64()
        .unwrap();
    let full = keyed_row(table(&doc, "ablation"), "full")[column(table(&doc, "ablation"), "mnist")]
        .as_f64()
        .unwrap();
    if one_class != full {
        let findings = doc["findings"].as_array().expect("findings");
        assert!(
            findings.iter().any(|f| f["what"].as_str().is_some_and(|w| {
                w.contains(&format!("{one_class:.3}")) && w.contains(&format!("{full:.3}"))
            })),
            "Table 1's LRAN mean {one_class} and Table 3's {full} differ, and no finding says so"
        );
    }
}

//! The results page's data: `www/pkg/results/data.json`, which `www/results.html` draws. It is
//! the report's own document (the README's tables, each number naming its file and JSON
//! pointer, the prose rendered to HTML), the facts of every results file a number comes from,
//! each suite's summary and ROC curves for the charts, and each exported model's latent views.
//! Every file the data names is copied beside it (`www/pkg/results/<path>`), so a reviewer
//! opens the very file a number was read from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::brain_sets::{parse_slice_name, slice_name};
use crate::experiments::report::document::{Block, Cell, Document, PAPER_FILE};
use crate::experiments::report::{self, Report};
use crate::experiments::results::{Suite, SuiteSummary};
use crate::provenance::{ResultsHeader, read_json, write_json};
use crate::training::eval::{ImageScores, PooledTest};
use lran::metrics::RocPoint;
use lran::score::Scores;

#[derive(Debug, Serialize)]
pub struct ResultsPage {
    #[serde(flatten)]
    pub header: ResultsHeader,
    /// Our tables, one section per suite, beside the paper's numbers.
    pub results: Vec<PageBlock>,
    /// The paper's tables in full, as transcribed (none of it ours).
    pub paper: Vec<PageBlock>,
    /// Every file a number or a chart was read from, by its path in the repository.
    pub files: BTreeMap<String, FileFacts>,
    pub suites: Vec<SuiteCharts>,
    pub models: Vec<ModelLatents>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_slices: Option<TopSlices>,
}

/// The folder `cargo xtask score --heatmaps` wrote the brain test cases' most anomalous slices
/// into, with its `scores.json`.
pub const TOP_SLICES: &str = "results/brain/top-slices";

/// Each test case's most anomalous slices, as `cargo xtask score --heatmaps` drew them (input,
/// reconstruction, residual overlay), with whether the slice holds tumour.
#[derive(Debug, Serialize)]
pub struct TopSlices {
    pub file: String,
    pub command: String,
    pub model: String,
    /// The results file whose test scores say which slices hold tumour (from the cases'
    /// segmentations), if any.
    pub labels_from: Option<String>,
    pub cases: Vec<CaseSlices>,
}

#[derive(Debug, Serialize)]
pub struct CaseSlices {
    pub case: String,
    pub volume: String,
    pub slices: Vec<DrawnSlice>,
}

#[derive(Debug, Serialize)]
pub struct DrawnSlice {
    pub slice: u64,
    pub latent_score: f64,
    pub verdict: String,
    /// The PNG, relative to the repository root.
    pub image: String,
    /// None: the slice is not among the labelled test slices (too few tumour voxels to count).
    pub tumour: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PageBlock {
    Prose {
        html: String,
    },
    /// Each cell's `html` rendered from its Markdown `text`.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
}

/// What a reviewer needs to know of a results file before opening it (the page's copy of the
/// file sits at its repository path under `www/pkg/results/`).
#[derive(Debug, Default, Serialize)]
pub struct FileFacts {
    pub kind: String,
    pub commit: String,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trained_with_commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Less than the paper's budget (its suite's flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduced: Option<bool>,
    /// The data files the model was trained and tested on, with their SHA-256.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_files: Vec<(String, String)>,
}

/// A suite's figures for the charts: its summary as written, and every model's ROC curves.
#[derive(Debug, Serialize)]
pub struct SuiteCharts {
    pub file: String,
    pub folder: String,
    pub suite: Suite,
    pub reduced: bool,
    /// The command that wrote the summary (it reproduces every figure drawn from it).
    pub command: String,
    pub summary: Value,
    pub models: Vec<ModelRoc>,
}

#[derive(Debug, Serialize)]
pub struct ModelRoc {
    pub file: String,
    pub label: String,
    pub command: String,
    /// As thinned in the results file.
    #[serde(flatten)]
    pub roc: RocCurves,
    /// A brain model's ROC within each test case (its tumour slices against its own healthy
    /// slices, as the per-case AUROC), from the file's `test_scores`; empty for other suites.
    pub cases: Vec<CaseRoc>,
}

/// One test case's ROC curves and AUCs, latent and pixel score, drawn like a model's.
#[derive(Debug, Serialize)]
pub struct CaseRoc {
    pub case: String,
    pub tumour: usize,
    pub healthy: usize,
    #[serde(flatten)]
    pub roc: RocCurves,
}

/// The latent and the pixel score's AUC and ROC curve, each point (false positive rate, true
/// positive rate): what the page draws for a model or for one test case.
#[derive(Debug, Serialize)]
pub struct RocCurves {
    pub latent_auc: f64,
    pub pixel_auc: f64,
    pub roc_latent: Vec<(f64, f64)>,
    pub roc_pixel: Vec<(f64, f64)>,
}

/// An exported model's latent views (`model.json`): points on the healthy latents' three
/// principal axes.
#[derive(Debug, Serialize)]
pub struct ModelLatents {
    pub name: String,
    pub file: String,
    pub latent_views: Value,
}

/// Writes `pkg/results/data.json` and the copies of the files it names; returns the number of
/// tables written.
pub fn write(root: &Path, pkg: &Path) -> Result<usize> {
    let report = report::report(&root.join("results"), &root.join(PAPER_FILE))?;
    let page = build(root, report)?;
    let out = pkg.join("results");
    let images = page
        .top_slices
        .iter()
        .flat_map(|t| &t.cases)
        .flat_map(|c| &c.slices)
        .map(|s| &s.image);
    for path in page.files.keys().chain(images) {
        let copy = out.join(path);
        if let Some(parent) = copy.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(root.join(path), &copy)
            .with_context(|| format!("cannot copy {path} into the results page"))?;
    }
    write_json(&out.join("data.json"), &page)?;
    let tables = page
        .results
        .iter()
        .chain(&page.paper)
        .filter(|b| matches!(b, PageBlock::Table { .. }))
        .count();
    Ok(tables)
}

pub fn build(root: &Path, report: Report) -> Result<ResultsPage> {
    let results = blocks(report.results);
    let paper = blocks(report.paper);
    let mut named: BTreeSet<String> = BTreeSet::new();
    for block in results.iter().chain(&paper) {
        if let PageBlock::Table { rows, .. } = block {
            for cell in rows.iter().flatten() {
                named.extend(cell.numbers.iter().map(|n| n.file.clone()));
                named.extend(cell.files.iter().cloned());
            }
        }
    }
    let suites = suite_charts(root)?;
    for suite in &suites {
        named.insert(suite.file.clone());
        named.extend(suite.models.iter().map(|m| m.file.clone()));
    }
    let models = model_latents(root)?;
    named.extend(models.iter().map(|m| m.file.clone()));
    let top_slices = top_slices(root, &suites)?;
    if let Some(top) = &top_slices {
        named.insert(top.file.clone());
        named.extend(top.labels_from.iter().cloned());
    }
    let reduced_of = |path: &str| {
        suites
            .iter()
            .find(|s| s.file == path || s.models.iter().any(|m| m.file == path))
            .map(|s| s.reduced)
    };
    let mut files = BTreeMap::new();
    for path in named {
        let json: Value = read_json(&root.join(&path))?;
        let facts = facts(&json, reduced_of(&path));
        files.insert(path, facts);
    }
    Ok(ResultsPage {
        header: ResultsHeader::now("lran-results-page/1"),
        results,
        paper,
        files,
        suites,
        models,
        top_slices,
    })
}

fn facts(json: &Value, reduced: Option<bool>) -> FileFacts {
    let text = |key: &str| json[key].as_str().map(str::to_string);
    let number = |key: &str| json[key].as_u64();
    let data_files = json["data_files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|pair| Some((pair[0].as_str()?.into(), pair[1].as_str()?.into())))
                .collect()
        })
        .unwrap_or_default();
    FileFacts {
        kind: text("kind").unwrap_or_default(),
        commit: text("commit").unwrap_or_default(),
        command: text("command").unwrap_or_default(),
        trained_with_commit: text("trained_with_commit"),
        seed: number("seed"),
        epochs: number("epochs"),
        steps: number("steps"),
        device: text("train_device"),
        reduced,
        data_files,
    }
}

/// Markdown to HTML (CommonMark with tables); a cell's text loses its paragraph.
fn html(markdown: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

fn inline_html(markdown: &str) -> String {
    let block = html(markdown);
    let trimmed = block.trim_end();
    trimmed
        .strip_prefix("<p>")
        .and_then(|t| t.strip_suffix("</p>"))
        .unwrap_or(trimmed)
        .to_string()
}

fn blocks(document: Document) -> Vec<PageBlock> {
    document
        .blocks
        .into_iter()
        .filter_map(|block| match block {
            Block::Prose { markdown } => {
                let html = html(&markdown);
                (!html.trim().is_empty()).then_some(PageBlock::Prose { html })
            }
            Block::Table(table) => Some(PageBlock::Table {
                header: table.header.iter().map(|h| inline_html(h)).collect(),
                rows: table
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(page_cell).collect())
                    .collect(),
            }),
        })
        .collect()
}

fn page_cell(cell: Cell) -> Cell {
    Cell {
        html: inline_html(&cell.text),
        ..cell
    }
}

/// The folders directly under `dir` that hold a file `file`, sorted by name.
fn folders_holding(dir: &Path, file: &str) -> Vec<String> {
    let mut folders: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join(file).is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    folders
}

/// Every suite summary under `results/` (`<suite>/` and tagged `<suite>-<tag>/`) with each
/// model's ROC curves read from its results file.
fn suite_charts(root: &Path) -> Result<Vec<SuiteCharts>> {
    let folders = folders_holding(&root.join("results"), "summary.json");
    let mut out = Vec::new();
    for folder in folders {
        let file = format!("results/{folder}/summary.json");
        let summary: Value = read_json(&root.join(&file))?;
        // The scores summary has another schema: it names no models of its own.
        let Ok(parsed) = serde_json::from_value::<SuiteSummary>(summary.clone()) else {
            continue;
        };
        let mut models = Vec::new();
        for run in &parsed.runs {
            let path = run.results_path(&folder);
            let results: Value = read_json(&root.join(&path))?;
            let curve = |key: &str| -> Vec<(f64, f64)> {
                results[key]
                    .as_array()
                    .map(|points| {
                        points
                            .iter()
                            .filter_map(|p| {
                                Some((
                                    p["false_positive_rate"].as_f64()?,
                                    p["true_positive_rate"].as_f64()?,
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut label = Vec::new();
            if let Some(class) = run.class {
                label.push(format!("class {class}"));
            }
            if let Some(variant) = run.variant {
                label.push(variant.name().to_string());
            }
            if let Some(options) = &run.options {
                label.push(options.clone());
            }
            label.push(format!("seed {}", run.seed));
            let cases = case_rocs(&results).with_context(|| format!("{path}: test_scores"))?;
            models.push(ModelRoc {
                file: path,
                label: label.join(", "),
                command: run.command.clone(),
                roc: RocCurves {
                    latent_auc: run.latent_auc,
                    pixel_auc: run.pixel_auc,
                    roc_latent: curve("roc_latent"),
                    roc_pixel: curve("roc_pixel"),
                },
                cases,
            });
        }
        out.push(SuiteCharts {
            file,
            folder,
            suite: parsed.suite,
            reduced: parsed.reduced,
            command: parsed.header.command.clone(),
            summary,
            models,
        });
    }
    Ok(out)
}

/// The ROC of each case named in a results file's `test_scores` (`<case>:z<axial>`) that has
/// both tumour and healthy slices, in the order the cases first appear.
fn case_rocs(results: &Value) -> Result<Vec<CaseRoc>> {
    // A file without `test_scores` has no cases; a malformed entry is an error, not skipped.
    let images = match &results["test_scores"] {
        Value::Null => Vec::new(),
        scores => Vec::<ImageScores>::deserialize(scores)?,
    };
    let mut cases: Vec<(String, Scores, Vec<bool>)> = Vec::new();
    for image in &images {
        let Some((case, _)) = parse_slice_name(&image.name) else {
            continue;
        };
        let at = match cases.iter().position(|(c, ..)| c == case) {
            Some(at) => at,
            None => {
                cases.push((case.to_string(), Scores::default(), Vec::new()));
                cases.len() - 1
            }
        };
        let (_, scores, labels) = &mut cases[at];
        scores.latent.push(image.latent);
        scores.pixel.push(image.pixel);
        labels.push(image.anomalous);
    }
    cases
        .into_iter()
        .filter(|(_, _, labels)| labels.contains(&true) && labels.contains(&false))
        .map(|(case, scores, labels)| {
            let test = PooledTest::of(&scores, &labels)?;
            let points = |curve: &[RocPoint]| -> Vec<(f64, f64)> {
                curve
                    .iter()
                    .map(|p| (p.false_positive_rate, p.true_positive_rate))
                    .collect()
            };
            Ok(CaseRoc {
                case,
                tumour: test.test_anomalous,
                healthy: test.test_images - test.test_anomalous,
                roc: RocCurves {
                    latent_auc: test.latent_auc,
                    pixel_auc: test.pixel_auc,
                    roc_latent: points(&test.roc_latent),
                    roc_pixel: points(&test.roc_pixel),
                },
            })
        })
        .collect()
}

/// Every exported model's latent views (`models/<name>/model.json`).
fn model_latents(root: &Path) -> Result<Vec<ModelLatents>> {
    let names = folders_holding(&root.join("models"), "model.json");
    let mut out = Vec::new();
    for name in names {
        let file = format!("models/{name}/model.json");
        let card: Value = read_json(&root.join(&file))?;
        if card["latent_views"].is_object() {
            out.push(ModelLatents {
                name,
                file,
                latent_views: card["latent_views"].clone(),
            });
        }
    }
    Ok(out)
}

/// [`TOP_SLICES`]' drawn slices, each case named by its volume's folder (as eval names the
/// cases), labelled from the test scores of the brain suite's chosen model.
fn top_slices(root: &Path, suites: &[SuiteCharts]) -> Result<Option<TopSlices>> {
    let file = format!("{TOP_SLICES}/scores.json");
    if !root.join(&file).is_file() {
        return Ok(None);
    }
    let scores: Value = read_json(&root.join(&file))?;
    let labels_from = suites
        .iter()
        .find(|s| s.suite == Suite::Brain && s.folder == "brain")
        .and_then(|s| {
            let chosen = s.summary["chosen"]["file"].as_str()?;
            Some(format!("results/{}/{chosen}", s.folder))
        });
    let mut labels: BTreeMap<String, bool> = BTreeMap::new();
    if let Some(path) = &labels_from {
        let results: Value = read_json(&root.join(path))?;
        for image in results["test_scores"].as_array().into_iter().flatten() {
            if let (Some(name), Some(anomalous)) =
                (image["name"].as_str(), image["anomalous"].as_bool())
            {
                labels.insert(name.to_string(), anomalous);
            }
        }
    }
    let mut cases: Vec<CaseSlices> = Vec::new();
    for row in scores["rows"].as_array().into_iter().flatten() {
        let (Some(volume), Some(slice), Some(heatmap)) = (
            row["file"].as_str(),
            row["slice"].as_u64(),
            row["heatmap"].as_str().filter(|h| !h.is_empty()),
        ) else {
            continue;
        };
        let case = Path::new(volume)
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| volume.to_string());
        let drawn = DrawnSlice {
            slice,
            latent_score: row["latent_score"].as_f64().unwrap_or(f64::NAN),
            verdict: row["verdict"].as_str().unwrap_or_default().to_string(),
            image: format!("{TOP_SLICES}/{heatmap}"),
            tumour: labels.get(&slice_name(&case, slice as usize)).copied(),
        };
        match cases.iter_mut().find(|c| c.volume == volume) {
            Some(found) => found.slices.push(drawn),
            None => cases.push(CaseSlices {
                case,
                volume: volume.to_string(),
                slices: vec![drawn],
            }),
        }
    }
    for case in &mut cases {
        case.slices
            .sort_by(|a, b| b.latent_score.total_cmp(&a.latent_score));
    }
    Ok(Some(TopSlices {
        command: scores["command"].as_str().unwrap_or_default().to_string(),
        model: scores["model"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        file,
        labels_from,
        cases,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the repository's own results: every number of every table reads back from its file at
    /// its pointer as shown, and every file a cell names is among the page's files.
    #[test]
    fn every_number_of_the_page_is_the_one_its_file_holds() {
        let root = crate::provenance::repository_root();
        let report = report::report(&root.join("results"), &root.join(PAPER_FILE)).unwrap();
        let page = build(&root, report).unwrap();
        let mut checked = 0;
        for block in page.results.iter().chain(&page.paper) {
            let PageBlock::Table { rows, .. } = block else {
                continue;
            };
            for cell in rows.iter().flatten() {
                for number in &cell.numbers {
                    let json: Value = read_json(&root.join(&number.file)).unwrap();
                    let value = json
                        .pointer(&number.pointer)
                        .and_then(Value::as_f64)
                        .unwrap_or_else(|| panic!("{}{}", number.file, number.pointer));
                    assert_eq!(value, number.value, "{}{}", number.file, number.pointer);
                    let digits = number.digits;
                    assert_eq!(format!("{:.digits$}", value * number.scale), number.shown);
                    assert!(cell.html.contains(&number.shown), "{}", cell.html);
                    assert!(page.files.contains_key(&number.file), "{}", number.file);
                    checked += 1;
                }
                for file in &cell.files {
                    assert!(page.files.contains_key(file), "{file}");
                }
            }
        }
        assert!(checked > 100, "{checked} numbers");
        // The facts of a per-model file come from it.
        let (path, facts) = page
            .files
            .iter()
            .find(|(path, _)| path.starts_with("results/mnist/") && !path.ends_with("summary.json"))
            .expect("the MNIST suite's models are named");
        let json: Value = read_json(&root.join(path)).unwrap();
        assert_eq!(facts.commit, json["commit"].as_str().unwrap());
        assert_eq!(facts.seed, json["seed"].as_u64());
        assert!(!facts.data_files.is_empty());
        assert!(facts.reduced.is_some());
        assert!(
            page.suites
                .iter()
                .any(|s| s.models.iter().all(|m| !m.roc.roc_latent.is_empty()))
        );
    }

    #[test]
    fn cells_lose_their_paragraph_and_prose_keeps_its_markup() {
        assert_eq!(inline_html("**0.912**"), "<strong>0.912</strong>");
        assert_eq!(inline_html("`a|b`"), "<code>a|b</code>");
        assert!(html("### Title\n\nText *here*.\n").contains("<h3>Title</h3>"));
    }
}

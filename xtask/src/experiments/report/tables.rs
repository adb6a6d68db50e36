//! Our tables, one per suite, from its `summary.json`: each cell mean ± std over seeds (n), the
//! paper's value beside it where it has one, and the provenance line under each table. Every
//! number cell names the file and JSON pointer it was read from (see [`Cell`]).

use super::document::{Cell, Document, Table, token};
use super::paper::*;
use super::*;

/// A suite's summary file, relative to the repository root.
fn summary_file(summary: &SuiteSummary) -> String {
    format!("results/{}/summary.json", summary.folder())
}

/// The per-model results files of a group (its seeds), relative to the repository root.
fn group_files(summary: &SuiteSummary, key: &str) -> Vec<String> {
    summary
        .members(key)
        .map(|run| run.results_path(&summary.folder()))
        .collect()
}

pub(super) fn provenance(summary: &SuiteSummary) -> String {
    let devices = summary.devices.join("; ");
    let limit = summary
        .max_train_images
        .map(|n| format!(", at most {n} training images per model"))
        .unwrap_or_default();
    let options = summary
        .train_options
        .as_deref()
        .map(|o| format!(", options `{o}`"))
        .unwrap_or_default();
    let mut classes: Vec<u8> = summary.runs.iter().filter_map(|r| r.class).collect();
    classes.sort_unstable();
    classes.dedup();
    let classes = if classes.is_empty() {
        String::new()
    } else {
        format!(", normal classes {classes:?}")
    };
    // What the suite cost: each model's own training time (a model of another suite counted
    // there, not twice).
    let train_hours = summary
        .runs
        .iter()
        .filter(|run| !run.file.starts_with("../"))
        .map(|run| run.train_wall_seconds)
        .sum::<f64>()
        / 3600.0;
    let mut text = format!(
        "Ours: commit `{}`, `{}` network, {} epochs{limit}{options}{classes}, seeds {:?}, trained on {devices}; {} models, {train_hours:.1} hours of training in all, from `results/{}/summary.json`.",
        summary.header.commit,
        summary.preset,
        summary.epochs,
        summary.seeds,
        summary.runs.len(),
        summary.folder()
    );
    if summary.reduced {
        text.push_str(&format!("\n**{}.**", summary.note));
    } else {
        let mut note = summary.note.clone();
        if let Some(first) = note.get(..1) {
            note.replace_range(..1, &first.to_uppercase());
        }
        text.push_str(&format!("\n{note}."));
    }
    text
}

pub(super) fn one_class_table(
    out: &mut Document,
    summary: &SuiteSummary,
    paper: &PaperTables,
    title: &str,
) {
    let id = summary.suite.name();
    out.push_str(&format!("### {title}\n\n{}\n\n", provenance(summary)));
    let label = paper.label(id).filter(|l| !l.is_empty());
    let mut table = Table::new([
        "normal class".to_string(),
        "ours, latent score".into(),
        "ours, pixel score".into(),
        format!(
            "paper, LRAN{}",
            label.map(|l| format!(" ({l})")).unwrap_or_default()
        ),
        "paper, best other method (the paper's row)".into(),
    ]);
    let best = |column: &str| match paper.best_other_at(id, column) {
        Some((method, value, pointer)) => {
            Cell::paper(Some((value, pointer))).around("", &format!(" ({})", markdown_cell(method)))
        }
        None => Cell::paper(None),
    };
    let file = summary_file(summary);
    for (i, group) in summary.groups.iter().enumerate() {
        let class = match paper.column_label(id, &group.key) {
            Some(name) => format!("{} ({})", group.key, markdown_cell(name)),
            None => group.key.clone(),
        };
        let files = group_files(summary, &group.key);
        table.row(vec![
            Cell::text(class),
            Cell::spread(&group.latent_auc, &file, &format!("/groups/{i}/latent_auc"))
                .with_files(files.clone()),
            Cell::spread(&group.pixel_auc, &file, &format!("/groups/{i}/pixel_auc"))
                .with_files(files),
            Cell::paper(paper.lran_at(id, &group.key)),
            best(group.key.as_str()),
        ]);
    }
    if let (Some(latent), Some(pixel)) = (summary.mean_latent_auc, summary.mean_pixel_auc) {
        table.row(vec![
            Cell::text("**mean**"),
            Cell::ours(latent, 3, &file, "/mean_latent_auc".into()).bold(),
            Cell::ours(pixel, 3, &file, "/mean_pixel_auc".into()).bold(),
            Cell::paper(paper.lran_at(id, "mean")),
            best("mean"),
        ]);
    }
    out.table(table);
    out.push('\n');
}

pub(super) fn ablation_table(out: &mut Document, summary: &SuiteSummary, paper: &PaperTables) {
    let (title, id) = match summary.ablation_dataset {
        Some(AblationDataset::Brain) => (
            "on brain MRI (tumour slices vs healthy slices; AUC, mean over seeds)",
            "ablation-brain",
        ),
        _ => ("on MNIST (AUC, mean over classes and seeds)", "ablation"),
    };
    out.push_str(&format!(
        "### Ablation of the loss terms {title}\n\n{}\n\n",
        provenance(summary)
    ));
    if let Some(table) = paper.table(id) {
        let column = table
            .lookup_column
            .as_deref()
            .and_then(|c| table.column(c))
            .map(|c| format!(", column {}", table.header(c)))
            .unwrap_or_default();
        let inferred = if table.row_labels_inferred {
            "; the paper's text lost this table's row labels, so which configuration each of its rows is was inferred from its prose (see the paper's tables below)"
        } else {
            ""
        };
        out.push_str(&format!(
            "Paper column: {}{column}{inferred}.\n\n",
            table.paper_label
        ));
    }
    let mut table = Table::new([
        "loss terms",
        "ours, latent score",
        "ours, pixel score",
        "paper, LRAN",
    ]);
    let file = summary_file(summary);
    pub(super) fn describe(key: &str) -> &str {
        match key {
            "no-latent-no-low-rank" => "reconstruction + adversarial",
            "no-latent" => "… + low-rank (no latent)",
            "no-low-rank" => "… + latent (no low-rank)",
            "full" => "all four (LRAN)",
            other => other,
        }
    }
    for (i, group) in summary.groups.iter().enumerate() {
        let files = group_files(summary, &group.key);
        table.row(vec![
            Cell::text(describe(&group.key)),
            Cell::spread(&group.latent_auc, &file, &format!("/groups/{i}/latent_auc"))
                .with_files(files.clone()),
            Cell::spread(&group.pixel_auc, &file, &format!("/groups/{i}/pixel_auc"))
                .with_files(files),
            Cell::paper(paper.lran_at(id, &group.key)),
        ]);
    }
    out.table(table);
    out.push('\n');
}

/// The paper's (latent, pixel) AUC for a suite of our scores table: Table 6 for MNIST and
/// CIFAR-10, Table 5 (BraTS, other data than ours) for the brain.
#[cfg(test)]
pub(super) fn paper_scores(paper: &PaperTables, suite: Suite) -> (Option<f64>, Option<f64>) {
    let (latent, pixel) = paper_scores_at(paper, suite);
    (latent.map(|(v, _)| v), pixel.map(|(v, _)| v))
}

/// [`paper_scores`] with each value's JSON pointer in the transcription.
pub(super) fn paper_scores_at(
    paper: &PaperTables,
    suite: Suite,
) -> (Option<(f64, String)>, Option<(f64, String)>) {
    let (id, column) = match suite {
        Suite::Mnist => ("scores", "mnist"),
        Suite::Cifar10 => ("scores", "cifar10"),
        Suite::Brain => ("brain", "auc"),
        _ => return (None, None),
    };
    (
        paper.cell_at(id, "latent", column),
        paper.cell_at(id, "pixel", column),
    )
}

pub(super) fn scores_table(out: &mut Document, scores: &ScoresSummary, paper: &PaperTables) {
    out.push_str("### Latent vs pixel score (AUC over all models of each suite)\n\n");
    out.push_str(&format!(
        "Ours: commit `{}`, from `results/scores/summary.json` (the same trained models, scored both ways).\n\n",
        scores.header.commit
    ));
    let tables: Vec<&PaperTable> = ["scores", "brain"]
        .into_iter()
        .filter_map(|id| paper.table(id))
        .collect();
    if !tables.is_empty() {
        let labels: Vec<&str> = tables
            .iter()
            .map(|t| t.paper_label.as_str())
            .filter(|l| !l.is_empty())
            .collect();
        let inferred = if tables.iter().any(|t| t.row_labels_inferred) {
            "; the paper's text lost these tables' row labels, which row is the latent score was inferred from its prose"
        } else {
            ""
        };
        out.push_str(&format!(
            "Paper columns: {} (brain: BraTS 2019, other data than ours){inferred}.\n\n",
            labels.join("; ")
        ));
    }
    let mut table = Table::new([
        "suite",
        "models",
        "ours, latent score ‖z − ẑ‖²",
        "ours, pixel score",
        "latent better in",
        "paper, LRAN latent score",
        "paper, pixel score",
    ]);
    let file = "results/scores/summary.json";
    for (i, row) in scores.datasets.iter().enumerate() {
        let (paper_latent, paper_pixel) = paper_scores_at(paper, row.suite);
        let at = format!("/datasets/{i}");
        let mut better = Cell::ours(
            row.latent_better as f64,
            0,
            file,
            format!("{at}/latent_better"),
        );
        let models = Cell::ours(row.models as f64, 0, file, format!("{at}/models"));
        better.text = format!("{} of {}", better.text, models.text);
        better.numbers.extend(models.numbers.clone());
        table.row(vec![
            Cell::text(format!(
                "{}{}",
                row.suite.name(),
                if row.reduced { " (reduced budget)" } else { "" }
            )),
            models,
            Cell::spread(&row.latent_auc, file, &format!("{at}/latent_auc")),
            Cell::spread(&row.pixel_auc, file, &format!("{at}/pixel_auc")),
            better,
            Cell::paper(paper_latent),
            Cell::paper(paper_pixel),
        ]);
    }
    out.table(table);
    out.push('\n');
}

pub(super) fn brain_table(out: &mut Document, summary: &SuiteSummary, paper: &PaperTables) {
    out.push_str(&format!(
        "### Brain, `{}` network: healthy T1 slices for training, tumour slices vs healthy slices for testing (AUC)\n\n{}\n\n",
        summary.preset,
        provenance(summary)
    ));
    let file = summary_file(summary);
    if !summary.brain.is_empty() {
        brain_protocol_tables(out, summary);
        brain_goals(out, summary);
    } else {
        // Summaries from before the protocol: the AUCs alone.
        let mut table = Table::new([
            "seed",
            "ours, latent score",
            "ours, pixel score",
            "validation: synthetic lesions, latent score",
        ]);
        for (i, run) in summary.runs.iter().enumerate() {
            let at = format!("/runs/{i}");
            table.row(vec![
                Cell::text(run.seed.to_string()),
                Cell::ours(run.latent_auc, 3, &file, format!("{at}/latent_auc")),
                Cell::ours(run.pixel_auc, 3, &file, format!("{at}/pixel_auc")),
                run.validation_latent_auc.map_or(Cell::text("—"), |v| {
                    Cell::ours(v, 3, &file, format!("{at}/validation_latent_auc"))
                }),
            ]);
        }
        if let (Some(latent), Some(pixel)) = (summary.mean_latent_auc, summary.mean_pixel_auc) {
            table.row(vec![
                Cell::text("**mean**"),
                Cell::ours(latent, 3, &file, "/mean_latent_auc".into()).bold(),
                Cell::ours(pixel, 3, &file, "/mean_pixel_auc".into()).bold(),
                Cell::text(""),
            ]);
        }
        out.table(table);
    }
    if let Some(value) = paper.lran("brain", "auc") {
        let source = paper
            .label("brain")
            .filter(|l| !l.is_empty())
            .map(|l| format!(", {l}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "\nThe paper reports AUC {value:.3} for LRAN trained on HCP and tested on BraTS 2019 (other data than ours{source}).\n"
        ));
    }
    out.push('\n');
}

/// The brain experiment's goals (issue 15) against the suite's means, each met or missed.
pub(super) fn brain_goals(out: &mut Document, summary: &SuiteSummary) {
    let mean = |name: &str| summary.brain.get(name).map(|s| s.mean);
    let (Some(latent), Some(pixel), Some(matched), Some(baseline)) = (
        mean("latent.auroc"),
        mean("pixel.auroc"),
        mean("latent.height_matched_auroc"),
        mean("best_baseline_auroc"),
    ) else {
        return;
    };
    let pixel_matched = mean("pixel.height_matched_auroc").unwrap_or(f64::NAN);
    let verdict = |met: bool| if met { "met" } else { "**missed**" };
    out.push_str("Goals (means over seeds):\n\n");
    let mut table = Table::new(["goal", "ours", ""]);
    for (goal, ours, met) in [
        (
            "pooled latent AUROC ≥ 0.95".to_string(),
            format!("{latent:.3}"),
            latent >= 0.95,
        ),
        (
            "height-matched latent AUROC ≥ 0.95".to_string(),
            format!("{matched:.3}"),
            matched >= 0.95,
        ),
        (
            "latent score ≥ pixel score (pooled AUROC)".to_string(),
            format!("{latent:.3} vs {pixel:.3}"),
            latent >= pixel,
        ),
        (
            format!("both ≥ 0.1 above the best trivial baseline ({baseline:.3})"),
            format!(
                "latent {:+.3}, pixel {:+.3}",
                latent - baseline,
                pixel - baseline
            ),
            latent >= baseline + 0.1 && pixel >= baseline + 0.1,
        ),
        (
            "height-matched pixel AUROC ≥ 0.95".to_string(),
            format!("{pixel_matched:.3}"),
            pixel_matched >= 0.95,
        ),
    ] {
        // Derived figures (differences, comparisons): the tables above name their sources.
        table.row(vec![
            Cell::text(goal),
            Cell::text(ours),
            Cell::text(verdict(met)),
        ]);
    }
    out.table(table);
    out.push('\n');
}

/// A brain figure of the suite: mean ± std over seeds (`digits` decimals), or a dash.
pub(super) fn figure(summary: &SuiteSummary, name: &str, digits: usize) -> Cell {
    let file = summary_file(summary);
    summary.brain.get(name).map_or(Cell::text("—"), |s| {
        let at = format!("/brain/{}", token(name));
        let mean = Cell::ours(s.mean, digits, &file, format!("{at}/mean"));
        if s.n > 1 {
            let std = Cell::ours(s.std, digits, &file, format!("{at}/std"));
            Cell {
                text: format!("{} ± {}", mean.text, std.text),
                numbers: [mean.numbers, std.numbers].concat(),
                ..mean
            }
        } else {
            mean
        }
    })
}

/// A share among the suite's brain figures, in percent.
pub(super) fn percent(summary: &SuiteSummary, name: &str) -> Cell {
    let file = summary_file(summary);
    summary.brain.get(name).map_or(Cell::text("—"), |s| {
        let mut cell = Cell::scaled(
            s.mean,
            100.0,
            1,
            &file,
            format!("/brain/{}/mean", token(name)),
        );
        cell.text.push_str(" %");
        cell
    })
}

/// The brain protocol: scores against the trivial baselines, the flagged shares, reconstruction
/// quality and budget, and each test case's AUROC.
pub(super) fn brain_protocol_tables(out: &mut Document, summary: &SuiteSummary) {
    let seeds = summary.runs.len();
    let file = summary_file(summary);
    out.push_str(&format!(
        "Slice-wise, mean ± std over {seeds} seed(s). *Pooled*: all test cases' tumour slices against their healthy slices (the paper's protocol). *Case mean*: the mean of the per-case AUROCs. *Height-matched*: tumour slices against the healthy validation subjects' slices at the same relative height (10 bins), which removes the slice-height confound but not the difference of scanner and site; the within-case AUROCs control for the latter. Baselines know nothing of tumours (direction fixed in advance; in brackets, read in their better direction).\n\n"
    ));
    let mut table = Table::new([
        "score",
        "pooled AUROC",
        "pooled AUPRC",
        "case mean AUROC",
        "height-matched AUROC",
    ]);
    for (name, label) in [
        ("latent", "**ours, latent ‖z − ẑ‖²**"),
        ("pixel", "ours, pixel ‖x − x̂‖₁"),
        ("brain-area", "baseline: brain area"),
        ("centrality", "baseline: closeness to the middle slice"),
        ("mean-intensity", "baseline: mean intensity"),
    ] {
        let mut pooled = figure(summary, &format!("{name}.auroc"), 3);
        let either = format!("{name}.either_direction_auroc");
        if let Some(s) = summary.brain.get(&either) {
            let value = Cell::ours(s.mean, 3, &file, format!("/brain/{}/mean", token(&either)));
            pooled.text = format!("{} ({})", pooled.text, value.text);
            pooled.numbers.extend(value.numbers);
        }
        table.row(vec![
            Cell::text(label),
            pooled,
            figure(summary, &format!("{name}.auprc"), 3),
            figure(summary, &format!("{name}.case_mean_auroc"), 3),
            figure(summary, &format!("{name}.height_matched_auroc"), 3),
        ]);
    }
    out.table(table);
    out.push_str(
        "\nAt the stored threshold (the 95th percentile of healthy validation scores), the share of slices flagged:\n\n",
    );
    let mut table = Table::new([
        "score",
        "tumour slices",
        "healthy slices of the tumour cases",
        "healthy validation slices",
    ]);
    for name in ["latent", "pixel"] {
        table.row(vec![
            Cell::text(name),
            percent(summary, &format!("{name}.flagged_tumour")),
            percent(summary, &format!("{name}.flagged_healthy_test")),
            percent(summary, &format!("{name}.flagged_healthy_validation")),
        ]);
    }
    out.table(table);
    let text = |cell: Cell| cell.text;
    if summary.brain.contains_key("synthetic.latent_auroc") {
        out.push_str(&format!(
            "\nThe validation check (SYNTHETIC lesions painted into the held-out healthy slices, against the same slices untouched, so matched in height, subject and scanner; see `lran::data::lesion`): AUROC latent {}, pixel {}; flagged at the stored threshold, lesioned / untouched: latent {} / {}, pixel {} / {}.\n",
            text(figure(summary, "synthetic.latent_auroc", 3)),
            text(figure(summary, "synthetic.pixel_auroc", 3)),
            text(percent(summary, "synthetic.latent_flagged_lesioned")),
            text(percent(summary, "synthetic.latent_flagged_untouched")),
            text(percent(summary, "synthetic.pixel_flagged_lesioned")),
            text(percent(summary, "synthetic.pixel_flagged_untouched")),
        ));
    }
    out.push_str(&format!(
        "\nHealthy validation reconstructions: PSNR inside the brain {} dB. Budget per model: {} optimiser steps (selected at step {}), {} h of training on {}.\n\n",
        text(figure(summary, "validation_psnr_db", 2)),
        text(figure(summary, "steps", 0)),
        text(figure(summary, "selected_step", 0)),
        text(figure(summary, "train_hours", 2)),
        summary.devices.join("; ")
    ));
    out.push_str("Per seed:\n\n");
    let mut table = Table::new([
        "seed",
        "latent AUROC",
        "pixel AUROC",
        "latent height-matched",
        "best baseline",
        "validation: synthetic lesions, latent",
        "PSNR (dB)",
        "steps",
        "hours",
    ]);
    for (i, run) in summary.runs.iter().enumerate() {
        let value = |name: &str, digits: usize| {
            run.brain.get(name).map_or(Cell::text("—"), |&v| {
                Cell::ours(v, digits, &file, format!("/runs/{i}/brain/{}", token(name)))
                    .with_files(vec![run.results_path(&summary.folder())])
            })
        };
        table.row(vec![
            Cell::text(run.seed.to_string()),
            value("latent.auroc", 3),
            value("pixel.auroc", 3),
            value("latent.height_matched_auroc", 3),
            value("best_baseline_auroc", 3),
            value("synthetic.latent_auroc", 3),
            value("validation_psnr_db", 2),
            value("steps", 0),
            value("train_hours", 2),
        ]);
    }
    out.table(table);
    if let Some(chosen) = &summary.chosen {
        out.push_str(&format!(
            "\nChosen to ship as `models/brain-t1`: seed {} (`{}`), by the rule: {} (its value {:.3}).\n",
            chosen.seed, chosen.file, chosen.rule, chosen.validation_latent_auc
        ));
    }
    out.push('\n');
    if !summary.brain_cases.is_empty() {
        out.push_str("Per test case (within-case AUROC, mean over seeds):\n\n");
        let mut table = Table::new([
            "case",
            "tumour / healthy slices",
            "latent",
            "pixel",
            "brain area",
            "centrality",
            "mean intensity",
        ]);
        for (i, case) in summary.brain_cases.iter().enumerate() {
            let cell = |name: &str| {
                case.auroc.get(name).map_or(Cell::text("—"), |s| {
                    Cell::ours(
                        s.mean,
                        3,
                        &file,
                        format!("/brain_cases/{i}/auroc/{}/mean", token(name)),
                    )
                })
            };
            table.row(vec![
                Cell::text(markdown_cell(&case.case)),
                Cell::text(format!("{} / {}", case.tumour, case.healthy)),
                cell("latent"),
                cell("pixel"),
                cell("brain-area"),
                cell("centrality"),
                cell("mean-intensity"),
            ]);
        }
        out.table(table);
        out.push('\n');
    }
}

pub(super) fn tuning_table(out: &mut Document, summary: &SuiteSummary) {
    let options = summary
        .train_options
        .as_deref()
        .map(|o| format!(", all with `{o}`"))
        .unwrap_or_default();
    out.push_str(&format!(
        "### Brain model settings chosen on validation data: {}{options} (AUC)\n\n{}\n\n",
        summary.grid.join(" × "),
        provenance(summary)
    ));
    out.push_str(
        "Each setting is selected by the latent score's AUC on synthetic lesions painted into \
         healthy validation slices (beside the same slices untouched). The tumour-test AUCs are \
         shown for every setting, after the choice; they played no part in it.\n\n",
    );
    let mut table = Table::new([
        "settings",
        "validation (synthetic lesions), latent",
        "test, latent score",
        "test, pixel score",
    ]);
    let file = summary_file(summary);
    let chosen = summary.selection.as_ref().map(|s| s.options.as_str());
    for (i, group) in summary.groups.iter().enumerate() {
        let mark = if Some(group.key.as_str()) == chosen {
            " **(selected)**"
        } else {
            ""
        };
        let files = group_files(summary, &group.key);
        let validation = group.validation_latent_auc.as_ref().map_or_else(
            || Cell::text("—"),
            |v| Cell::spread(v, &file, &format!("/groups/{i}/validation_latent_auc")),
        );
        table.row(vec![
            Cell::text(format!("`{}`{mark}", group.key)),
            validation.with_files(files.clone()),
            Cell::spread(&group.latent_auc, &file, &format!("/groups/{i}/latent_auc"))
                .with_files(files.clone()),
            Cell::spread(&group.pixel_auc, &file, &format!("/groups/{i}/pixel_auc"))
                .with_files(files),
        ]);
    }
    out.table(table);
    out.push('\n');
}

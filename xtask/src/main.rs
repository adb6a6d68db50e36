//! `cargo xtask`: lran's native command line — train, evaluate and export models, and build
//! and serve the browser page.

mod backend;
mod checks;
mod data;
mod experiments;
mod provenance;
mod site;
mod training;

use checks::{bench, gate};
use data::inspect;
use experiments::{report, reproduce};
use site::{samples, serve, web};
use training::{eval, export, score, train};

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Train, evaluate and export lran models; build and serve the page",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How the model's convolutions are computed: burn's ops (native), gathers + matmul (gemm),
    /// or auto (the measured faster per backend; `bench` measures both).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    conv: backend::ConvChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Look at datasets before training: `cargo xtask data inspect <path>`.
    Data {
        #[command(subcommand)]
        command: inspect::DataCommand,
    },
    /// Train a model on normal (healthy) data only.
    Train(train::TrainArgs),
    /// AUCs and ROC curves to a results file: a trained run on its own test split (--run), or an
    /// exported model on labelled data it never saw (--model --dataset …).
    Eval(eval::EvalArgs),
    /// Score your own images, NIfTI volumes or folders of them with an exported model, as the
    /// page does: a table, and every row to --out (JSON or CSV).
    Score(score::ScoreArgs),
    /// Write a run's selected weights and model.json to models/<name>/ for the page.
    Export(export::ExportArgs),
    /// Training and scoring images per second on each backend -> results/bench/<device>.json.
    Bench(bench::BenchArgs),
    /// Correctness gate: training steps on wgpu (as built) against the CPU -> results/gate/<device>.json.
    Gate(gate::GateArgs),
    /// The paper's experiments with our own train and eval -> results/<suite>/.
    Reproduce(reproduce::ReproduceArgs),
    /// The paper's tables from results/ (ours beside the paper's, each labelled).
    Report(report::ReportArgs),
    /// Build the browser package (wasm32 + wasm-bindgen + wasm-opt) into www/pkg.
    Web(web::WebArgs),
    /// Build the page, then serve it on http://127.0.0.1:8080.
    Serve(serve::ServeArgs),
    /// Build the page and write the whole site to dist/ for any static host.
    Dist(web::DistArgs),
    /// Cut the page's gallery of real brain slices from the shared data -> www/samples/brain/.
    Samples(samples::SamplesArgs),
}

/// How `value` is spelled on the command line (clap's name for it, not its `Debug` form).
pub fn cli_value(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .expect("every value of lran's flags has a name")
        .get_name()
        .to_string()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Data { command } => inspect::run(command),
        Command::Train(args) => train::run(args, cli.conv),
        Command::Eval(args) => eval::run(args, cli.conv),
        Command::Score(args) => score::run(args, cli.conv),
        Command::Export(args) => export::run(args),
        Command::Web(args) => web::run(args),
        Command::Bench(args) => bench::run(args, cli.conv),
        Command::Gate(args) => gate::run(args, cli.conv),
        Command::Reproduce(args) => reproduce::run(args, cli.conv),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Dist(args) => web::run_dist(args),
        Command::Samples(args) => samples::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

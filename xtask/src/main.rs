//! `cargo xtask`: lran's native command line — train, evaluate and export models.

mod backend;
mod datasets;
mod eval;
mod export;
mod provenance;
mod run;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Train, evaluate and export lran models", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on the normal class of a one-class split (healthy data only).
    Train(train::TrainArgs),
    /// Score a trained run's test split and write AUCs and ROC curves to a results file.
    Eval(eval::EvalArgs),
    /// Write a run's selected weights and model.json to models/<name>/ for the page.
    Export(export::ExportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(args) => export::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

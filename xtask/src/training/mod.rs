//! Training and evaluating one model: `train` (flags → configuration → the library's fit → a run
//! folder), the run folder itself, `eval` (a run's test split, or an exported model on data it
//! never saw), `export` (a run's selected weights and model card for the page) and `score` (a
//! visitor's view of an exported model, from the shell).

pub mod eval;
pub mod eval_export;
pub mod export;
pub mod run_dir;
pub mod score;
pub mod train;

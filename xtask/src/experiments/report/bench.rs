//! The speed section: lran beside PyTorch on the same machine, from each
//! `results/bench/*-vs-pytorch.json` that `cargo xtask bench --reference pytorch` wrote.

use super::*;
use crate::checks::reference::SideBySide;

/// `results/bench/*-vs-pytorch.json`, by name (the subfolders hold earlier runs kept for
/// before/after comparisons, and are not shown).
pub(super) fn side_by_side_files(results: &Path) -> Result<Vec<(String, SideBySide)>> {
    let folder = results.join("bench");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with("-vs-pytorch.json"))
                })
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        if let Some(file) = read::<SideBySide>(&path)? {
            let name = path
                .strip_prefix(results.parent().unwrap_or(results))
                .unwrap_or(&path);
            files.push((name.display().to_string(), file));
        }
    }
    Ok(files)
}

/// One table per side-by-side file: every figure, lran's rate, PyTorch's and their ratio.
pub(super) fn bench_section(out: &mut String, name: &str, file: &SideBySide) {
    let devices: Vec<&str> = {
        let mut d: Vec<&str> = file.figures.iter().map(|f| f.device.as_str()).collect();
        d.dedup();
        d
    };
    out.push_str(&format!(
        "### Training and scoring speed beside PyTorch: {}\n\n",
        devices.join(", ")
    ));
    out.push_str(&format!(
        "`{}` on one machine, one side right after the other (`{name}`, commit `{}`, burn {}, \
         PyTorch {}, {} CPU threads each, {} timed runs of {} steps per figure after {} warm-up, \
         median): images per second and lran ÷ PyTorch (above 1, lran is the faster).\n\n",
        file.header.command,
        file.header.commit,
        file.lran.burn_version,
        file.torch_version,
        file.cpu_threads,
        file.lran.runs_per_figure,
        file.lran.steps_per_run,
        file.lran.warmup,
    ));
    out.push_str(
        "| network | step | batch | lran (backend, conv) | lran img/s | PyTorch img/s | lran ÷ PyTorch | GFLOP/s lran / PyTorch |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for figure in &file.figures {
        out.push_str(&format!(
            "| {} | {} | {} | {}, {} | {:.1} | {:.1} | **{:.2}** | {} |\n",
            crate::cli_value(figure.shape),
            crate::cli_value(figure.mode),
            figure.batch,
            figure.backend,
            figure.conv.as_deref().unwrap_or("-"),
            figure.lran_images_per_second,
            figure.pytorch_images_per_second,
            figure.ratio,
            figure
                .gigaflops()
                .map_or("-".into(), |(lran, pytorch)| format!(
                    "{lran:.1} / {pytorch:.1}"
                ))
        ));
    }
    out.push_str(
        "GFLOP/s: images per second times the work per image that PyTorch's FLOP counter finds \
         in one step (convolutions and matmuls, forward and backward), the same networks on \
         both sides.\n\n",
    );
}

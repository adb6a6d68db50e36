//! The brain experiment's evaluation protocol: slice-wise detection per case and pooled, the
//! trivial baselines that know nothing of tumours, the height-matched comparison against healthy
//! validation subjects, and the share of slices the stored threshold flags.
//!
//! Why each number is there:
//! - **within-case / pooled AUROC and AUPRC** (the paper's protocol): tumour slices against the
//!   same cases' healthy slices. Source and scanner are shared, but a case's healthy slices sit
//!   at the top and bottom of its brain, so anything that follows slice height scores well here.
//! - **trivial baselines** on the same slices: brain area, closeness to the brain's middle
//!   slice, mean intensity. A model that does not clearly beat them has learned slice height.
//! - **height-matched AUROC**: tumour slices against healthy *validation subjects'* slices at the
//!   same relative height, bin by bin. It removes the height confound but not the difference of
//!   source (scanner, site, resolution): a model can also score well here by telling datasets
//!   apart, which the within-case AUROC controls for. Read the two together.

use serde::{Deserialize, Serialize};

use crate::error::{LranError, Result};
use crate::metrics::{average_precision, roc_auc};

/// Equal-width bins of relative height for the height-matched AUROC: 10 bins of 0.1, narrow
/// enough that area and anatomy barely change within one (about 5 IXI slices, 10 BraTS slices).
pub const HEIGHT_BINS: usize = 10;

/// What the protocol knows of one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceFacts {
    pub case: String,
    /// Axial index in the case's canonical volume.
    pub index: usize,
    pub anomalous: bool,
    /// 0 at the case's lowest kept slice, 1 at its highest.
    pub relative_height: f32,
    /// Brain area as a fraction of the case's largest slice.
    pub brain_fraction: f32,
    /// Mean model input inside the brain.
    pub mean_intensity: f32,
}

impl SliceFacts {
    pub fn of(case: &str, slice: &crate::data::brain::BrainSlice) -> Self {
        Self {
            case: case.to_string(),
            index: slice.index,
            anomalous: slice.label == crate::data::brain::SliceLabel::Tumour,
            relative_height: slice.relative_height,
            brain_fraction: slice.brain_fraction,
            mean_intensity: slice.mean_intensity(),
        }
    }
}

/// A score that knows nothing of tumours, computed from the slice alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// The slice's brain area (fraction of the case's largest): larger = more anomalous.
    BrainArea,
    /// Closeness to the brain's middle slice, −|height − ½|: more central = more anomalous.
    Centrality,
    /// Mean normalised intensity inside the brain: brighter = more anomalous.
    MeanIntensity,
}

impl Baseline {
    pub const ALL: [Baseline; 3] = [
        Baseline::BrainArea,
        Baseline::Centrality,
        Baseline::MeanIntensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::BrainArea => "brain-area",
            Baseline::Centrality => "centrality",
            Baseline::MeanIntensity => "mean-intensity",
        }
    }

    pub fn score(self, slice: &SliceFacts) -> f32 {
        match self {
            Baseline::BrainArea => slice.brain_fraction,
            Baseline::Centrality => -(slice.relative_height - 0.5).abs(),
            Baseline::MeanIntensity => slice.mean_intensity,
        }
    }
}

/// Detection quality of one score on one set of slices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub auroc: f64,
    pub auprc: f64,
    /// The share of anomalies: what a random score's AUPRC comes to.
    pub prevalence: f64,
}

impl Detection {
    pub fn of(scores: &[f32], anomalous: &[bool]) -> Result<Self> {
        Ok(Self {
            auroc: roc_auc(scores, anomalous)?,
            auprc: average_precision(scores, anomalous)?,
            prevalence: anomalous.iter().filter(|&&a| a).count() as f64 / anomalous.len() as f64,
        })
    }

    /// The AUROC read in whichever direction is better: a baseline's direction is fixed in
    /// advance, and this reading gives it the benefit of the doubt.
    pub fn either_direction_auroc(&self) -> f64 {
        self.auroc.max(1.0 - self.auroc)
    }
}

/// Tumour slices against healthy reference slices at the same relative height.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedAuroc {
    /// Σ_b n_b·AUROC_b / Σ_b n_b over the height bins holding both tumour and reference slices,
    /// n_b the tumour slices of bin b.
    pub auroc: f64,
    pub bins_used: usize,
    /// Tumour slices counted; the others fell in bins without reference slices.
    pub anomalous_matched: usize,
    pub anomalous_unmatched: usize,
    pub reference_slices: usize,
}

fn height_bin(height: f32, bins: usize) -> usize {
    ((height.clamp(0.0, 1.0) * bins as f32) as usize).min(bins - 1)
}

/// The height-matched AUROC of `anomalous` (score, relative height) pairs against `reference`
/// pairs, in `bins` equal bins of relative height.
pub fn height_matched_auroc(
    anomalous: &[(f32, f32)],
    reference: &[(f32, f32)],
    bins: usize,
) -> Result<MatchedAuroc> {
    if bins == 0 {
        return Err(LranError::config("height matching needs at least one bin"));
    }
    let (mut weighted, mut matched, mut used) = (0.0, 0usize, 0usize);
    for bin in 0..bins {
        let tumour: Vec<f32> = anomalous
            .iter()
            .filter(|(_, h)| height_bin(*h, bins) == bin)
            .map(|(s, _)| *s)
            .collect();
        let healthy: Vec<f32> = reference
            .iter()
            .filter(|(_, h)| height_bin(*h, bins) == bin)
            .map(|(s, _)| *s)
            .collect();
        if tumour.is_empty() || healthy.is_empty() {
            continue;
        }
        let labels: Vec<bool> = tumour
            .iter()
            .map(|_| true)
            .chain(healthy.iter().map(|_| false))
            .collect();
        let scores: Vec<f32> = tumour.iter().chain(&healthy).copied().collect();
        weighted += tumour.len() as f64 * roc_auc(&scores, &labels)?;
        matched += tumour.len();
        used += 1;
    }
    if matched == 0 {
        return Err(LranError::data(
            "height matching",
            "no height bin holds both tumour and reference slices",
        ));
    }
    Ok(MatchedAuroc {
        auroc: weighted / matched as f64,
        bins_used: used,
        anomalous_matched: matched,
        anomalous_unmatched: anomalous.len() - matched,
        reference_slices: reference.len(),
    })
}

/// One case's detection; `None` where the case lacks tumour or healthy slices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetection {
    pub case: String,
    pub tumour: usize,
    pub healthy: usize,
    pub detection: Option<Detection>,
}

/// The share of slices above a threshold (the page's rule, `metrics::flags`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Flagged {
    pub threshold: f32,
    pub tumour: f64,
    pub healthy_test: f64,
    pub healthy_validation: f64,
}

/// Everything the protocol says about one score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreProtocol {
    /// `latent`, `pixel`, or a baseline's name.
    pub score: String,
    /// The model's score, or a trivial baseline.
    pub baseline: bool,
    /// All test cases' slices together.
    pub pooled: Detection,
    pub per_case: Vec<CaseDetection>,
    /// The mean of the per-case AUROCs (cases with both kinds of slice).
    pub mean_case_auroc: f64,
    pub height_matched: MatchedAuroc,
    /// The model's scores at their stored threshold (none for baselines).
    pub flagged: Option<Flagged>,
}

/// One score of every test slice and every healthy validation slice, in the facts' order.
pub struct ScoredSlices<'a> {
    pub test: &'a [SliceFacts],
    pub test_scores: &'a [f32],
    pub validation: &'a [SliceFacts],
    pub validation_scores: &'a [f32],
}

/// The protocol for one score; `threshold` is its stored calibration threshold, if it has one.
pub fn evaluate_score(
    name: &str,
    baseline: bool,
    slices: &ScoredSlices,
    threshold: Option<f32>,
) -> Result<ScoreProtocol> {
    let ScoredSlices {
        test,
        test_scores,
        validation,
        validation_scores,
    } = *slices;
    if test.len() != test_scores.len() || validation.len() != validation_scores.len() {
        return Err(LranError::data(
            "protocol",
            format!(
                "{} test slices but {} scores, {} validation slices but {} scores",
                test.len(),
                test_scores.len(),
                validation.len(),
                validation_scores.len()
            ),
        ));
    }
    let labels: Vec<bool> = test.iter().map(|s| s.anomalous).collect();
    let pooled = Detection::of(test_scores, &labels)?;
    let mut cases: Vec<&str> = Vec::new();
    for slice in test {
        if !cases.contains(&slice.case.as_str()) {
            cases.push(&slice.case);
        }
    }
    let mut per_case = Vec::new();
    for case in cases {
        let (scores, labels): (Vec<f32>, Vec<bool>) = test
            .iter()
            .zip(test_scores)
            .filter(|(s, _)| s.case == case)
            .map(|(s, score)| (*score, s.anomalous))
            .unzip();
        let tumour = labels.iter().filter(|&&a| a).count();
        let healthy = labels.len() - tumour;
        per_case.push(CaseDetection {
            case: case.to_string(),
            tumour,
            healthy,
            detection: (tumour > 0 && healthy > 0)
                .then(|| Detection::of(&scores, &labels))
                .transpose()?,
        });
    }
    let case_aurocs: Vec<f64> = per_case
        .iter()
        .filter_map(|c| c.detection.map(|d| d.auroc))
        .collect();
    let mean_case_auroc = case_aurocs.iter().sum::<f64>() / case_aurocs.len().max(1) as f64;
    let tumour_pairs: Vec<(f32, f32)> = test
        .iter()
        .zip(test_scores)
        .filter(|(s, _)| s.anomalous)
        .map(|(s, score)| (*score, s.relative_height))
        .collect();
    let reference_pairs: Vec<(f32, f32)> = validation
        .iter()
        .zip(validation_scores)
        .map(|(s, score)| (*score, s.relative_height))
        .collect();
    let height_matched = height_matched_auroc(&tumour_pairs, &reference_pairs, HEIGHT_BINS)?;
    let share = |scores: &mut dyn Iterator<Item = f32>, threshold: f32| -> f64 {
        let (flagged, total) = scores.fold((0usize, 0usize), |(f, t), s| {
            (f + crate::metrics::flags(s, threshold) as usize, t + 1)
        });
        flagged as f64 / total.max(1) as f64
    };
    let flagged = threshold.map(|threshold| Flagged {
        threshold,
        tumour: share(
            &mut test
                .iter()
                .zip(test_scores)
                .filter(|(s, _)| s.anomalous)
                .map(|(_, v)| *v),
            threshold,
        ),
        healthy_test: share(
            &mut test
                .iter()
                .zip(test_scores)
                .filter(|(s, _)| !s.anomalous)
                .map(|(_, v)| *v),
            threshold,
        ),
        healthy_validation: share(&mut validation_scores.iter().copied(), threshold),
    });
    Ok(ScoreProtocol {
        score: name.to_string(),
        baseline,
        pooled,
        per_case,
        mean_case_auroc,
        height_matched,
        flagged,
    })
}

/// The protocol for the model's two scores and the three baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrainProtocol {
    pub note: String,
    pub height_bins: usize,
    pub test_slices: usize,
    pub validation_slices: usize,
    pub scores: Vec<ScoreProtocol>,
}

impl BrainProtocol {
    pub fn score(&self, name: &str) -> Option<&ScoreProtocol> {
        self.scores.iter().find(|s| s.score == name)
    }

    /// The best trivial baseline's pooled AUROC, read in its better direction.
    pub fn best_baseline_auroc(&self) -> f64 {
        self.scores
            .iter()
            .filter(|s| s.baseline)
            .map(|s| s.pooled.either_direction_auroc())
            .fold(0.0, f64::max)
    }
}

/// Model scores of the test and validation slices, with their stored thresholds.
pub struct ModelScores<'a> {
    pub test_latent: &'a [f32],
    pub test_pixel: &'a [f32],
    pub validation_latent: &'a [f32],
    pub validation_pixel: &'a [f32],
    pub latent_threshold: f32,
    pub pixel_threshold: f32,
}

pub fn evaluate_brain(
    test: &[SliceFacts],
    validation: &[SliceFacts],
    model: &ModelScores,
) -> Result<BrainProtocol> {
    let mut scores = vec![
        evaluate_score(
            "latent",
            false,
            &ScoredSlices {
                test,
                test_scores: model.test_latent,
                validation,
                validation_scores: model.validation_latent,
            },
            Some(model.latent_threshold),
        )?,
        evaluate_score(
            "pixel",
            false,
            &ScoredSlices {
                test,
                test_scores: model.test_pixel,
                validation,
                validation_scores: model.validation_pixel,
            },
            Some(model.pixel_threshold),
        )?,
    ];
    for baseline in Baseline::ALL {
        let test_scores: Vec<f32> = test.iter().map(|s| baseline.score(s)).collect();
        let validation_scores: Vec<f32> = validation.iter().map(|s| baseline.score(s)).collect();
        scores.push(evaluate_score(
            baseline.name(),
            true,
            &ScoredSlices {
                test,
                test_scores: &test_scores,
                validation,
                validation_scores: &validation_scores,
            },
            None,
        )?);
    }
    Ok(BrainProtocol {
        note: "slice-wise: tumour = at least tumour_min_voxels segmented voxels, healthy = none, in between excluded. pooled and per-case AUROC/AUPRC compare tumour slices with the same cases' healthy slices (controls for source, not for slice height); height_matched compares tumour slices with the healthy validation subjects' slices in the same relative-height bin (controls for height, not for source). Baselines know nothing of tumours; their direction is fixed in advance (either_direction reads them at their better one).".into(),
        height_bins: HEIGHT_BINS,
        test_slices: test.len(),
        validation_slices: validation.len(),
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(case: &str, index: usize, anomalous: bool, height: f32) -> SliceFacts {
        SliceFacts {
            case: case.into(),
            index,
            anomalous,
            relative_height: height,
            brain_fraction: 1.0 - (height - 0.5).abs(),
            mean_intensity: index as f32,
        }
    }

    /// Two phantom cases whose tumours sit mid-brain and healthy slices at the ends: brain area
    /// and centrality separate them perfectly within the cases, and a score equal to height
    /// closeness is perfect within cases yet at chance against height-matched references.
    #[test]
    fn baselines_and_height_matching_have_the_known_answers() {
        let mut test = Vec::new();
        for case in ["a", "b"] {
            for i in 0..=20 {
                let h = i as f32 / 20.0;
                test.push(slice(case, i, (0.3..=0.7).contains(&h), h));
            }
        }
        let validation: Vec<SliceFacts> = (0..=40)
            .map(|i| slice("healthy", i, false, i as f32 / 40.0))
            .collect();
        let height_score = |s: &SliceFacts| -(s.relative_height - 0.5).abs();
        let test_latent: Vec<f32> = test.iter().map(height_score).collect();
        let validation_latent: Vec<f32> = validation.iter().map(height_score).collect();
        // The pixel score: tumour slices +1 above everything, so perfect in every view.
        let test_pixel: Vec<f32> = test
            .iter()
            .map(|s| if s.anomalous { 2.0 } else { 0.0 })
            .collect();
        let validation_pixel = vec![0.0; validation.len()];
        let scores = ModelScores {
            test_latent: &test_latent,
            test_pixel: &test_pixel,
            validation_latent: &validation_latent,
            validation_pixel: &validation_pixel,
            latent_threshold: -0.12,
            pixel_threshold: 1.0,
        };
        let protocol = evaluate_brain(&test, &validation, &scores).unwrap();
        let latent = protocol.score("latent").unwrap();
        assert_eq!(latent.pooled.auroc, 1.0);
        assert_eq!(latent.mean_case_auroc, 1.0);
        assert_eq!(latent.per_case.len(), 2);
        assert_eq!(latent.per_case[0].tumour, 9);
        assert_eq!(latent.per_case[0].healthy, 12);
        // Within each height bin the score is the same function of height for both groups:
        // near chance (bins are 0.1 wide, so a little height is left inside them).
        assert!(
            (latent.height_matched.auroc - 0.5).abs() < 0.2,
            "{:?}",
            latent.height_matched
        );
        assert_eq!(latent.height_matched.anomalous_matched, 18);
        assert_eq!(latent.height_matched.anomalous_unmatched, 0);
        let pixel = protocol.score("pixel").unwrap();
        assert_eq!(pixel.pooled.auroc, 1.0);
        assert_eq!(pixel.height_matched.auroc, 1.0);
        let flagged = pixel.flagged.unwrap();
        assert_eq!(
            (
                flagged.tumour,
                flagged.healthy_test,
                flagged.healthy_validation
            ),
            (1.0, 0.0, 0.0)
        );
        // Latent threshold −0.12: |h − ½| ≤ 0.12 flags heights 0.4–0.6 (5 of 9 tumour slices per
        // case), no healthy test slice, and 9 of the 41 validation slices.
        let flagged = latent.flagged.unwrap();
        assert!((flagged.tumour - 5.0 / 9.0).abs() < 1e-9, "{flagged:?}");
        assert_eq!(flagged.healthy_test, 0.0);
        assert!(
            (flagged.healthy_validation - 9.0 / 41.0).abs() < 1e-9,
            "{flagged:?}"
        );
        // A slice scoring exactly the threshold is not flagged: the page's rule (at or below the
        // threshold is within the healthy range), one rule for the page and the protocol.
        let at_threshold = vec![-0.12f32; validation.len()];
        let tied = ModelScores {
            validation_latent: &at_threshold,
            ..scores
        };
        let tied = evaluate_brain(&test, &validation, &tied).unwrap();
        let tied = tied.score("latent").unwrap().flagged.unwrap();
        assert_eq!(tied.healthy_validation, 0.0, "{tied:?}");
        // The trivial baselines find these phantom "tumours" as the height score does.
        let area = protocol.score("brain-area").unwrap();
        assert_eq!(area.pooled.auroc, 1.0);
        assert!(area.flagged.is_none() && area.baseline);
        assert_eq!(protocol.score("centrality").unwrap().pooled.auroc, 1.0);
        // Intensity = axial index: tumour indices 6–14 sit between healthy 0–5 and 15–20.
        let intensity = protocol.score("mean-intensity").unwrap();
        assert!(
            (intensity.pooled.auroc - 0.5).abs() < 0.01,
            "{:?}",
            intensity.pooled
        );
        assert_eq!(protocol.best_baseline_auroc(), 1.0);
    }

    #[test]
    fn matched_auroc_weights_bins_by_their_tumour_slices() {
        // Bin 0 (height 0.05): tumour above reference (AUROC 1), 3 tumour slices; bin 9
        // (height 0.95): tumour below reference (AUROC 0), 1 tumour slice; bin 5: no reference.
        let tumour = [
            (1.0, 0.05),
            (1.0, 0.05),
            (1.0, 0.05),
            (0.0, 0.95),
            (5.0, 0.55),
        ];
        let reference = [(0.5, 0.01), (0.5, 0.99)];
        let matched = height_matched_auroc(&tumour, &reference, 10).unwrap();
        assert!((matched.auroc - 0.75).abs() < 1e-12, "{matched:?}");
        assert_eq!(
            (
                matched.bins_used,
                matched.anomalous_matched,
                matched.anomalous_unmatched
            ),
            (2, 4, 1)
        );
        assert!(height_matched_auroc(&[(1.0, 0.5)], &[(0.0, 0.05)], 10).is_err());
        assert!(height_matched_auroc(&tumour, &reference, 0).is_err());
    }
}

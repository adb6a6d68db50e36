//! ROC analysis and score calibration, on the host, with no dependencies: small enough to
//! check by hand, and shared by the trainer, the reports and the browser.

use serde::{Deserialize, Serialize};

use crate::error::{LranError, Result};

/// Area under the ROC curve for `scores` where `anomalous[i]` says whether sample i is an
/// anomaly (higher score = more anomalous). Equals the probability that a random anomaly
/// outscores a random normal sample, ties counting one half (Mann–Whitney U with mid-ranks).
///
/// Errors when either class is empty or a score is NaN: an AUC is then undefined.
pub fn roc_auc(scores: &[f32], anomalous: &[bool]) -> Result<f64> {
    check_inputs(scores, anomalous)?;
    let order = sorted_order(scores);
    // Mid-ranks (1-based) of tied groups.
    let mut rank_sum_anomalous = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        for &index in &order[i..=j] {
            if anomalous[index] {
                rank_sum_anomalous += mid_rank;
            }
        }
        i = j + 1;
    }
    let positives = anomalous.iter().filter(|&&a| a).count() as f64;
    let negatives = anomalous.len() as f64 - positives;
    Ok((rank_sum_anomalous - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Area under the precision–recall curve as average precision: Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the
/// distinct score thresholds from the highest down, tied scores entering together (scikit-learn's
/// `average_precision_score`). Unlike the AUROC it depends on the share of anomalies: a random
/// score reaches that share, not ½.
pub fn average_precision(scores: &[f32], anomalous: &[bool]) -> Result<f64> {
    let points = roc_curve(scores, anomalous)?;
    let positives = anomalous.iter().filter(|&&a| a).count() as f64;
    let negatives = anomalous.len() as f64 - positives;
    let mut area = 0.0;
    for pair in points.windows(2) {
        let (before, at) = (pair[0], pair[1]);
        let recall_step = at.true_positive_rate - before.true_positive_rate;
        if recall_step > 0.0 {
            let tp = at.true_positive_rate * positives;
            let fp = at.false_positive_rate * negatives;
            area += recall_step * tp / (tp + fp);
        }
    }
    Ok(area)
}

/// Peak signal-to-noise ratio of `reconstruction` against `input` over the pixels where `mask`
/// holds, in dB, for images in the model's [−1, 1] range (peak-to-peak 2). `None` when the mask
/// is empty; infinite when the two agree exactly.
pub fn psnr_inside(input: &[f32], reconstruction: &[f32], mask: &[bool]) -> Option<f64> {
    let (sum, count) = input
        .iter()
        .zip(reconstruction)
        .zip(mask)
        .filter(|(_, m)| **m)
        .fold((0.0f64, 0usize), |(s, c), ((a, b), _)| {
            let d = (*a - *b) as f64;
            (s + d * d, c + 1)
        });
    (count > 0).then(|| 10.0 * (4.0 / (sum / count as f64)).log10())
}

/// One point of a ROC curve at a score threshold (anomalous when score ≥ threshold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub threshold: f32,
    pub false_positive_rate: f64,
    pub true_positive_rate: f64,
}

/// The ROC curve: one point per distinct score, from (0, 0) to (1, 1). Ties move both rates
/// at once, so the trapezoid area under these points equals [`roc_auc`].
pub fn roc_curve(scores: &[f32], anomalous: &[bool]) -> Result<Vec<RocPoint>> {
    check_inputs(scores, anomalous)?;
    let mut order = sorted_order(scores);
    order.reverse();
    let positives = anomalous.iter().filter(|&&a| a).count() as f64;
    let negatives = anomalous.len() as f64 - positives;
    // The start point flags nothing; f32::MAX rather than infinity so it survives JSON.
    let mut points = vec![RocPoint {
        threshold: f32::MAX,
        false_positive_rate: 0.0,
        true_positive_rate: 0.0,
    }];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            if anomalous[order[i]] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        points.push(RocPoint {
            threshold,
            false_positive_rate: fp / negatives,
            true_positive_rate: tp / positives,
        });
    }
    Ok(points)
}

/// Thins a ROC curve to at most `max_points` (keeping both ends), for results files and plots.
pub fn thin_curve(points: &[RocPoint], max_points: usize) -> Vec<RocPoint> {
    if points.len() <= max_points || max_points < 2 {
        return points.to_vec();
    }
    let step = (points.len() - 1) as f64 / (max_points - 1) as f64;
    (0..max_points)
        .map(|k| points[((k as f64 * step).round() as usize).min(points.len() - 1)])
        .collect()
}

fn check_inputs(scores: &[f32], anomalous: &[bool]) -> Result<()> {
    if scores.len() != anomalous.len() {
        return Err(LranError::data(
            "ROC",
            format!("{} scores but {} labels", scores.len(), anomalous.len()),
        ));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(LranError::data("ROC", format!("score {i} is NaN")));
    }
    let positives = anomalous.iter().filter(|&&a| a).count();
    if positives == 0 || positives == anomalous.len() {
        return Err(LranError::data(
            "ROC",
            "an AUC needs both normal and anomalous samples".to_string(),
        ));
    }
    Ok(())
}

fn sorted_order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order
}

/// The `q`-th percentile (0–100) with linear interpolation between order statistics
/// (NumPy's default), of finite values.
pub fn percentile(sorted: &[f32], q: f64) -> f32 {
    assert!(!sorted.is_empty(), "percentile of nothing");
    let position = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = (position - lower as f64) as f32;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// How a score is read against healthy data: statistics of the scores of healthy validation
/// images (never test images), stored with the model so a score means the same thing on any
/// input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub count: usize,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    pub std: f32,
    /// (percentile, value) pairs: 1, 5, 25, 50, 75, 90, 95, 99.
    pub percentiles: Vec<(f64, f32)>,
    /// Scores above this are called anomalous.
    pub threshold: f32,
    /// The percentile of healthy validation scores the threshold was set at.
    pub threshold_percentile: f64,
    /// A sorted sample of at most 512 healthy validation scores, for percentile ranks.
    pub reference: Vec<f32>,
}

const REPORTED_PERCENTILES: [f64; 8] = [1.0, 5.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0];
const REFERENCE_SIZE: usize = 512;

impl Calibration {
    pub fn from_healthy(scores: &[f32], threshold_percentile: f64) -> Result<Self> {
        if scores.is_empty() {
            return Err(LranError::data(
                "calibration",
                "no healthy validation scores",
            ));
        }
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(LranError::data(
                "calibration",
                "a healthy validation score is not finite",
            ));
        }
        if !(0.0..=100.0).contains(&threshold_percentile) {
            return Err(LranError::config(format!(
                "threshold percentile {threshold_percentile} is outside 0–100"
            )));
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f32::total_cmp);
        let n = sorted.len() as f64;
        let mean = sorted.iter().map(|&s| s as f64).sum::<f64>() / n;
        let var = sorted
            .iter()
            .map(|&s| (s as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let reference = if sorted.len() <= REFERENCE_SIZE {
            sorted.clone()
        } else {
            (0..REFERENCE_SIZE)
                .map(|k| percentile(&sorted, 100.0 * k as f64 / (REFERENCE_SIZE - 1) as f64))
                .collect()
        };
        Ok(Self {
            count: sorted.len(),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            mean: mean as f32,
            std: var.sqrt() as f32,
            percentiles: REPORTED_PERCENTILES
                .iter()
                .map(|&q| (q, percentile(&sorted, q)))
                .collect(),
            threshold: percentile(&sorted, threshold_percentile),
            threshold_percentile,
            reference,
        })
    }

    /// Min–max normalised score: 0 at the healthiest validation image, 1 at the least healthy
    /// (values outside [0, 1] are outside the healthy range).
    pub fn normalise(&self, score: f32) -> f32 {
        let span = self.max - self.min;
        if span > 0.0 {
            (score - self.min) / span
        } else {
            score - self.min
        }
    }

    /// Percent of healthy validation images scoring below `score`.
    pub fn percentile_rank(&self, score: f32) -> f64 {
        let below = self.reference.partition_point(|&s| s < score);
        100.0 * below as f64 / self.reference.len() as f64
    }

    pub fn is_anomalous(&self, score: f32) -> bool {
        flags(score, self.threshold)
    }
}

/// The decision rule, the one place it is written: a score strictly above the threshold is
/// anomalous (the page says "at or below the threshold" is within the healthy range).
pub fn flags(score: f32, threshold: f32) -> bool {
    score > threshold
}

/// Calibrations of both scores from healthy validation scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreCalibration {
    pub latent: Calibration,
    pub pixel: Calibration,
}

impl ScoreCalibration {
    pub fn from_healthy(scores: &crate::score::Scores, threshold_percentile: f64) -> Result<Self> {
        Ok(Self {
            latent: Calibration::from_healthy(&scores.latent, threshold_percentile)?,
            pixel: Calibration::from_healthy(&scores.pixel, threshold_percentile)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_matches_hand_computed_values() {
        // Ranked: a(0.9) n(0.8) a(0.7) n(0.6): precision 1 at recall ½, ⅔ at recall 1.
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]).unwrap();
        assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12, "{ap}");
        // Perfect ranking: 1; all anomalies last among 2 normals: ½·⅓ + ½·½.
        assert_eq!(
            average_precision(&[2.0, 1.0, 0.0], &[true, false, false]).unwrap(),
            1.0
        );
        let worst = average_precision(&[0.0, 1.0, 2.0, 3.0], &[true, true, false, false]).unwrap();
        assert!((worst - (0.5 / 3.0 + 0.5 * 0.5)).abs() < 1e-12, "{worst}");
        // All tied: precision is the anomaly share.
        let tied = average_precision(&[1.0; 4], &[true, false, false, false]).unwrap();
        assert!((tied - 0.25).abs() < 1e-12, "{tied}");
        assert!(average_precision(&[1.0, f32::NAN], &[true, false]).is_err());
    }

    #[test]
    fn psnr_counts_only_the_masked_pixels() {
        let input = [0.0, 0.0, 1.0, -1.0];
        let reconstruction = [0.2, 0.0, 1.0, 1.0];
        // Inside the mask one pixel is off by 0.2 of two: MSE 0.02, PSNR 10·log10(4/0.02).
        let psnr = psnr_inside(&input, &reconstruction, &[true, true, false, false]).unwrap();
        assert!((psnr - 10.0 * 200f64.log10()).abs() < 1e-4, "{psnr}");
        assert_eq!(psnr_inside(&input, &reconstruction, &[false; 4]), None);
    }

    #[test]
    fn auc_of_perfect_inverted_and_random_orders() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels).unwrap(), 0.0);
        // Pairs (anomaly, normal): (0.3 vs 0.1 ✓, 0.3 vs 0.4 ✗, 0.2 vs 0.1 ✓, 0.2 vs 0.4 ✗) = 2/4.
        assert_eq!(roc_auc(&[0.1, 0.4, 0.3, 0.2], &labels).unwrap(), 0.5);
    }

    #[test]
    fn ties_count_one_half() {
        // All tied: every pair is a tie, AUC 0.5.
        assert_eq!(
            roc_auc(&[1.0; 5], &[false, true, false, true, true]).unwrap(),
            0.5
        );
        // Normal {0.2, 0.5}, anomalous {0.5, 0.9}: pairs 0.5>0.2 ✓, 0.5=0.5 ½, 0.9 ✓ ✓ → 3.5/4.
        assert_eq!(
            roc_auc(&[0.2, 0.5, 0.5, 0.9], &[false, false, true, true]).unwrap(),
            0.875
        );
    }

    #[test]
    fn auc_equals_trapezoid_area_under_the_curve() {
        let scores = [0.3, 0.1, 0.7, 0.7, 0.2, 0.9, 0.4, 0.4, 0.8];
        let labels = [false, false, true, false, false, true, true, false, true];
        let curve = roc_curve(&scores, &labels).unwrap();
        let area: f64 = curve
            .windows(2)
            .map(|w| {
                (w[1].false_positive_rate - w[0].false_positive_rate)
                    * (w[1].true_positive_rate + w[0].true_positive_rate)
                    / 2.0
            })
            .sum();
        assert!((area - roc_auc(&scores, &labels).unwrap()).abs() < 1e-12);
        let last = curve.last().unwrap();
        assert_eq!(
            (last.false_positive_rate, last.true_positive_rate),
            (1.0, 1.0)
        );
    }

    #[test]
    fn undefined_aucs_are_errors() {
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_err());
        assert!(roc_auc(&[0.1, f32::NAN], &[true, false]).is_err());
        assert!(roc_auc(&[0.1], &[true, false]).is_err());
    }

    #[test]
    fn calibration_percentiles_and_threshold() {
        let scores: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        let calibration = Calibration::from_healthy(&scores, 95.0).unwrap();
        assert_eq!(calibration.threshold, 95.0);
        assert_eq!(calibration.min, 0.0);
        assert_eq!(calibration.max, 100.0);
        assert!((calibration.mean - 50.0).abs() < 1e-6);
        assert_eq!(calibration.normalise(50.0), 0.5);
        assert!(calibration.is_anomalous(96.0) && !calibration.is_anomalous(95.0));
        assert!((calibration.percentile_rank(50.0) - 100.0 * 50.0 / 101.0).abs() < 1e-9);
        assert_eq!(percentile(&[1.0, 2.0], 50.0), 1.5);
        assert!(Calibration::from_healthy(&[], 95.0).is_err());
        assert!(Calibration::from_healthy(&[1.0, f32::NAN], 95.0).is_err());
    }
}

//! The command line of `ferrosea-evaluate`: `predict` and `metrics`, each turned into its
//! options and run by [`Command::run`] (the binary parses, sets up the process and calls it).

use std::path::PathBuf;

use clap::Subcommand;
use ferrosea_runtime::DeviceSpec;

use crate::{EvaluateError, MetricsOptions, PredictOptions};

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Predict every row of a dataset file: writes pred float32 [N, T] probabilities, with
    /// the dataset's labels, targets and coordinates (docs/FORMAT.md).
    Predict {
        /// Checkpoint JSON (best.json, latest.json) or a ferrosea-train output directory.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Dataset file (HDF5 from ferrosea-prep).
        #[arg(long)]
        data: PathBuf,
        /// Prediction file to write.
        #[arg(short, long)]
        out: PathBuf,
        /// Average each sample's prediction with its reverse complement's (as DeepSEA and
        /// DanQ did on their test sets).
        #[arg(long)]
        rc_average: bool,
        /// Samples per forward pass.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Device: cpu or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
        /// Deflate level of the predictions, 0 (none) to 9.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=9))]
        compression_level: u32,
    },
    /// Score a prediction file per target: per_target.tsv, summary.tsv, metrics.json and
    /// plots/ in the output directory.
    Metrics {
        /// Prediction file (from `ferrosea-evaluate predict`).
        #[arg(long)]
        predictions: PathBuf,
        /// Take the labels from this dataset file instead of the prediction file (same rows;
        /// targets are matched by name).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Report directory.
        #[arg(short, long)]
        out: PathBuf,
        /// Targets with fewer positive rows get NA (and are left out of the summaries).
        #[arg(long, default_value_t = 1)]
        min_positives: u64,
        /// Published per-target AUCs to compare with (TSV; see docs/EVALUATION.md).
        #[arg(long, value_name = "TSV")]
        reference: Option<PathBuf>,
        /// Targets whose ROC and PR curves to draw (default: the best, median and worst 3).
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        plot_targets: Option<Vec<String>>,
        /// Draw no plots.
        #[arg(long)]
        no_plots: bool,
        /// Also report each target's accuracy, calling probabilities of at least P positive
        /// (0/1 labels; class labels always get accuracy).
        #[arg(long, value_name = "P")]
        threshold: Option<f64>,
    },
}

impl Command {
    /// Runs the subcommand, logging what it wrote; `command_line` is recorded in the outputs,
    /// `progress` draws progress bars.
    pub fn run(self, command_line: String, progress: bool) -> Result<(), EvaluateError> {
        match self {
            Command::Predict {
                checkpoint,
                data,
                out,
                rc_average,
                batch_size,
                device,
                compression_level,
            } => {
                let r = crate::predict(&PredictOptions {
                    checkpoint,
                    data,
                    out: out.clone(),
                    rc_average,
                    batch_size,
                    device,
                    compression_level,
                    command_line,
                    progress,
                })?;
                tracing::info!(
                    "{}: {} samples x {} targets from {} in {:.1} s ({:.1} samples/s)",
                    out.display(),
                    r.rows,
                    r.targets,
                    r.checkpoint.display(),
                    r.seconds,
                    r.samples_per_s()
                );
            }
            Command::Metrics {
                predictions,
                labels,
                out,
                min_positives,
                reference,
                plot_targets,
                no_plots,
                threshold,
            } => {
                let r = crate::metrics(&MetricsOptions {
                    predictions,
                    labels,
                    out: out.clone(),
                    min_positives,
                    reference,
                    plot_targets,
                    no_plots,
                    threshold,
                })?;
                for n in &r.notes {
                    tracing::warn!("{n}");
                }
                for s in &r.summary {
                    let f = |v: Option<f64>| v.map_or_else(|| "NA".into(), |x| format!("{x:.4}"));
                    if s.mean_pearson.is_some() || s.mean_mse.is_some() {
                        tracing::info!(
                            "{:<10} {:>5} targets  Pearson mean {}  Spearman mean {}  MSE mean {}",
                            s.category,
                            s.targets,
                            f(s.mean_pearson),
                            f(s.mean_spearman),
                            f(s.mean_mse)
                        );
                        continue;
                    }
                    let accuracy = s
                        .accuracy
                        .map_or_else(String::new, |a| format!("  accuracy {a:.4}"));
                    tracing::info!(
                    "{:<10} {:>5} targets  ROC AUC mean {} median {}  PR AUC mean {} median {}{accuracy}",
                    s.category,
                    s.targets,
                    f(s.mean_roc_auc),
                    f(s.median_roc_auc),
                    f(s.mean_pr_auc),
                    f(s.median_pr_auc)
                );
                }
                tracing::info!(
                    "{}: {} targets over {} samples scored in {:.2} s",
                    out.display(),
                    r.targets.len(),
                    r.rows,
                    r.scoring_seconds
                );
            }
        }
        Ok(())
    }
}

//! A trained network ready for inference: the checkpoint, its device, and batched forward
//! passes over one-hot windows (`[n, 4, L]` float32, channel-major).

use std::path::{Path, PathBuf};

use candle_core::Device;
use ferrosea_runtime::checkpoint::{self, ModelCheckpoint};
use ferrosea_runtime::{DeviceSpec, RuntimeError};

use crate::AnalyzeError;

/// The flags every subcommand runs its network with.
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Checkpoint JSON or a ferrosea-train run directory (its best checkpoint).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Windows per forward pass (rounded up to a multiple of 64, at least 128).
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Device: cpu or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Recorded in the outputs' provenance or summary.
    #[arg(skip)]
    pub command_line: String,
    /// Show a progress bar on stderr.
    #[arg(skip)]
    pub progress: bool,
}

impl RunArgs {
    /// These flags for `checkpoint`, with the defaults of the command line.
    pub fn new(checkpoint: impl Into<PathBuf>) -> RunArgs {
        RunArgs {
            checkpoint: checkpoint.into(),
            batch_size: 128,
            device: DeviceSpec::Cpu,
            command_line: String::new(),
            progress: false,
        }
    }

    /// Loads the checkpoint.
    pub fn load(&self) -> Result<Model, AnalyzeError> {
        Model::load(&self.checkpoint, &self.device, self.batch_size)
    }
}

/// A loaded checkpoint.
pub struct Model {
    net: ferrosea_models::Network,
    device: Device,
    /// The checkpoint JSON (resolved from a run directory).
    pub json: PathBuf,
    /// Its description (model, window, targets, step).
    pub meta: ModelCheckpoint,
    /// Windows per forward pass.
    pub batch: usize,
    sha256: std::sync::OnceLock<String>,
}

impl Model {
    /// Loads the checkpoint at `path` (a checkpoint JSON or a ferrosea-train run directory,
    /// whose best checkpoint is taken) onto `device`.
    pub fn load(path: &Path, device: &DeviceSpec, batch: usize) -> Result<Model, AnalyzeError> {
        if batch == 0 {
            return Err(AnalyzeError::Usage(
                "--batch-size must be at least 1".into(),
            ));
        }
        let json = checkpoint::resolve(path).map_err(RuntimeError::from)?;
        let device = device.open()?;
        let (net, meta) = checkpoint::load_network(&json, &device)?;
        if !meta.alphabet.is_dna() {
            return Err(AnalyzeError::Usage(format!(
                "{}: the model reads sequences over {}; analyze reads genomes, VCFs and FASTA, \
                 and needs a model trained on one-hot A, C, G, T",
                json.display(),
                meta.alphabet
            )));
        }
        if meta.loss == ferrosea_runtime::loss::Loss::Mse {
            return Err(AnalyzeError::Usage(format!(
                "{}: the model was trained with \"loss\": \"mse\", so its outputs are values, not probabilities; analyze's scores (probability differences, log-odds, e-values) need a model trained with \"bce\" or \"softmax\"",
                json.display()
            )));
        }
        Ok(Model {
            net,
            device,
            json,
            meta,
            batch,
            sha256: std::sync::OnceLock::new(),
        })
    }

    /// The checkpoint's weight file.
    pub fn weights_path(&self) -> PathBuf {
        self.json
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.meta.weights_file)
    }

    /// The hex SHA-256 of the weight file (what result files record and backgrounds are
    /// checked by), computed once.
    pub fn weights_sha256(&self) -> Result<&str, AnalyzeError> {
        if let Some(s) = self.sha256.get() {
            return Ok(s);
        }
        let s = crate::sha256_file(&self.weights_path())?;
        Ok(self.sha256.get_or_init(|| s))
    }

    /// The window length the network takes.
    pub fn window(&self) -> usize {
        self.meta.window
    }

    /// The target names, in output order.
    pub fn targets(&self) -> &[String] {
        &self.meta.targets
    }

    /// The indices of `names` among the targets (all of them when `None`); an unknown name
    /// is an error that lists a few of the known ones.
    pub fn target_indices(&self, names: Option<&[String]>) -> Result<Vec<usize>, AnalyzeError> {
        let Some(names) = names else {
            return Ok((0..self.targets().len()).collect());
        };
        names
            .iter()
            .map(|n| {
                self.targets().iter().position(|t| t == n).ok_or_else(|| {
                    let known: Vec<&str> =
                        self.targets().iter().take(5).map(String::as_str).collect();
                    AnalyzeError::Mismatch(format!(
                        "--targets: '{n}' is not a target of {} ({} targets: {}{})",
                        self.json.display(),
                        self.targets().len(),
                        known.join(", "),
                        if self.targets().len() > 5 {
                            ", ..."
                        } else {
                            ""
                        }
                    ))
                })
            })
            .collect()
    }

    /// Windows per forward pass: [`batch`](Self::batch) rounded up to the passes
    /// `eval_logits` runs (a multiple of 64, at least 128), so that no pass is padded more
    /// than it must be.
    pub fn pass_rows(&self) -> usize {
        ferrosea_runtime::pass_rows(self.batch)
    }

    /// Logits `[n, T]` of `n` windows, in passes of [`pass_rows`](Self::pass_rows) windows.
    /// The same window gives the same bits whatever its neighbours and the batch size.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>, AnalyzeError> {
        let per = 4 * self.window();
        let pass = self.pass_rows();
        let mut out = Vec::with_capacity(x.len() / per * self.targets().len());
        for chunk in x.chunks(pass * per) {
            let logits = ferrosea_runtime::eval_logits(
                &self.net,
                &self.device,
                chunk.to_vec(),
                self.window(),
                pass,
            )?;
            out.extend(logits.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Probabilities `[n, T]` of `n` windows (the outputs' sigmoid, or their softmax for a
    /// model trained with `"loss": "softmax"`); with `rc_average`, the mean of each
    /// window's and its reverse complement's probabilities (as `ferrosea-evaluate predict
    /// --rc-average`).
    pub fn probabilities(&self, x: &[f32], rc_average: bool) -> Result<Vec<f32>, AnalyzeError> {
        let p = self.outputs(x)?;
        if !rc_average {
            return Ok(p);
        }
        let rc = ferrosea_genome::onehot::reverse_complements(x, self.window());
        let q = self.outputs(&rc)?;
        Ok(p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect())
    }

    fn outputs(&self, x: &[f32]) -> Result<Vec<f32>, AnalyzeError> {
        let logits = self.logits(x)?;
        let t = self.targets().len().max(1);
        let rows = logits.len() / t;
        let logits = candle_core::Tensor::from_vec(logits, (rows, t), &Device::Cpu)?;
        Ok(self
            .meta
            .loss
            .outputs(&logits)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }
}

//! Training recipes: the model, the optimizer and the data settings, as JSON.
//!
//! Built-in presets live in `crates/train/presets/` and are compiled in; `--config FILE`
//! reads a file of the same schema. Unknown keys are errors, so a misspelt setting never
//! silently falls back to a default.

use std::path::Path;

use ferrosea_models::ModelConfig;
use ferrosea_runtime::loss::Loss;
use serde::{Deserialize, Serialize};

use crate::optim::OptimizerConfig;
use crate::schedule::ScheduleConfig;

/// The presets, by name.
pub const PRESETS: &[(&str, &str)] = &[
    ("deepsea", include_str!("../presets/deepsea.json")),
    ("deepsea-tiny", include_str!("../presets/deepsea-tiny.json")),
    ("danq", include_str!("../presets/danq.json")),
    ("danq-tiny", include_str!("../presets/danq-tiny.json")),
    ("danq-jaspar", include_str!("../presets/danq-jaspar.json")),
    (
        "danq-jaspar-tiny",
        include_str!("../presets/danq-jaspar-tiny.json"),
    ),
    ("danq-maxtime", include_str!("../presets/danq-maxtime.json")),
    (
        "danq-maxtime-tiny",
        include_str!("../presets/danq-maxtime-tiny.json"),
    ),
    ("deepbind", include_str!("../presets/deepbind.json")),
    (
        "deepbind-tiny",
        include_str!("../presets/deepbind-tiny.json"),
    ),
    ("basset", include_str!("../presets/basset.json")),
    ("basset-tiny", include_str!("../presets/basset-tiny.json")),
    ("resnet", include_str!("../presets/resnet.json")),
    ("resnet-tiny", include_str!("../presets/resnet-tiny.json")),
];

/// A training recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// What the recipe is (free text).
    #[serde(default, rename = "_about", skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The network.
    pub model: ModelConfig,
    /// What the outputs are trained against: `bce` (independent 0/1 targets, the default),
    /// `softmax` (one class per row) or `mse` (squared error).
    #[serde(default, skip_serializing_if = "is_bce")]
    pub loss: Loss,
    /// The update rule.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule, applied per epoch.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Samples per optimizer step (the global batch, split across replicas).
    pub batch_size: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a lower validation loss.
    #[serde(default)]
    pub patience: Option<usize>,
    /// L1 penalty on the last hidden layer's output: `l1_hidden * sum |h|` over the batch
    /// (DeepSEA: 1e-8).
    #[serde(default)]
    pub l1_hidden: f64,
    /// After each step, rescale any weight row (one output unit's incoming weights) whose
    /// L2 norm exceeds this (DeepSEA: 0.9).
    #[serde(default)]
    pub max_norm: Option<f64>,
    /// Reverse-complement each training sample with probability one half.
    #[serde(default)]
    pub reverse_complement: bool,
    /// Rows in the shuffle buffer (memory: about `rows * (4 * window + targets)` bytes).
    #[serde(default = "default_buffer")]
    pub shuffle_buffer: usize,
}

fn is_bce(l: &Loss) -> bool {
    *l == Loss::Bce
}

fn default_buffer() -> usize {
    32_768
}

/// Errors reading a recipe.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No such preset.
    #[error("unknown preset '{0}'; the presets are: {list}", list = preset_names().join(", "))]
    UnknownPreset(String),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a valid recipe.
    #[error("{origin}: {message}")]
    Invalid {
        /// The preset or file.
        origin: String,
        /// What is wrong (serde names the key and the line).
        message: String,
    },
}

/// The names of the presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// Settings given on the command line that replace a recipe's (`None`: keep the recipe's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Epochs (at least 1).
    pub epochs: Option<usize>,
    /// The global batch size.
    pub batch_size: Option<usize>,
    /// The learning rate.
    pub lr: Option<f64>,
    /// Early-stopping patience (0: none).
    pub patience: Option<usize>,
    /// The shuffle buffer's rows.
    pub shuffle_buffer: Option<usize>,
    /// Reverse-complement training samples with probability 1/2 (added to the recipe's).
    pub reverse_complement: bool,
}

impl TrainConfig {
    /// A recipe of `model` trained by `optimizer` on batches of `batch_size` for `epochs`,
    /// with every other setting at its default (binary cross-entropy, a constant learning
    /// rate, no early stopping, no penalties, no augmentation), as a recipe file that leaves
    /// them out reads.
    ///
    /// ```
    /// use ferrosea_train::config::TrainConfig;
    /// use ferrosea_train::optim::OptimizerConfig;
    /// let preset = TrainConfig::preset("deepbind-tiny").unwrap();
    /// let cfg = TrainConfig::new(preset.model.clone(), OptimizerConfig::adam(0.003), 32, 4);
    /// let text = serde_json::to_string(&cfg).unwrap();
    /// assert_eq!(serde_json::from_str::<TrainConfig>(&text).unwrap(), cfg);
    /// ```
    pub fn new(
        model: ModelConfig,
        optimizer: OptimizerConfig,
        batch_size: usize,
        epochs: usize,
    ) -> TrainConfig {
        TrainConfig {
            about: None,
            model,
            loss: Loss::default(),
            optimizer,
            schedule: ScheduleConfig::default(),
            batch_size,
            epochs,
            patience: None,
            l1_hidden: 0.0,
            max_norm: None,
            reverse_complement: false,
            shuffle_buffer: default_buffer(),
        }
    }

    /// The recipe with `o`'s settings in place of its own, checked.
    ///
    /// ```
    /// use ferrosea_train::config::{Overrides, TrainConfig};
    /// let mut cfg = TrainConfig::preset("danq-tiny").unwrap();
    /// cfg.apply(&Overrides { epochs: Some(3), patience: Some(0), ..Overrides::default() }).unwrap();
    /// assert_eq!((cfg.epochs, cfg.patience), (3, None));
    /// ```
    pub fn apply(&mut self, o: &Overrides) -> Result<(), String> {
        if let Some(e) = o.epochs {
            if e == 0 {
                return Err("--epochs must be at least 1".into());
            }
            self.epochs = e;
        }
        if let Some(b) = o.batch_size {
            self.batch_size = b;
        }
        if let Some(lr) = o.lr {
            self.optimizer.set_lr(lr);
        }
        if let Some(p) = o.patience {
            self.patience = (p > 0).then_some(p);
        }
        if let Some(b) = o.shuffle_buffer {
            self.shuffle_buffer = b;
        }
        self.reverse_complement |= o.reverse_complement;
        self.check().map_err(|m| format!("recipe: {m}"))
    }

    /// A built-in preset.
    pub fn preset(name: &str) -> Result<TrainConfig, ConfigError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| ConfigError::UnknownPreset(name.to_string()))?;
        TrainConfig::parse(text, &format!("preset {name}"))
    }

    /// A recipe file.
    pub fn from_file(path: &Path) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        TrainConfig::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a recipe.
    pub fn parse(text: &str, origin: &str) -> Result<TrainConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let cfg: TrainConfig = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        cfg.check().map_err(invalid)?;
        Ok(cfg)
    }

    /// Checks the values serde cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("batch_size must be at least 1".into());
        }
        let out = self.model.output_activation();
        if out != ferrosea_models::spec::Activation::Linear
            && self.loss != ferrosea_runtime::loss::Loss::Mse
        {
            return Err(format!(
                "\"output_activation\": \"{}\" needs \"loss\": \"mse\" (\"{}\" applies its own sigmoid or softmax to the logits)",
                out.name(),
                self.loss.name()
            ));
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.shuffle_buffer == 0 {
            return Err("shuffle_buffer must be at least 1".into());
        }
        if self.l1_hidden < 0.0 || self.max_norm.is_some_and(|m| m <= 0.0) {
            return Err("l1_hidden must be >= 0 and max_norm > 0".into());
        }
        self.optimizer.check()?;
        self.schedule.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Overrides replace what they name and nothing else; a zero epoch count and a recipe
    /// they break are refused.
    #[test]
    fn overrides_replace_what_they_name() {
        let base = TrainConfig::preset("deepsea-tiny").unwrap();
        let mut cfg = base.clone();
        cfg.apply(&Overrides::default()).unwrap();
        assert_eq!(cfg, base);
        cfg.apply(&Overrides {
            epochs: Some(7),
            batch_size: Some(32),
            lr: Some(0.05),
            patience: Some(0),
            shuffle_buffer: Some(100),
            reverse_complement: true,
        })
        .unwrap();
        assert_eq!(
            (cfg.epochs, cfg.batch_size, cfg.patience, cfg.shuffle_buffer),
            (7, 32, None, 100)
        );
        assert_eq!(cfg.optimizer.lr(), 0.05);
        assert!(cfg.reverse_complement);
        assert_eq!(cfg.model, base.model);
        let e = cfg
            .apply(&Overrides {
                epochs: Some(0),
                ..Overrides::default()
            })
            .unwrap_err();
        assert!(e.contains("--epochs"), "{e}");
        let e = cfg
            .apply(&Overrides {
                batch_size: Some(0),
                ..Overrides::default()
            })
            .unwrap_err();
        assert!(e.starts_with("recipe: "), "{e}");
    }

    #[test]
    fn every_preset_parses() {
        for name in preset_names() {
            TrainConfig::preset(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Every preset builds for 1000 bp windows (Basset: its 600), and its summary's
    /// parameter count is the number of values in its real variables.
    #[test]
    fn every_preset_builds_and_counts_its_variables() {
        use candle_core::Device;
        use ferrosea_models::{Network, ParamStore};
        for name in preset_names() {
            let cfg = TrainConfig::preset(name).unwrap();
            let window = if name.starts_with("basset") {
                600
            } else {
                1000
            };
            let store = ParamStore::new(1);
            let net = Network::new(&cfg.model, window, 3, &store.builder(&Device::Cpu))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let rows = net.summary();
            assert_eq!(
                rows.iter().map(|r| r.params).sum::<usize>(),
                store.count(),
                "{name}"
            );
            if name == "basset" {
                let flat = rows.iter().find(|r| r.layer == "flatten1").unwrap();
                assert_eq!(flat.shape, vec![2000], "Basset flattens 200 x 10");
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = TrainConfig::preset("danq-huge").unwrap_err().to_string();
        assert!(e.contains("danq-huge") && e.contains("danq-tiny"), "{e}");
        let text = PRESETS[3].1.replace("\"batch_size\"", "\"batchsize\"");
        let e = TrainConfig::parse(&text, "my.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("my.json") && e.contains("batchsize") && e.contains("line"),
            "{e}"
        );
        let text = PRESETS[3]
            .1
            .replace("\"batch_size\": 64", "\"batch_size\": 0");
        let e = TrainConfig::parse(&text, "my.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_size must be"), "{e}");
    }
}

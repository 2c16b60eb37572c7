//! Learning-rate schedules, stepped once per epoch, with PyTorch's semantics (`StepLR`,
//! `ReduceLROnPlateau` in "min" mode with a relative threshold).

use serde::{Deserialize, Serialize};

/// A schedule. In JSON: `{"kind": "plateau", "factor": 0.1, ...}`; none by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// A constant learning rate.
    #[default]
    None,
    /// Multiply by `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Multiply by `factor` when the validation loss has not improved for `patience`
    /// epochs.
    Plateau {
        /// Decay factor.
        #[serde(default = "factor")]
        factor: f64,
        /// Epochs without improvement tolerated.
        #[serde(default = "patience")]
        patience: usize,
        /// Relative improvement that counts.
        #[serde(default = "threshold")]
        threshold: f64,
        /// Epochs to wait after a decay before counting again.
        #[serde(default)]
        cooldown: usize,
        /// Lower bound.
        #[serde(default)]
        min_lr: f64,
    },
}

fn factor() -> f64 {
    0.1
}
fn patience() -> usize {
    10
}
fn threshold() -> f64 {
    1e-4
}

impl ScheduleConfig {
    /// Checks ranges.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            ScheduleConfig::Step { step_size, gamma } if step_size == 0 || gamma <= 0.0 => {
                Err("schedule: step_size must be >= 1 and gamma > 0".into())
            }
            ScheduleConfig::Plateau { factor, .. } if !(factor > 0.0 && factor < 1.0) => {
                Err("schedule: factor must be in (0, 1)".into())
            }
            _ => Ok(()),
        }
    }
}

/// A schedule's running state (saved in checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scheduler {
    /// The settings.
    pub cfg: ScheduleConfig,
    /// The base learning rate.
    pub base_lr: f64,
    /// The learning rate in effect.
    pub lr: f64,
    /// Epochs stepped.
    pub epochs: usize,
    /// Plateau: best loss so far.
    pub best: Option<f64>,
    /// Plateau: epochs without improvement.
    pub bad_epochs: usize,
    /// Plateau: cooldown epochs left.
    pub cooldown_left: usize,
}

impl Scheduler {
    /// Starts at `base_lr`.
    pub fn new(cfg: ScheduleConfig, base_lr: f64) -> Scheduler {
        Scheduler {
            cfg,
            base_lr,
            lr: base_lr,
            epochs: 0,
            best: None,
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }

    /// Ends an epoch whose validation loss was `loss`; returns the learning rate for the
    /// next one.
    pub fn end_epoch(&mut self, loss: f64) -> f64 {
        self.epochs += 1;
        match self.cfg {
            ScheduleConfig::None => {}
            ScheduleConfig::Step { step_size, gamma } => {
                self.lr = self.base_lr * gamma.powi((self.epochs / step_size) as i32);
            }
            ScheduleConfig::Plateau {
                factor,
                patience,
                threshold,
                cooldown,
                min_lr,
            } => {
                let better = self.best.is_none_or(|b| loss < b * (1.0 - threshold));
                if better {
                    self.best = Some(loss);
                    self.bad_epochs = 0;
                } else {
                    self.bad_epochs += 1;
                }
                if self.cooldown_left > 0 {
                    self.cooldown_left -= 1;
                    self.bad_epochs = 0;
                }
                if self.bad_epochs > patience {
                    let new = (self.lr * factor).max(min_lr);
                    if self.lr - new > 1e-8 {
                        self.lr = new;
                    }
                    self.cooldown_left = cooldown;
                    self.bad_epochs = 0;
                }
            }
        }
        self.lr
    }
}

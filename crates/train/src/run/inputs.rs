//! The training and validation datasets, opened and checked against each other.

use std::path::Path;

use ferrosea_dataset::Alphabet;
use ferrosea_dataset::Reader;

use super::Options;
use crate::TrainError;

/// The two datasets of a run and what they agree on.
pub(super) struct Inputs {
    pub(super) train: Reader,
    pub(super) valid: Reader,
    pub(super) window: usize,
    pub(super) targets: Vec<String>,
    pub(super) alphabet: Alphabet,
}

impl Inputs {
    /// Opens both datasets; refuses them when they disagree, when either is empty, or when
    /// the recipe's loss does not suit their labels.
    pub(super) fn open(opts: &Options) -> Result<Inputs, TrainError> {
        let train = Reader::open(&opts.train)?;
        let valid = Reader::open(&opts.valid)?;
        check_compatible(&opts.train, &train, &opts.valid, &valid)?;
        if train.is_empty() || valid.is_empty() {
            return Err(TrainError::Data(format!(
                "{} has {} rows and {} has {}: both need at least one",
                opts.train.display(),
                train.len(),
                opts.valid.display(),
                valid.len()
            )));
        }
        opts.config
            .loss
            .check_kind(train.labels())
            .map_err(|m| TrainError::Mismatch(format!("{}: {m}", opts.train.display())))?;
        Ok(Inputs {
            window: train.window(),
            targets: train.targets().name.clone(),
            alphabet: train.alphabet().clone(),
            train,
            valid,
        })
    }
}

fn check_compatible(tp: &Path, t: &Reader, vp: &Path, v: &Reader) -> Result<(), TrainError> {
    if t.window() != v.window() {
        return Err(TrainError::Mismatch(format!(
            "{} has {} bp windows and {} has {} bp",
            tp.display(),
            t.window(),
            vp.display(),
            v.window()
        )));
    }
    if t.alphabet() != v.alphabet() || t.labels() != v.labels() {
        return Err(TrainError::Mismatch(format!(
            "{} holds sequences over {} with {} labels and {} over {} with {} labels",
            tp.display(),
            t.alphabet(),
            t.labels(),
            vp.display(),
            v.alphabet(),
            v.labels()
        )));
    }
    if t.targets().name != v.targets().name {
        return Err(TrainError::Mismatch(format!(
            "{} and {} have different targets ({} and {}){}",
            tp.display(),
            vp.display(),
            t.targets().len(),
            v.targets().len(),
            first_difference(&t.targets().name, &v.targets().name)
        )));
    }
    Ok(())
}

pub(super) fn first_difference(a: &[String], b: &[String]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!(
            "; first difference at target {}: '{}' vs '{}'",
            i + 1,
            a[i],
            b[i]
        ),
        None => String::new(),
    }
}

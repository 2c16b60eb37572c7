//! The Snakemake workflow's configuration (`workflows/config/config.yaml`, documented there)
//! as types, for the stages that write one (`ferrosea-prep simulate`), and its YAML.
//!
//! The YAML is written from the types' serde form: block mappings (the top level in the
//! order of [`WorkflowConfig`]'s fields, each section's keys in name order), flow lists of
//! scalars, strings quoted as JSON quotes them (which YAML reads the same) where a bare one
//! could read as something else. That is all a workflow configuration holds; writing it
//! here keeps a YAML library (and its maintenance) out of the build.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

/// A workflow configuration: inputs, outputs and each rule group's settings. Sections the
/// workflow treats as optional (`attribution`, `truth`, `variants`, `tracks`) are left out
/// when `None`.
#[derive(Clone, Debug, Serialize)]
pub struct WorkflowConfig {
    /// Where every output goes.
    pub out: PathBuf,
    /// Where the ferrosea binaries are.
    pub bin_dir: PathBuf,
    /// The genome FASTA.
    pub genome: PathBuf,
    /// The targets manifest.
    pub targets: PathBuf,
    /// `ferrosea-prep`.
    pub prep: PrepSection,
    /// `ferrosea-train`.
    pub train: TrainSection,
    /// `ferrosea-evaluate`.
    pub evaluate: EvaluateSection,
    /// `ferrosea-interpret filters` and `compare`.
    pub interpret: InterpretSection,
    /// Attributions, seqlets and motifs of chosen targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<AttributionSection>,
    /// The truth check of a simulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthSection>,
}

/// The `prep` section.
#[derive(Clone, Debug, Serialize)]
pub struct PrepSection {
    /// Validation regions (`--valid`).
    pub valid: String,
    /// Test regions (`--test`).
    pub test: String,
    /// Which windows to keep (`--keep`).
    pub keep: String,
    /// Add reverse complements (`--reverse-complement`).
    pub reverse_complement: bool,
    /// More flags.
    pub extra: String,
}

/// The `train` section: a recipe file (`config`) or a preset.
#[derive(Clone, Debug, Serialize)]
pub struct TrainSection {
    /// A recipe file (`--config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// A built-in preset (`--preset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// `--epochs`.
    pub epochs: usize,
    /// `--batch-size` (`None`: the recipe's).
    pub batch_size: Option<usize>,
    /// `--devices`.
    pub devices: String,
    /// GPUs the cluster job asks for.
    pub gpus: usize,
    /// `--seed`.
    pub seed: u64,
    /// More flags.
    pub extra: String,
}

/// The `evaluate` section.
#[derive(Clone, Debug, Serialize)]
pub struct EvaluateSection {
    /// Average with the reverse complement (`--rc-average`).
    pub rc_average: bool,
    /// `--min-positives`.
    pub min_positives: u64,
    /// Published per-target figures (`--reference`).
    pub reference: Option<PathBuf>,
    /// `--batch-size`.
    pub batch_size: usize,
}

/// The `interpret` section.
#[derive(Clone, Debug, Serialize)]
pub struct InterpretSection {
    /// The motif database for `compare`.
    pub db: PathBuf,
    /// `filters --threshold`.
    pub threshold: f64,
    /// `filters --only-positive`.
    pub only_positive: bool,
    /// `filters --min-sites`.
    pub min_sites: usize,
    /// `filters --influence` (`None`: not measured).
    pub influence: Option<usize>,
    /// `compare --dist`.
    pub dist: String,
    /// `compare --thresh`.
    pub thresh: f64,
}

/// The `attribution` section.
#[derive(Clone, Debug, Serialize)]
pub struct AttributionSection {
    /// The targets to attribute.
    pub targets: Vec<String>,
    /// `attribute --method`.
    pub method: String,
    /// Rows attributed.
    pub rows: usize,
    /// `--references`.
    pub references: usize,
    /// `--null-rows`.
    pub null_rows: usize,
    /// `--seed`.
    pub seed: u64,
}

/// The `truth` section (the checks of a simulation's run).
#[derive(Clone, Debug, Serialize)]
pub struct TruthSection {
    /// The simulation's truth directory.
    pub dir: PathBuf,
    /// Lowest test ROC AUC per target.
    pub min_roc_auc: f64,
    /// Highest q-value of a planted motif's match.
    pub max_q: f64,
    /// Fraction of planted motifs that must be matched.
    pub min_matched: f64,
    /// Lowest auPRC of the seqlets against the planted sites.
    pub min_auprc: f64,
    /// Range of seqlets per planted site.
    pub seqlet_ratio: [f64; 2],
}

impl WorkflowConfig {
    /// The configuration as YAML, after `comment` (each line prefixed with `# `).
    pub fn to_yaml(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        let value = serde_json::to_value(self).expect("a workflow configuration serialises");
        let Value::Object(map) = value else {
            unreachable!("a struct serialises to a mapping")
        };
        // The top level in field order (a serde_json map is in name order).
        let order = [
            "out",
            "bin_dir",
            "genome",
            "targets",
            "prep",
            "train",
            "evaluate",
            "interpret",
            "attribution",
            "truth",
        ];
        debug_assert!(map.keys().all(|k| order.contains(&k.as_str())));
        for key in order {
            if let Some(v) = map.get(key) {
                yaml_entry(key, v, 0, &mut out);
            }
        }
        out
    }
}

/// `key: value` at `indent` spaces: a mapping in block style below it, anything else on
/// the line.
fn yaml_entry(key: &str, v: &Value, indent: usize, out: &mut String) {
    out.push_str(&" ".repeat(indent));
    out.push_str(key);
    out.push(':');
    match v {
        Value::Object(map) => {
            out.push('\n');
            for (k, v) in map {
                yaml_entry(k, v, indent + 2, out);
            }
        }
        _ => {
            out.push(' ');
            out.push_str(&yaml_flow(v));
            out.push('\n');
        }
    }
}

/// A scalar or a list of scalars in flow style.
fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(yaml_flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(_) => unreachable!("no mappings inside lists"),
    }
}

/// A string bare when YAML reads it back as that string (a path, a word), otherwise in JSON
/// quotes: empty, with characters YAML gives a meaning, or a word YAML reads as another type.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+'))
        && !s.starts_with(['-', '.', '+'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.into()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_bare_only_when_yaml_reads_them_back_as_strings() {
        for (s, want) in [
            ("target/release", "target/release"),
            ("genome.fa", "genome.fa"),
            ("", "\"\""),
            ("sim1:1-300000", "\"sim1:1-300000\""),
            ("1e5", "\"1e5\""),
            ("yes", "\"yes\""),
            ("Null", "\"Null\""),
            ("-x", "\"-x\""),
            ("a \"b\"", "\"a \\\"b\\\"\""),
        ] {
            assert_eq!(yaml_string(s), want, "{s:?}");
        }
        assert_eq!(
            yaml_flow(&serde_json::json!(["K562|CTCF", 0.5, null, true])),
            "[\"K562|CTCF\", 0.5, null, true]"
        );
    }
}

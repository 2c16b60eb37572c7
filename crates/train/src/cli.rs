//! The command line of `ferrosea-train`: the training flags ([`TrainArgs`]) and the
//! conversions ([`Convert`]: `import`, `export`), run by [`run`] (the binary parses, sets up
//! the process and calls it).

use std::path::PathBuf;

use ferrosea_runtime::DeviceSpec;

use crate::collective::Cluster;
use crate::config::{preset_names, Overrides, TrainConfig};
use crate::convert::{ExportFormat, ExportOptions, ImportFormat, ImportOptions};
use crate::{Options, Outcome, TrainError};

fn usage(e: impl std::fmt::Display) -> TrainError {
    TrainError::Usage(e.to_string())
}

/// The flags of a training run (and of `--summary`, `--list-presets`).
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Training dataset (HDF5 from ferrosea-prep).
    #[arg(long, required_unless_present_any = ["summary", "list_presets"])]
    train: Option<PathBuf>,
    /// Validation dataset.
    #[arg(long, required_unless_present_any = ["summary", "list_presets"])]
    valid: Option<PathBuf>,
    /// Output directory.
    #[arg(long, short, required_unless_present_any = ["summary", "list_presets"])]
    out: Option<PathBuf>,
    /// Built-in recipe: deepsea, danq, danq-jaspar, danq-maxtime, deepbind, basset, resnet,
    /// each also as NAME-tiny (--list-presets says what each is).
    #[arg(long, conflicts_with = "config")]
    preset: Option<String>,
    /// Recipe file (JSON, the schema of the presets; see docs/TRAINING.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the recipe's number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the recipe's batch size (the global batch, split across devices).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Override the recipe's learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Override the recipe's early-stopping patience (0: none).
    #[arg(long)]
    patience: Option<usize>,
    /// Reverse-complement each training sample with probability 1/2.
    #[arg(long)]
    reverse_complement: bool,
    /// Override the recipe's shuffle buffer (rows).
    #[arg(long)]
    shuffle_buffer: Option<usize>,
    /// Start the first-layer filters from these motifs (MEME format), DanQ-JASPAR's way.
    #[arg(long, value_name = "MEME")]
    init_filters: Option<PathBuf>,
    /// Seed of every random choice (weights, order, dropout) [default: 1; on --resume, the
    /// run's].
    #[arg(long)]
    seed: Option<u64>,
    /// Device: cpu or cuda:N.
    #[arg(long, default_value = "cpu", conflicts_with = "devices")]
    device: DeviceSpec,
    /// Data-parallel devices, comma-separated (cuda:0,cuda:1,...; cpu,cpu runs CPU replicas).
    #[arg(long, value_delimiter = ',')]
    devices: Vec<DeviceSpec>,
    /// Several nodes: the number of processes, one per node, each driving its --devices
    /// (every node the same number). Inside a SLURM step with several tasks it is taken
    /// from SLURM_NTASKS and SLURM_PROCID when not given.
    #[arg(
        long,
        requires = "node_rank",
        help_heading = "Several nodes (CUDA + NCCL)"
    )]
    nodes: Option<usize>,
    /// This process's node index, 0..nodes; node 0 writes the checkpoints.
    #[arg(long, requires = "nodes", help_heading = "Several nodes (CUDA + NCCL)")]
    node_rank: Option<usize>,
    /// File on a filesystem all nodes share, through which node 0 hands out the NCCL id;
    /// must not exist at the start [default: OUT/.nccl-id-JOB.STEP].
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Several nodes (CUDA + NCCL)"
    )]
    nccl_id_file: Option<PathBuf>,
    /// Continue the run in --out from latest.json.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace a previous run in --out.
    #[arg(long)]
    force: bool,
    /// Also checkpoint every N steps within an epoch.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<u64>,
    /// Stop each epoch after N steps (quick runs, benchmarks) [on --resume: the run's].
    #[arg(long, value_name = "N")]
    steps_per_epoch: Option<usize>,
    /// Batch size for validation.
    #[arg(long, default_value_t = 256)]
    eval_batch: usize,
    /// CPU threads (default: all cores).
    #[arg(short = 'j', long, global = true)]
    pub threads: Option<usize>,
    /// Print each layer's output shape and parameter count, then exit.
    #[arg(long)]
    summary: bool,
    /// Window length for --summary without --train.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    /// Number of targets for --summary without --train.
    #[arg(long, default_value_t = 919)]
    targets: usize,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
    /// Stop after this global step as if killed (for testing --resume).
    #[arg(long, hide = true)]
    halt_after_steps: Option<u64>,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The recipe's settings given as flags.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            patience: self.patience,
            shuffle_buffer: self.shuffle_buffer,
            reverse_complement: self.reverse_complement,
        }
    }
}

/// Published models in, ferrosea's models out.
#[derive(clap::Subcommand, Debug)]
pub enum Convert {
    /// Import published weights as a ferrosea checkpoint directory (OUT/best.json, its
    /// weights, OUT/import.json): Kipoi's DeepSEA (.pth), Beluga (.pth), Selene's DeepSEA
    /// and DanQ (best_model.pth.tar), DanQ's Keras 0.2 file (.hdf5), or ferrosea's own
    /// PyTorch export. evaluate, interpret and analyze run on it unchanged.
    Import {
        /// What the weights are.
        #[arg(long, value_enum)]
        from: ImportFormat,
        /// The weight file (for --from pytorch: the export's directory).
        weights: PathBuf,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
        /// Target names, one per line in output order [default: DeepSEA's 919 names, for a
        /// model with 919 outputs].
        #[arg(long)]
        targets: Option<PathBuf>,
        /// The window the model reads [default: the published model's: 1000 bp, Beluga
        /// 2000].
        #[arg(long)]
        window: Option<usize>,
    },
    /// Write a checkpoint as a PyTorch module (model.py + model.safetensors with PyTorch's
    /// key names + config.json) or an ONNX graph (model.onnx) into OUT.
    Export {
        /// Checkpoint JSON or a ferrosea-train output directory.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The format.
        #[arg(long, value_enum)]
        to: ExportFormat,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
    },
}

fn convert(command: Convert) -> Result<(), TrainError> {
    match command {
        Convert::Import {
            from,
            weights,
            out,
            targets,
            window,
        } => {
            let r = crate::convert::import(&ImportOptions {
                from,
                weights,
                out,
                targets,
                window,
                command_line: ferrosea_dataset::command_line(),
            })?;
            tracing::info!(
                "{}: {} parameters, {} bp windows, {} targets",
                r.checkpoint.display(),
                r.parameters,
                r.window,
                r.targets
            );
        }
        Convert::Export {
            checkpoint,
            to,
            out,
        } => {
            let files = crate::convert::export(&ExportOptions {
                checkpoint,
                to,
                out,
            })?;
            for f in files {
                tracing::info!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

fn recipe(args: &TrainArgs) -> Result<TrainConfig, TrainError> {
    let mut cfg = match (&args.preset, &args.config, &args.out) {
        (_, Some(path), _) => TrainConfig::from_file(path)?,
        (Some(name), None, _) => TrainConfig::preset(name)?,
        // A resumed run keeps its recipe unless told otherwise.
        (None, None, Some(out)) if args.resume => {
            crate::checkpoint::read_meta(&out.join("latest.json"))
                .map_err(|e| usage(format!("--resume: {e}")))?
                .config
        }
        (None, None, _) => TrainConfig::preset("danq")?,
    };
    cfg.apply(&args.overrides()).map_err(usage)?;
    Ok(cfg)
}

fn summary(args: &TrainArgs, cfg: &TrainConfig) -> Result<(), TrainError> {
    let (window, targets) = match &args.train {
        Some(p) => {
            let r = ferrosea_dataset::Reader::open(p)?;
            (r.window(), r.targets().len())
        }
        None => (args.window, args.targets),
    };
    let store = ferrosea_models::ParamStore::new(args.seed.unwrap_or(1));
    let net = ferrosea_models::Network::new(
        &cfg.model,
        window,
        targets,
        &store.builder(&candle_core::Device::Cpu),
    )?;
    let total = store.count();
    let buffers: usize = store.buffers().iter().map(|(_, b)| b.elem_count()).sum();
    println!(
        "{} model for {window} bp windows and {targets} targets (input [4, {window}])",
        cfg.model.arch()
    );
    print!("{}", ferrosea_models::format_summary(net.summary()));
    if buffers > 0 {
        println!("(and {buffers} buffer values beside the {total} parameters: batch norm's running estimates)");
    }
    Ok(())
}

/// Runs a conversion when one is given, else what the training flags ask.
pub fn run(args: TrainArgs, command: Option<Convert>) -> Result<(), TrainError> {
    if let Some(command) = command {
        return convert(command);
    }
    if args.list_presets {
        for name in preset_names() {
            let cfg = TrainConfig::preset(name)?;
            println!("{name:<18} {}", cfg.about.unwrap_or_default());
        }
        return Ok(());
    }
    if args.steps_per_epoch == Some(0) {
        return Err(usage(
            "--steps-per-epoch must be at least 1 (leave it out for whole epochs)",
        ));
    }
    let cfg = recipe(&args)?;
    if args.summary {
        return summary(&args, &cfg);
    }
    let devices = if args.devices.is_empty() {
        vec![args.device.clone()]
    } else {
        args.devices.clone()
    };
    let out = args.out.clone().ok_or_else(|| usage("--out is required"))?;
    let cluster = match (args.nodes, args.node_rank) {
        (Some(nodes), Some(node_rank)) => {
            if node_rank >= nodes {
                return Err(usage(format!(
                    "--node-rank {node_rank} is not below --nodes {nodes}"
                )));
            }
            (nodes > 1).then(|| Cluster {
                nodes,
                node_rank,
                id_file: args
                    .nccl_id_file
                    .clone()
                    .unwrap_or_else(|| out.join(".nccl-id-job.0")),
            })
        }
        _ if devices.iter().any(|d| matches!(d, DeviceSpec::Cuda(_))) => Cluster::from_slurm(&out)
            .map(|mut c| {
                if let Some(f) = &args.nccl_id_file {
                    c.id_file = f.clone();
                }
                tracing::info!(
                    "SLURM step with {} tasks: this is node {} of the run",
                    c.nodes,
                    c.node_rank
                );
                c
            }),
        _ => None,
    };
    // A resumed run keeps its seed and epoch length unless they are given (and then they
    // must be the run's: the library refuses others).
    let recorded = args
        .resume
        .then(|| crate::checkpoint::read_meta(&out.join("latest.json")).ok())
        .flatten();
    let seed = args.seed.or(recorded.as_ref().map(|m| m.seed)).unwrap_or(1);
    let steps_per_epoch = args.steps_per_epoch.or_else(|| {
        recorded
            .as_ref()
            .and_then(|m| m.start.as_ref())
            .and_then(|s| s.steps_per_epoch)
    });
    let opts = Options {
        train: args
            .train
            .clone()
            .ok_or_else(|| usage("--train is required"))?,
        valid: args
            .valid
            .clone()
            .ok_or_else(|| usage("--valid is required"))?,
        out,
        config: cfg,
        seed,
        devices,
        resume: args.resume,
        force: args.force,
        checkpoint_every: args.checkpoint_every.filter(|&k| k > 0),
        init_filters: args.init_filters.clone(),
        halt_after_steps: args.halt_after_steps,
        steps_per_epoch,
        eval_batch: args.eval_batch.max(1),
        progress: !args.quiet,
        cluster,
    };
    let report = crate::run(&opts)?;
    match report.outcome {
        Outcome::Finished | Outcome::EarlyStopped => {
            if let Some((loss, epoch)) = report.best {
                tracing::info!(
                    "best validation loss {loss:.5} at epoch {epoch}: {}",
                    opts.out.join("best.json").display()
                );
            }
        }
        Outcome::Halted => tracing::warn!(
            "halted as asked after step {}",
            args.halt_after_steps.unwrap_or(0)
        ),
    }
    Ok(())
}

//! `ferrosea-train`: train a DeepSEA/DanQ network on ferrosea datasets.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use ferrosea_runtime::DeviceSpec;
use ferrosea_train::collective::Cluster;
use ferrosea_train::config::{preset_names, TrainConfig};
use ferrosea_train::convert::{ExportFormat, ExportOptions, ImportFormat, ImportOptions};
use ferrosea_train::{Options, Outcome};

/// Train a DeepSEA, DanQ or DanQ-JASPAR network on datasets made by ferrosea-prep.
///
/// Writes into --out: best.json + best-<step>.safetensors (lowest validation loss),
/// latest.json + latest-<step>.safetensors + optimizer state (for --resume), and
/// metrics.tsv (one line per epoch).
#[derive(Parser, Debug)]
#[command(
    name = "ferrosea-train",
    version,
    about,
    max_term_width = 100,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Convert>,
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
    threads: Option<usize>,
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
    quiet: bool,
}

/// Published models in, ferrosea's models out.
#[derive(clap::Subcommand, Debug)]
enum Convert {
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

fn convert(command: Convert) -> anyhow::Result<()> {
    match command {
        Convert::Import {
            from,
            weights,
            out,
            targets,
            window,
        } => {
            let r = ferrosea_train::convert::import(&ImportOptions {
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
            let files = ferrosea_train::convert::export(&ExportOptions {
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

fn recipe(args: &Args) -> anyhow::Result<TrainConfig> {
    let mut cfg = match (&args.preset, &args.config, &args.out) {
        (_, Some(path), _) => TrainConfig::from_file(path)?,
        (Some(name), None, _) => TrainConfig::preset(name)?,
        // A resumed run keeps its recipe unless told otherwise.
        (None, None, Some(out)) if args.resume => {
            ferrosea_train::checkpoint::read_meta(&out.join("latest.json"))
                .context("--resume")?
                .config
        }
        (None, None, _) => TrainConfig::preset("danq")?,
    };
    if let Some(e) = args.epochs {
        if e == 0 {
            bail!("--epochs must be at least 1");
        }
        cfg.epochs = e;
    }
    if let Some(b) = args.batch_size {
        cfg.batch_size = b;
    }
    if let Some(lr) = args.lr {
        cfg.optimizer.set_lr(lr);
    }
    if let Some(p) = args.patience {
        cfg.patience = (p > 0).then_some(p);
    }
    if let Some(b) = args.shuffle_buffer {
        cfg.shuffle_buffer = b;
    }
    cfg.reverse_complement |= args.reverse_complement;
    cfg.check().map_err(|m| anyhow::anyhow!("recipe: {m}"))?;
    Ok(cfg)
}

fn summary(args: &Args, cfg: &TrainConfig) -> anyhow::Result<()> {
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

fn main() -> ExitCode {
    let args = Args::parse();
    ferrosea_runtime::process::init(args.quiet, args.threads);
    ferrosea_dataset::exit_code("ferrosea-train", main_result(args))
}

fn main_result(mut args: Args) -> anyhow::Result<()> {
    if let Some(command) = args.command.take() {
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
        bail!("--steps-per-epoch must be at least 1 (leave it out for whole epochs)");
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
    let out = args.out.clone().context("--out is required")?;
    let cluster = match (args.nodes, args.node_rank) {
        (Some(nodes), Some(node_rank)) => {
            if node_rank >= nodes {
                bail!("--node-rank {node_rank} is not below --nodes {nodes}");
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
        .then(|| ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).ok())
        .flatten();
    let seed = args.seed.or(recorded.as_ref().map(|m| m.seed)).unwrap_or(1);
    let steps_per_epoch = args.steps_per_epoch.or_else(|| {
        recorded
            .as_ref()
            .and_then(|m| m.start.as_ref())
            .and_then(|s| s.steps_per_epoch)
    });
    let opts = Options {
        train: args.train.clone().context("--train is required")?,
        valid: args.valid.clone().context("--valid is required")?,
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
    let report = ferrosea_train::run(&opts)?;
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

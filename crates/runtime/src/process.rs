//! Process set-up shared by the binaries that run networks (`ferrosea-train`, `ferrosea-analyze`,
//! `ferrosea-evaluate`, `ferrosea-interpret`).

use std::io::IsTerminal;

/// Call first in `main`, before any thread starts: keeps glibc from returning Candle's large
/// buffers to the kernel after every step (re-zeroing fresh pages made training about 3x
/// slower), sizes the thread pools of Candle, gemm and rayon (they read
/// `RAYON_NUM_THREADS`) from `-j`, and logs to stderr (warnings only when `quiet`). Output
/// into a closed pipe (`ferrosea-train --list-presets | head -3`) ends the process quietly, as
/// it ends other Unix tools, instead of panicking in `println!`.
pub fn init(quiet: bool, threads: Option<usize>) {
    keep_freed_memory();
    // SAFETY: restoring a signal's default disposition, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Some(j) = threads {
        // SAFETY: called before any other thread exists (documented above).
        unsafe { std::env::set_var("RAYON_NUM_THREADS", j.max(1).to_string()) };
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(if quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        })
        .with_target(false)
        .without_time()
        .init();
}

/// Keeps glibc from returning Candle's large buffers to the kernel (no mmap for large
/// blocks, no trimming), as every binary does in [`init`]; the benchmarks' processes call it
/// alone.
pub fn keep_freed_memory() {
    // SAFETY: plain glibc tuning calls with valid constants.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
    }
}

/// The flags of every subcommand of the stage binaries that run networks.
#[derive(clap::Args, Clone, Debug)]
pub struct GlobalArgs {
    /// Less log on stderr (warnings and errors only, no progress bar).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// CPU threads (default: all cores); does not change the output.
    #[arg(short = 'j', long, global = true)]
    pub threads: Option<usize>,
}

impl GlobalArgs {
    /// [`init`] with these flags.
    pub fn init(&self) {
        init(self.quiet, self.threads)
    }

    /// Whether to draw progress bars: not `--quiet`, and stderr is a terminal.
    pub fn progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// The running binary's file name (`ferrosea-evaluate`, ...), from the first argument;
/// `None` when the process has none.
pub fn program_name() -> Option<String> {
    let first = std::env::args_os().next()?;
    let name = std::path::Path::new(&first)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    (!name.is_empty()).then_some(name)
}

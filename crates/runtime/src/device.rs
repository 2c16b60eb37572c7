//! Compute devices named on the command line.

use candle_core::Device;

use crate::RuntimeError;

/// A compute device named on the command line: `cpu` or `cuda:N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The host.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<DeviceSpec, String> {
        match s {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("'{s}' is not a device: expected cpu or cuda:N")),
        }
    }
}

impl DeviceSpec {
    /// Opens the device.
    pub fn open(&self) -> Result<Device, RuntimeError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(RuntimeError::Usage(without_cuda(
                        crate::process::program_name().as_deref(),
                        *n,
                    )));
                }
                Device::new_cuda(*n).map_err(|e| RuntimeError::Usage(format!("cuda:{n}: {e}")))
            }
        }
    }
}

/// What `--device cuda:N` gets from a build without CUDA, naming `program` (the running
/// binary, when known) and the command that builds it with CUDA.
pub fn without_cuda(program: Option<&str>, n: usize) -> String {
    match program.filter(|p| p.starts_with("ferrosea-")) {
        Some(p) => format!(
            "--device cuda:{n}: this {p} was built without CUDA; rebuild it with \
             `cargo build --release -p {p} --features cuda`{}",
            if p == "ferrosea-train" {
                " (--features nccl for several GPUs)"
            } else {
                ""
            }
        ),
        _ => format!(
            "--device cuda:{n}: this program was built without CUDA; rebuild it with \
             `cargo build --release -p <its package> --features cuda`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cuda_message_names_the_running_program() {
        let m = without_cuda(Some("ferrosea-evaluate"), 1);
        assert!(
            m.starts_with("--device cuda:1: this ferrosea-evaluate was built without CUDA")
                && m.contains("`cargo build --release -p ferrosea-evaluate --features cuda`")
                && !m.contains("ferrosea-train")
                && !m.contains("nccl"),
            "{m}"
        );
        let m = without_cuda(Some("ferrosea-train"), 0);
        assert!(
            m.contains("-p ferrosea-train --features cuda") && m.contains("--features nccl"),
            "{m}"
        );
        // A binary of another name (a test harness, a renamed copy): a generic wording.
        for other in [Some("cli-0123abcd"), None] {
            let m = without_cuda(other, 0);
            assert!(
                m.contains("this program was built without CUDA")
                    && m.contains("-p <its package> --features cuda")
                    && !m.contains("ferrosea-train"),
                "{m}"
            );
        }
    }
}

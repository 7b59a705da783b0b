//! Choosing where tensors live: `--device auto|cpu|cuda`.

use std::fmt;
use std::str::FromStr;

use tch::Device;

use crate::error::RunError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else CPU.
    Auto,
    Cpu,
    Cuda,
}

impl FromStr for DeviceChoice {
    type Err = RunError;
    fn from_str(text: &str) -> Result<DeviceChoice, RunError> {
        match text {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            other => Err(RunError::UnknownDevice {
                given: other.to_string(),
            }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        })
    }
}

impl DeviceChoice {
    /// The device to use, or an error when CUDA was asked for and is not there.
    pub fn resolve(self) -> Result<Device, RunError> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto if cuda_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Auto => Ok(Device::Cpu),
            DeviceChoice::Cuda if cuda_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Cuda => Err(RunError::DeviceUnavailable { asked: self }),
        }
    }
}

/// Whether libtorch can use a GPU. The linker drops `libtorch_cuda` from the binary (nothing
/// references its symbols: it registers CUDA kernels and hooks from static initialisers), so
/// it is loaded here, through the binary's rpath, only when a GPU may be wanted; CPU-only runs
/// never map the CUDA libraries. A libtorch without CUDA simply has no such library.
pub fn cuda_available() -> bool {
    use std::sync::OnceLock;
    // Held for the life of the process: once loaded, its kernels are registered.
    static CUDA_BACKEND: OnceLock<Option<libloading::Library>> = OnceLock::new();
    CUDA_BACKEND.get_or_init(|| {
        // SAFETY: loading libtorch's own CUDA backend runs its static initialisers, which
        // register CUDA kernels with the dispatcher of the libtorch this process already uses.
        unsafe { libloading::Library::new("libtorch_cuda.so") }.ok()
    });
    tch::Cuda::is_available()
}

/// The device as plugins receive it in their context.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".into(),
    }
}

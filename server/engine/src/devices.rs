//! Where the model runs: the devices llama.cpp's backends enumerate, the GPU backends this build has, and how
//! many layers go to a GPU (`engine.n_gpu_layers`, `engine.device`).

use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::{LlamaBackendDeviceType, list_llama_ggml_backend_devices};
use serde::Serialize;

use crate::{EngineConfig, EngineError};

/// One device as llama.cpp's backends enumerate it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The index `LlamaModelParams::with_devices` takes.
    pub index: usize,
    /// "CPU", "CUDA0", "Vulkan0"...: what `engine.device` names.
    pub name: String,
    pub description: String,
    pub backend: String,
    /// "cpu", "accelerator", "gpu", "igpu" or "unknown".
    pub kind: &'static str,
    pub memory_total: u64,
    pub memory_free: u64,
}

impl Device {
    /// Layers can be offloaded to it (an "accelerator" is a CPU-side one such as BLAS).
    pub fn is_gpu(&self) -> bool {
        matches!(self.kind, "gpu" | "igpu")
    }
}

/// The devices of the backends compiled in (and loaded, with dynamic backends).
pub fn devices() -> Vec<Device> {
    list_llama_ggml_backend_devices()
        .into_iter()
        .map(|d| Device {
            index: d.index,
            name: d.name,
            description: d.description,
            backend: d.backend,
            kind: match d.device_type {
                LlamaBackendDeviceType::Cpu => "cpu",
                LlamaBackendDeviceType::Accelerator => "accelerator",
                LlamaBackendDeviceType::Gpu => "gpu",
                LlamaBackendDeviceType::IntegratedGpu => "igpu",
                LlamaBackendDeviceType::Unknown => "unknown",
            },
            memory_total: d.memory_total as u64,
            memory_free: d.memory_free as u64,
        })
        .collect()
}

/// The GPU backends this binary was built with (Cargo features `cuda`, `vulkan`, `metal`); the CPU is always
/// there.
pub fn built_backends() -> Vec<&'static str> {
    let mut built = vec!["cpu"];
    if cfg!(feature = "cuda") {
        built.push("cuda");
    }
    if cfg!(feature = "vulkan") {
        built.push("vulkan");
    }
    if cfg!(feature = "metal") {
        built.push("metal");
    }
    built
}

/// Layers to offload: the configured number, else all of them when a GPU is there, else none. llama.cpp caps a
/// larger number at the model's layer count, so "all" is `u32::MAX`.
pub fn gpu_layers(configured: Option<u32>, gpu_present: bool) -> u32 {
    match configured {
        Some(n) => n,
        None if gpu_present => u32::MAX,
        None => 0,
    }
}

/// The model's load parameters: GPU layers and, when `engine.device` names one, that device only.
pub(crate) fn model_params(config: &EngineConfig) -> Result<(LlamaModelParams, Placement), EngineError> {
    let found = devices();
    let chosen = match config.device.as_str() {
        "" => None,
        name => Some(found.iter().find(|d| d.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
            EngineError::ModelUnavailable(format!(
                "engine.device {name:?} is not a device of this build (it has: {})",
                names.join(", ")
            ))
        })?),
    };
    let gpu = match chosen {
        Some(device) => device.is_gpu().then_some(device),
        None => found.iter().find(|d| d.is_gpu()),
    };
    let n_gpu_layers = gpu_layers(config.n_gpu_layers, gpu.is_some());
    let mut params = LlamaModelParams::default().with_n_gpu_layers(n_gpu_layers);
    if let Some(device) = chosen.filter(|d| d.is_gpu()) {
        params = params.with_devices(&[device.index]).map_err(|e| EngineError::Llama(e.to_string()))?;
    }
    let device = match (gpu, n_gpu_layers) {
        (Some(device), 1..) => device.name.clone(),
        _ => "CPU".to_owned(),
    };
    Ok((params, Placement { n_gpu_layers, device }))
}

/// Where the loaded model went, before its layer count caps `n_gpu_layers`.
pub(crate) struct Placement {
    pub n_gpu_layers: u32,
    pub device: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_layers_go_to_a_gpu_unless_configured() {
        assert_eq!(gpu_layers(None, true), u32::MAX);
        assert_eq!(gpu_layers(None, false), 0);
        assert_eq!(gpu_layers(Some(12), true), 12);
        assert_eq!(gpu_layers(Some(0), true), 0);
        // A number set without a GPU is passed on: llama.cpp then keeps the layers on the CPU.
        assert_eq!(gpu_layers(Some(12), false), 12);
    }

    #[test]
    fn the_cpu_build_has_the_cpu_backend() {
        assert_eq!(built_backends()[0], "cpu");
    }
}

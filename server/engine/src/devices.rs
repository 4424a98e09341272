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

/// The model's load parameters and where its layers go.
pub(crate) fn model_params(config: &EngineConfig) -> Result<(LlamaModelParams, Placement), EngineError> {
    let placement = place(config, &devices())?;
    let mut params = LlamaModelParams::default().with_n_gpu_layers(placement.n_gpu_layers);
    if let Some(index) = placement.index {
        params = params.with_devices(&[index]).map_err(|e| EngineError::Llama(e.to_string()))?;
    }
    Ok((params, placement))
}

/// Where the layers go, from `engine.device` and `engine.n_gpu_layers` and the devices found: to one GPU, the one
/// named or else the first, all of them unless a number is set; with no GPU chosen (none found, or "CPU" named),
/// none. The device is always given to llama.cpp, which otherwise offloads to every GPU it has, split between them,
/// and would offload to a GPU the configuration did not choose.
fn place(config: &EngineConfig, found: &[Device]) -> Result<Placement, EngineError> {
    let gpu = match config.device.as_str() {
        "" => found.iter().find(|d| d.is_gpu()),
        name => {
            let device = found.iter().find(|d| d.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
                EngineError::ModelUnavailable(format!(
                    "engine.device {name:?} is not a device of this build (it has: {})",
                    names.join(", ")
                ))
            })?;
            device.is_gpu().then_some(device)
        }
    };
    // llama.cpp caps a larger number at the model's layer count (its output layer included), so "all" is u32::MAX.
    match (gpu, config.n_gpu_layers.unwrap_or(u32::MAX)) {
        (Some(gpu), n @ 1..) => Ok(Placement { n_gpu_layers: n, device: gpu.name.clone(), index: Some(gpu.index) }),
        _ => Ok(Placement { n_gpu_layers: 0, device: "CPU".to_owned(), index: None }),
    }
}

/// Where the loaded model went, before its layer count caps `n_gpu_layers`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub n_gpu_layers: u32,
    /// "CPU" when no layer is offloaded, else the GPU's name ("Vulkan0").
    pub device: String,
    /// The GPU's index among llama.cpp's devices.
    pub index: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(index: usize, name: &str, kind: &'static str) -> Device {
        Device {
            index,
            name: name.to_owned(),
            description: String::new(),
            backend: String::new(),
            kind,
            memory_total: 0,
            memory_free: 0,
        }
    }

    fn placed(
        device: &str,
        n_gpu_layers: Option<u32>,
        found: &[Device],
    ) -> Result<(u32, String, Option<usize>), String> {
        let config = EngineConfig { device: device.to_owned(), n_gpu_layers, ..EngineConfig::default() };
        place(&config, found).map(|p| (p.n_gpu_layers, p.device, p.index)).map_err(|e| e.to_string())
    }

    #[test]
    fn all_layers_go_to_the_first_gpu_unless_configured() {
        let found = [device(0, "CPU", "cpu"), device(1, "Vulkan0", "gpu"), device(2, "Vulkan1", "igpu")];
        assert_eq!(placed("", None, &found), Ok((u32::MAX, "Vulkan0".into(), Some(1))));
        assert_eq!(placed("", Some(12), &found), Ok((12, "Vulkan0".into(), Some(1))));
        assert_eq!(placed("vulkan1", None, &found), Ok((u32::MAX, "Vulkan1".into(), Some(2))));
        assert_eq!(placed("", Some(0), &found), Ok((0, "CPU".into(), None)));
    }

    #[test]
    fn nothing_is_offloaded_without_a_gpu_chosen() {
        let found = [device(0, "CPU", "cpu"), device(1, "BLAS", "accelerator"), device(2, "CUDA0", "gpu")];
        // Naming the CPU keeps every layer on it, even with a number set and a GPU present.
        assert_eq!(placed("cpu", Some(12), &found), Ok((0, "CPU".into(), None)));
        assert_eq!(placed("BLAS", None, &found), Ok((0, "CPU".into(), None)));
        // A number set on a machine without a GPU offloads nothing, and says so.
        assert_eq!(placed("", Some(12), &found[..2]), Ok((0, "CPU".into(), None)));
    }

    #[test]
    fn an_unknown_device_is_refused_with_the_names_there_are() {
        let found = [device(0, "CPU", "cpu"), device(1, "Vulkan0", "gpu")];
        let error = placed("CUDA0", None, &found).unwrap_err();
        assert!(error.contains("\"CUDA0\"") && error.contains("it has: CPU, Vulkan0"), "{error}");
    }

    #[test]
    fn the_cpu_build_has_the_cpu_backend() {
        assert_eq!(built_backends()[0], "cpu");
    }
}

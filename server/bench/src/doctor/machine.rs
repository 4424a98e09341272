//! The machine: cores, SIMD features, memory, and the devices llama.cpp's backends enumerate.

use serde::Serialize;

use nib_engine::Device;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical cores this process may use.
    pub cores: usize,
    /// The SIMD extensions llama.cpp's CPU kernels use, those this CPU has.
    pub simd: Vec<&'static str>,
    /// From /proc/meminfo; `None` elsewhere.
    pub memory_total_bytes: Option<u64>,
    pub memory_available_bytes: Option<u64>,
    /// The backends this binary was built with ("cpu", "cuda", "vulkan", "metal").
    pub backends_built: Vec<&'static str>,
    pub devices: Vec<Device>,
}

impl Machine {
    pub fn probe() -> Machine {
        let (memory_total_bytes, memory_available_bytes) = nib_models::memory();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            simd: simd(),
            memory_total_bytes,
            memory_available_bytes,
            backends_built: nib_engine::built_backends(),
            devices: nib_engine::devices(),
        }
    }

    pub fn gpus(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(|d| d.is_gpu())
    }
}

#[cfg(target_arch = "x86_64")]
fn simd() -> Vec<&'static str> {
    let mut found = Vec::new();
    macro_rules! probe {
        ($($feature:tt),*) => {$(
            if std::arch::is_x86_feature_detected!($feature) {
                found.push($feature);
            }
        )*};
    }
    probe!("sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vnni", "avx512bf16");
    found
}

#[cfg(target_arch = "aarch64")]
fn simd() -> Vec<&'static str> {
    let mut found = Vec::new();
    macro_rules! probe {
        ($($feature:tt),*) => {$(
            if std::arch::is_aarch64_feature_detected!($feature) {
                found.push($feature);
            }
        )*};
    }
    probe!("neon", "dotprod", "i8mm", "sve");
    found
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd() -> Vec<&'static str> {
    Vec::new()
}

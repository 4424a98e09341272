//! The GPU path, on the one GPU this machine has: nib built with `--features vulkan` (`.ci/vulkan`, which `.ci/test`
//! passes here as `$NIB_VULKAN_BIN`) on Mesa's lavapipe, a CPU implementation of Vulkan. The doctor lists the
//! Vulkan device and the layers offloaded to it, `engine.n_gpu_layers` and `engine.device` place them, and greedy
//! completions are the CPU build's, word for word.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{fresh_home, isolated, model_path, nib, textwrap_with};

/// `nib` built with `--features vulkan`, isolated as the CPU one is, on lavapipe alone. ggml's Vulkan backend
/// leaves out devices of CPU type unless `GGML_VK_VISIBLE_DEVICES` names them (on a real machine the CPU backend is
/// faster than lavapipe); the Vulkan loader is pointed at lavapipe's driver only, so device 0 is lavapipe.
fn nib_vulkan(home: &Path) -> Command {
    let bin = std::env::var_os("NIB_VULKAN_BIN").filter(|v| !v.is_empty()).map(PathBuf::from);
    let bin = bin
        .expect("set $NIB_VULKAN_BIN to nib built with --features vulkan: `export NIB_VULKAN_BIN=$(bash .ci/vulkan)`");
    assert!(bin.exists(), "no nib at $NIB_VULKAN_BIN={}: run `bash .ci/vulkan`", bin.display());
    let driver = lavapipe_driver();
    let mut cmd = isolated(Command::new(bin), home);
    // VK_DRIVER_FILES for Vulkan loaders from 1.3.207, VK_ICD_FILENAMES for older ones (Debian 12 has 1.3.239).
    cmd.env("VK_DRIVER_FILES", &driver).env("VK_ICD_FILENAMES", &driver).env("GGML_VK_VISIBLE_DEVICES", "0");
    cmd
}

/// Mesa's lavapipe driver manifest (`lvp_icd.<arch>.json`), which `.ci/setup --editors` installs.
fn lavapipe_driver() -> PathBuf {
    let dir = Path::new("/usr/share/vulkan/icd.d");
    let found = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("lvp_icd.")));
    found.unwrap_or_else(|| panic!("no lavapipe in {}: apt-get install mesa-vulkan-drivers", dir.display()))
}

fn succeeded(out: Output) -> Output {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `nib doctor --json` of the Vulkan build with `config` as its config file.
fn doctor(config: &str) -> (Option<i32>, Value) {
    let home = fresh_home();
    std::fs::write(home.join("config.toml"), config).unwrap();
    let model = model_path();
    let out = nib_vulkan(&home)
        .env("NIB_CONFIG", home.join("config.toml"))
        .args(["doctor", "--json", "--model", model.to_str().unwrap()])
        .output()
        .expect("run the Vulkan build");
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

#[test]
fn vulkan_doctor_offloads_every_layer_to_lavapipe() {
    let (code, d) = doctor("");
    assert_eq!(code, Some(0), "{d}");
    assert_eq!(d["machine"]["backends_built"], serde_json::json!(["cpu", "vulkan"]));
    let devices = d["machine"]["devices"].as_array().unwrap();
    let vulkan = devices.iter().find(|dev| dev["backend"] == "Vulkan").expect("a Vulkan device");
    assert_eq!(vulkan["name"], "Vulkan0");
    // lavapipe is a Vulkan device of CPU type, which ggml reports as a GPU (not an integrated one).
    assert_eq!(vulkan["kind"], "gpu");
    assert!(vulkan["description"].as_str().unwrap().contains("llvmpipe"), "{vulkan}");
    let info = &d["model"]["info"];
    assert_eq!((info["n_gpu_layers"].as_u64(), info["n_layers"].as_u64()), (Some(30), Some(30)), "{info}");
    assert_eq!(info["device"], "Vulkan0");
    let m = &d["measurement"];
    for figure in ["prompt_tokens_per_s", "generation_tokens_per_s", "warm_ttft_ms_median", "cold_ttft_ms"] {
        assert!(m[figure].as_f64().unwrap() > 0.0, "{figure}: {m}");
    }
    let layers = d["recommendations"].as_array().unwrap().iter().find(|r| r["setting"] == "engine.n_gpu_layers");
    let layers = layers.expect("a recommendation about GPU layers");
    assert_eq!(layers["value"], "30", "{layers}");
    assert!(layers["why"].as_str().unwrap().contains("Vulkan0"), "{layers}");
}

#[test]
fn vulkan_engine_settings_place_the_layers() {
    // Some layers: the rest stay on the CPU.
    let (code, d) = doctor("[engine]\nn_gpu_layers = 10\n");
    assert_eq!(code, Some(0), "{d}");
    let info = &d["model"]["info"];
    assert_eq!((info["n_gpu_layers"].as_u64(), info["device"].as_str()), (Some(10), Some("Vulkan0")), "{info}");
    // The CPU named: nothing goes to the GPU, a number of layers notwithstanding.
    let (code, d) = doctor("[engine]\ndevice = \"CPU\"\nn_gpu_layers = 10\n");
    assert_eq!(code, Some(0), "{d}");
    let info = &d["model"]["info"];
    assert_eq!((info["n_gpu_layers"].as_u64(), info["device"].as_str()), (Some(0), Some("CPU")), "{info}");
    // A device this machine does not have: the model is not loaded, and the problem names the devices there are.
    let (code, d) = doctor("[engine]\ndevice = \"Vulkan7\"\n");
    assert_eq!(code, Some(1), "{d}");
    let problems = d["problems"].to_string();
    assert!(problems.contains("Vulkan7") && problems.contains("CPU, Vulkan0"), "{problems}");
}

#[test]
fn vulkan_completes_what_the_cpu_build_completes() {
    let dir = fresh_home();
    // A short prompt (the demo's), and a long one: textwrap.py fills the prompt budget, and the default model
    // writes lines there.
    let (text, line) = textwrap_with("        return self.");
    let textwrap = dir.join("textwrap.py");
    std::fs::write(&textwrap, text).unwrap();
    let sample = std::fs::canonicalize("../../tests/fixtures/sample.py").unwrap();
    let locations = [format!("{}:24:16", sample.display()), format!("{}:{}:21", textwrap.display(), line + 1)];
    let model = model_path();
    for location in &locations {
        let complete = |mut cmd: Command| {
            let out = succeeded(
                cmd.args(["complete", location, "--json", "--model", model.to_str().unwrap()]).output().unwrap(),
            );
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        };
        let cpu = complete(nib());
        let vulkan = complete(nib_vulkan(&fresh_home()));
        assert!(!cpu["text"].as_str().unwrap().trim().is_empty(), "{location}: {cpu}");
        assert_eq!(vulkan["text"], cpu["text"], "{location}");
        assert_eq!(vulkan["stats"]["n_prompt_tokens"], cpu["stats"]["n_prompt_tokens"], "{location}");
    }
}

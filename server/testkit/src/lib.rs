//! For tests only (a dev-dependency; `.ci/layers` keeps it out of the release binary): a real `llama-server`
//! started on a free loopback port (`llama_process.rs`), and a loopback proxy in front of it that forwards bytes
//! as they come or breaks them on purpose (`faults.rs`).

pub mod faults;
pub mod llama_process;

//! The real llama-server that the remote-engine tests run against (`bash .ci/setup --editors` builds it): it
//! starts on the default model and completes.

use nib_bench::llama_process::LlamaServer;
use nib_bench::llama_server::post_json;
use serde_json::json;

use crate::support::model_path;

#[test]
fn llama_server_starts_and_completes() {
    let server = LlamaServer::start(&model_path(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let answer = post_json(&server.url(), "/completion", &json!({"prompt": "def main():", "n_predict": 4}))
        .unwrap_or_else(|e| panic!("{e}\nits log ends:\n{}", server.log_tail()));
    let content = answer["content"].as_str().unwrap_or_default();
    assert!(!content.is_empty(), "{answer}\nits log ends:\n{}", server.log_tail());
}

//! The real llama-server that the remote-engine tests run against (`bash .ci/setup --editors` builds it): it
//! starts on the default model and completes, also through the fault proxy, which breaks it on demand.

use nib_bench::llama_server::{HttpError, complete};
use nib_testkit::faults::{Fault, FaultProxy};
use nib_testkit::llama_process::LlamaServer;
use serde_json::json;

use crate::support::model_path;

fn start() -> LlamaServer {
    LlamaServer::start(&model_path(), &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn llama_server_starts_and_completes() {
    let server = start();
    let answer = server
        .post_json("/completion", &json!({"prompt": "def main():", "n_predict": 4}))
        .unwrap_or_else(|e| panic!("{e}\nits log ends:\n{}", server.log_tail()));
    let content = answer["content"].as_str().unwrap_or_default();
    assert!(!content.is_empty(), "{answer}\nits log ends:\n{}", server.log_tail());
}

#[test]
fn llama_server_streams_through_the_fault_proxy_until_it_is_broken_and_after_it_heals() {
    let server = start();
    let proxy = FaultProxy::start(&server.url()).unwrap();
    let body = json!({"prompt": "def main():", "n_predict": 4, "stream": true});
    let streamed = complete(&proxy.url(), &body).unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    assert!(!streamed.content.is_empty(), "server-sent events pass through whole");
    proxy.set("/completion", Fault::Status(503));
    let error = complete(&proxy.url(), &body).unwrap_err();
    assert!(matches!(error, HttpError::Status { status: 503, .. }), "{error}");
    proxy.clear();
    assert!(!complete(&proxy.url(), &body).unwrap().content.is_empty());
    assert_eq!(proxy.requests("/completion"), 3);
}

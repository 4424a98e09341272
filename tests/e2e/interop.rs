//! What clients other than the tests' own send: `$/` requests, unknown methods, params spelled `{}`. Real
//! server, real model.

use nib::bench::lsp_client::LspClient;
use serde_json::{Value, json};

use crate::support::{init, model_path, serve, shut_down};

#[test]
fn every_request_gets_exactly_one_response() {
    let mut client = serve(&model_path());
    init(&mut client, json!({}));
    let mut expected: Vec<(Value, Option<i64>)> = Vec::new();
    let mut send = |client: &mut LspClient, id: Value, method: &str, params: Option<Value>, error: Option<i64>| {
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        client.send(&message).unwrap();
        expected.push((id, error));
    };
    // `$/` requests: the spec wants MethodNotFound, not silence; string ids too.
    send(&mut client, json!(101), "$/something", Some(json!({})), Some(-32601));
    send(&mut client, json!("s-102"), "$/setTrace", Some(json!({"value": "off"})), Some(-32601));
    send(&mut client, json!(103), "$/cancelRequest", Some(json!({"id": 1})), Some(-32601));
    // Unknown methods, and a notification sent as a request.
    send(&mut client, json!(104), "nib/nothingLikeThis", None, Some(-32601));
    send(&mut client, json!(105), "textDocument/unknown", Some(json!({})), Some(-32601));
    send(
        &mut client,
        json!(106),
        "textDocument/didSave",
        Some(json!({"textDocument": {"uri": "file:///x.py"}})),
        Some(-32600),
    );
    // nib/status takes no params, however a client says so; real params are refused.
    for (id, params) in [(107, Some(json!({}))), (108, Some(json!(null))), (109, None), (110, Some(json!([])))] {
        send(&mut client, json!(id), "nib/status", params, None);
    }
    send(&mut client, json!(111), "nib/status", Some(json!({"verbose": true})), Some(-32602));

    for (id, error) in &expected {
        let response =
            client.wait_for(&format!("the response to {id}"), |m| m["id"] == *id && m.get("method").is_none());
        let response = response.unwrap();
        match error {
            Some(code) => assert_eq!(response["error"]["code"], *code, "{response}"),
            None => assert_eq!(response["result"]["model"]["path"], json!(model_path()), "{response}"),
        }
    }
    // Anything still on its way arrives before the answer to a request sent after it.
    client.status().unwrap();
    let ids: Vec<&Value> = expected.iter().map(|(id, _)| id).collect();
    let extra: Vec<Value> = client.drain().into_iter().filter(|m| ids.contains(&&m["id"])).collect();
    assert!(extra.is_empty(), "answered twice: {extra:?}");
    shut_down(client);
}

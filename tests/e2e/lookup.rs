//! Prompt-lookup decoding (`engine.lookup_decoding`) changes how fast the text comes, never the text: greedy
//! generations on code that repeats, with it and without it, are the same, and its drafts were used.

use nib_bench::lookup::{generate, prompt};
use nib_engine::{Engine, EngineConfig, ModelState};
use nib_prompt::Template;

use crate::support::{fresh_home, model_path};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/lookup");

#[test]
#[ignore = "fails on this CPU build: a batch goes through llamafile's sgemm, one token through ggml's dot products, \
            and the difference carried in the KV cache flips a pick now and then (README, Lookup decoding); \
            lookup decoding ships off until llama.cpp is built without llamafile (GGML_LLAMAFILE=OFF)"]
fn greedy_text_is_the_same_with_lookup_decoding_and_without() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let start = |lookup_decoding| {
        let config = EngineConfig { lookup_decoding, n_threads_generate: 2, ..EngineConfig::default() };
        Engine::start(config, model_path(), fresh_home().join("snapshots"))
    };
    let (without, with) = (start(false), start(true));
    let ModelState::Ready { tokenizer, info } = runtime.block_on(with.ready()) else { panic!("the model loads") };
    assert!(matches!(runtime.block_on(without.ready()), ModelState::Ready { .. }));
    let template = Template::choose(None, tokenizer.as_ref(), &info.name).unwrap();
    let mut n_accepted = 0;
    for name in ["repeats.py", "repeats.rs", "fresh.py", "fresh.rs"] {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
        let tokens = prompt(tokenizer.as_ref(), &template, &text, 1536);
        // Twice: the second time the prompt comes from the KV cache, where the first run's rejected drafts were.
        // Each is compared with a plain run from the same state: a cold prompt's last token is evaluated in a
        // batch, a cached one's alone, which can change a near tie with lookup decoding or without.
        for run in 0..2 {
            let plain = runtime.block_on(generate(&without, tokens.clone(), 128)).unwrap();
            let drafted = runtime.block_on(generate(&with, tokens.clone(), 128)).unwrap();
            assert_eq!(drafted.text, plain.text, "{name}, run {run}: lookup decoding changed the text");
            assert_eq!(drafted.n_generated, plain.n_generated, "{name}");
            assert_eq!((plain.n_drafted, plain.n_draft_accepted), (0, 0), "{name}: drafted with it off");
            if name.starts_with("repeats") {
                n_accepted += drafted.n_draft_accepted;
            }
            assert!(plain.n_generated > 16, "{name}: a multi-line suggestion: {:?}", plain.text);
        }
    }
    assert!(n_accepted > 50, "code that repeats: the drafts were used ({n_accepted} tokens accepted)");
    for engine in [without, with] {
        runtime.block_on(engine.stop(std::time::Duration::from_secs(10)));
    }
}

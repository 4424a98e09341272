//! Token counts for prompts a server will run: the server's own tokenizer (`/tokenize`, remembered), a local
//! vocabulary-only GGUF the user names, or an estimate from characters.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;
use parking_lot::Mutex;
use serde_json::json;
use tokio::runtime::Handle;

use crate::TextGuard;
use crate::http::Server;
use nib_engine::Vocabulary;
use nib_vocab::{Special, TokenId, Tokenizer};

/// Characters per token of code, measured with the packaged models' vocabularies over nine Python standard
/// library files (`measure::chars_per_token`): on average 3.9 (SmolLM2) and 3.8 (Gemma 3), 3.5 and 3.4 on
/// the densest file. Counted 15 % short of the lowest, so an estimated prompt rarely outgrows the server's
/// context.
const CHARS_PER_TOKEN: f64 = 3.4 / 1.15;

/// Counts from characters; ids are (negative) hashes of the pieces, so different text gives different ids (the
/// completion cache keys prompts by them) and a common start gives a common start.
#[derive(Debug, Default)]
pub struct Estimate;

impl Estimate {
    fn tokens(text: &str, parse_special: bool) -> Vec<TokenId> {
        let mut tokens = Vec::with_capacity((text.len() as f64 / CHARS_PER_TOKEN) as usize + 1);
        let mut rest = text;
        let mut piece_chars = 0.0;
        let mut hash = FNV_OFFSET;
        while let Some(c) = rest.chars().next() {
            // `<|fim_prefix|>`-like control tokens are one token each.
            if let Some(tag) = control_tag(rest).filter(|_| parse_special && c == '<') {
                tokens.push(finish(fnv(FNV_OFFSET, tag.as_bytes())));
                rest = &rest[tag.len()..];
                continue;
            }
            let mut buf = [0u8; 4];
            hash = fnv(hash, c.encode_utf8(&mut buf).as_bytes());
            piece_chars += 1.0;
            if piece_chars >= CHARS_PER_TOKEN {
                tokens.push(finish(hash));
                (piece_chars, hash) = (piece_chars - CHARS_PER_TOKEN, FNV_OFFSET);
            }
            rest = &rest[c.len_utf8()..];
        }
        if piece_chars > 0.0 {
            tokens.push(finish(hash));
        }
        tokens
    }
}

/// A control token's spelling at the start of `text`: `<...>` of at most 32 bytes, no whitespace inside.
fn control_tag(text: &str) -> Option<&str> {
    let end = text
        .char_indices()
        .take_while(|&(i, _)| i < 32)
        .skip(1)
        .find(|&(_, c)| c == '>' || c.is_whitespace() || c == '<');
    match end {
        Some((i, '>')) if i > 1 => Some(&text[..=i]),
        _ => None,
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;

fn fnv(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// Negative, so that an estimate is never taken for a vocabulary's id: a prompt holding one goes to a server as
/// text (llama-server refuses ids it does not have).
fn finish(hash: u32) -> TokenId {
    -((hash >> 1) as TokenId) - 1
}

impl Tokenizer for Estimate {
    fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId> {
        Estimate::tokens(text, parse_special)
    }
    fn is_estimate(&self) -> bool {
        true
    }
}

impl Vocabulary for Estimate {
    fn chat(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

/// Stand-ins for llama-server's fill-in-the-middle tokens, whose ids it does not publish: prompts for it are
/// sent through `/infill`, which adds the real ones, so these only count.
const FIM_STAND_INS: [TokenId; 3] = [-0x100, -0x101, -0x102];

/// llama-server's tokenizer over HTTP. Answers are remembered (prompts repeat their labels, snippets and
/// lines); when the server cannot be asked, counts fall back to the estimate (the job fails anyway).
pub struct ServerVocabulary {
    server: Server,
    runtime: Handle,
    tokens: Mutex<LruCache<TokenizeKey, Arc<[TokenId]>>>,
    pieces: Mutex<LruCache<Vec<TokenId>, String>>,
    /// The last chat laid out: its system and user message, and the answer.
    chat: Mutex<Option<ChatLayout>>,
    bos: Option<TokenId>,
    fim: bool,
    guard: Option<TextGuard>,
    /// When the server last failed to answer.
    failed_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ServerVocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerVocabulary").field("server", &self.server).finish_non_exhaustive()
    }
}

/// A text and whether control tokens in it are parsed.
type TokenizeKey = (String, bool);
type ChatLayout = ((String, String), Option<String>);

/// A tokenizer's answer takes milliseconds; waiting longer means the server is in trouble.
const TOKENIZE_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failure, counts are estimated for this long before the server is asked again.
const ESTIMATE_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Texts remembered: a prompt's labels, snippets and windows for a few documents.
const REMEMBERED: usize = 512;
/// Longer texts (whole windows) are not worth remembering: the next keystroke changes them.
const REMEMBER_CHARS: usize = 2048;

impl ServerVocabulary {
    /// `bos` and `fim`: the model's; `guard`: what a text goes through before `/tokenize` sees it.
    pub fn new(
        server: Server,
        runtime: Handle,
        (bos, fim): (Option<TokenId>, bool),
        guard: Option<TextGuard>,
    ) -> ServerVocabulary {
        let n = NonZeroUsize::new(REMEMBERED).expect("non-zero");
        ServerVocabulary {
            server,
            runtime,
            tokens: Mutex::new(LruCache::new(n)),
            pieces: Mutex::new(LruCache::new(n)),
            chat: Mutex::new(None),
            bos,
            fim,
            guard,
            failed_at: Mutex::new(None),
        }
    }

    /// Runs `request` on the engine's runtime and waits for it: the tokenizer is called from plain threads
    /// and from async tasks alike, and the runtime's own threads do the waiting on the network. The wait is
    /// short, and after a failure the estimate answers at once for a while: a caller on an async thread must
    /// never wait on a server that stalls.
    fn ask(&self, path: &'static str, body: serde_json::Value) -> Option<serde_json::Value> {
        if self.failed_at.lock().is_some_and(|at| at.elapsed() < ESTIMATE_AFTER_FAILURE) {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let server = self.server.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(server.post(path, &body).await);
        });
        let answer = match rx.recv_timeout(self.server.timeout.min(TOKENIZE_TIMEOUT)) {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                tracing::debug!("{err}");
                None
            }
            Err(_) => None,
        };
        *self.failed_at.lock() = answer.is_none().then(Instant::now);
        answer
    }
}

impl Tokenizer for ServerVocabulary {
    fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId> {
        if text.is_empty() {
            return Vec::new();
        }
        let key = (text.to_owned(), parse_special);
        let hit = self.tokens.lock().get(&key).cloned();
        if let Some(hit) = hit {
            return hit.to_vec();
        }
        let content = self.guard.map_or_else(|| text.to_owned(), |guard| guard(text));
        let answer =
            self.ask("/tokenize", json!({"content": content, "add_special": false, "parse_special": parse_special}));
        let tokens: Option<Vec<TokenId>> = answer.and_then(|a| {
            a["tokens"].as_array().map(|t| t.iter().filter_map(|t| t.as_i64()).map(|t| t as TokenId).collect())
        });
        match tokens {
            Some(tokens) => {
                if text.len() <= REMEMBER_CHARS {
                    self.tokens.lock().put(key, tokens.as_slice().into());
                }
                tokens
            }
            None => Estimate::tokens(text, parse_special),
        }
    }

    fn special(&self, special: Special) -> Option<TokenId> {
        let i = match special {
            Special::FimPre => 0,
            Special::FimSuf => 1,
            Special::FimMid => 2,
        };
        self.fim.then_some(FIM_STAND_INS[i])
    }

    fn bos(&self) -> Option<TokenId> {
        self.bos
    }

    fn detokenize(&self, tokens: &[TokenId]) -> String {
        let real: Vec<TokenId> = tokens.iter().copied().filter(|t| !FIM_STAND_INS.contains(t)).collect();
        if real.is_empty() {
            return String::new();
        }
        let hit = self.pieces.lock().get(&real).cloned();
        if let Some(hit) = hit {
            return hit;
        }
        let text =
            self.ask("/detokenize", json!({"tokens": real})).and_then(|a| a["content"].as_str().map(str::to_owned));
        let text = text.unwrap_or_default();
        self.pieces.lock().put(real, text.clone());
        text
    }
}

impl Vocabulary for ServerVocabulary {
    /// The server's chat template (`/apply-template`); the review asks with the same system message each time.
    fn chat(&self, system: &str, user: &str) -> Option<String> {
        let key = (system.to_owned(), user.to_owned());
        let remembered = self.chat.lock().clone();
        if let Some((_, hit)) = remembered.filter(|(k, _)| *k == key) {
            return hit;
        }
        let messages = json!([{"role": "system", "content": system}, {"role": "user", "content": user}]);
        let prompt = self
            .ask("/apply-template", json!({"messages": messages}))
            .and_then(|a| a["prompt"].as_str().map(str::to_owned));
        *self.chat.lock() = Some((key, prompt.clone()));
        prompt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_counts_chars_with_a_margin_and_tags_as_one() {
        let code = "def parse(text):\n    return [line.split(',') for line in text.splitlines()]\n";
        let n = Estimate.tokenize(code, false).len();
        assert_eq!(n, (code.chars().count() as f64 / CHARS_PER_TOKEN).ceil() as usize);
        assert_eq!(Estimate.tokenize("<|fim_prefix|>", true).len(), 1);
        assert_eq!(Estimate.tokenize("<|fim_prefix|>", false).len(), 5);
        assert_eq!(Estimate.tokenize("a < b and c > d", true), Estimate.tokenize("a < b and c > d", false));
    }

    #[test]
    fn estimated_ids_follow_the_text() {
        let a = Estimate.tokenize("fn main() { println!(\"a\"); }", false);
        let b = Estimate.tokenize("fn main() { println!(\"b\"); }", false);
        assert_ne!(a, b);
        assert_eq!(a[..6], b[..6], "a common start gives common ids");
        assert!(a.iter().all(|&t| t < 0), "never a vocabulary's id");
    }
}

/// Measures `CHARS_PER_TOKEN`'s figures: `cargo test --release -p nib-remote -- --ignored chars_per_token --nocapture`.
#[cfg(test)]
mod measure {
    use nib_vocab::Tokenizer;

    #[test]
    #[ignore = "needs the packaged models; prints figures"]
    fn chars_per_token() {
        let models = std::env::var("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/nib/models")).unwrap();
        let files =
            ["textwrap", "shlex", "json/decoder", "csv", "fractions", "calendar", "difflib", "heapq", "argparse"];
        let texts: Vec<String> =
            files.iter().filter_map(|f| std::fs::read_to_string(format!("/usr/lib/python3.11/{f}.py")).ok()).collect();
        for model in ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"] {
            let Ok(vocab) = nib_engine::load_tokenizer(&models.join(model)) else { continue };
            let ratios: Vec<f64> =
                texts.iter().map(|t| t.chars().count() as f64 / vocab.tokenize(t, false).len() as f64).collect();
            let min = ratios.iter().cloned().fold(f64::MAX, f64::min);
            let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
            println!("{model}: {} files, chars per token mean {mean:.2}, lowest {min:.2}", ratios.len());
        }
    }
}

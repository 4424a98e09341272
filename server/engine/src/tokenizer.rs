//! The model's vocabulary as a `prompt::Tokenizer`, usable from any thread.

use std::sync::Arc;

use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use nib_vocab::{Special, TokenId, Tokenizer};

/// Shares the loaded model; llama.cpp's tokenizer only reads it.
pub struct ModelTokenizer {
    model: Arc<LlamaModel>,
}

impl std::fmt::Debug for ModelTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelTokenizer")
    }
}

impl ModelTokenizer {
    pub(super) fn new(model: Arc<LlamaModel>) -> ModelTokenizer {
        ModelTokenizer { model }
    }
}

impl crate::Vocabulary for ModelTokenizer {
    fn chat(&self, system: &str, user: &str) -> Option<String> {
        let template = self.model.chat_template(None).ok()?;
        let messages = [
            LlamaChatMessage::new("system".into(), system.into()).ok()?,
            LlamaChatMessage::new("user".into(), user.into()).ok()?,
        ];
        self.model.apply_chat_template(&template, &messages, true).ok()
    }
}

/// llama.cpp marks an absent special token as -1.
fn present(token: LlamaToken) -> Option<TokenId> {
    (token.0 >= 0).then_some(token.0)
}

impl Tokenizer for ModelTokenizer {
    fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId> {
        self.model.vocab().tokenize(text.as_bytes(), false, parse_special).into_iter().map(|t| t.0).collect()
    }

    fn special(&self, special: Special) -> Option<TokenId> {
        let vocab = self.model.vocab();
        present(match special {
            Special::FimPre => vocab.fim_pre(),
            Special::FimSuf => vocab.fim_suf(),
            Special::FimMid => vocab.fim_mid(),
        })
    }

    fn bos(&self) -> Option<TokenId> {
        let vocab = self.model.vocab();
        if vocab.should_add_bos() { present(vocab.bos()) } else { None }
    }

    fn detokenize(&self, tokens: &[TokenId]) -> String {
        let vocab = self.model.vocab();
        let mut bytes = Vec::new();
        for &token in tokens {
            vocab.token_to_piece_into(LlamaToken(token), &mut bytes, true, None);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

//! A model's vocabulary as the prompt builder sees it: token ids, the special
//! tokens a template asks for, and the tokenizer interface. Its own crate so
//! that prompts (pure) and the engine (llama.cpp) share it without depending
//! on each other.

/// A token id of the model's vocabulary.
pub type TokenId = i32;

/// A special token a template may ask for by the id the GGUF declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    FimPre,
    FimSuf,
    FimMid,
}

/// What the prompt builder needs from a model's vocabulary.
pub trait Tokenizer {
    /// Tokens of `text`, with no BOS/EOS added. `parse_special` lets `<|...|>` text become control tokens.
    fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId>;
    /// The id of a special token, if the model has it.
    fn special(&self, _special: Special) -> Option<TokenId> {
        None
    }
    /// The BOS token, if the model wants one at the start of a prompt.
    fn bos(&self) -> Option<TokenId> {
        None
    }
    /// The text of `tokens`, control tokens spelled out; empty where the vocabulary cannot tell.
    fn detokenize(&self, _tokens: &[TokenId]) -> String {
        String::new()
    }
    /// Counts are estimates (no vocabulary at hand): control tokens cannot be checked, only assumed.
    fn is_estimate(&self) -> bool {
        false
    }
}

//! A chat prompt's tokens, for the pipelines that ask a model in messages (review, model next edits).

use nib_engine::Vocabulary;
use nib_prompt::TokenId;

/// The tokens of `system` and `user` laid out by the model's chat template: the template's own text may hold
/// control tokens, the message never does. Without a template, plain text ending in `cue` (what the answer
/// starts with).
pub fn tokens(tokenizer: &dyn Vocabulary, system: &str, user: &str, cue: &str) -> Vec<TokenId> {
    const HOLE: &str = "\u{E000}nib-chat\u{E000}";
    let mut tokens: Vec<TokenId> = tokenizer.bos().into_iter().collect();
    match tokenizer.chat(system, HOLE).and_then(|t| t.split_once(HOLE).map(|(a, b)| (a.to_owned(), b.to_owned()))) {
        Some((before, after)) => {
            tokens.extend(tokenizer.tokenize(&before, true));
            tokens.extend(tokenizer.tokenize(user, false));
            tokens.extend(tokenizer.tokenize(&after, true));
        }
        None => tokens.extend(tokenizer.tokenize(&format!("{system}\n\n{user}\n\n{cue}"), false)),
    }
    tokens
}

//! A request's prompt: the model's template, the window around the cursor within the budget, the context beside
//! it and the plugins' `prompt` hooks; built off the async threads.

use std::sync::Arc;

use super::site::Site;
use super::{Completer, CompletionError, Request, Trigger};
use crate::config::ContextMode;
use crate::plugins;
use nib_engine::{EngineError, ModelState, Vocabulary};
use nib_plugins::{Hook, Plugins};
use nib_prompt::context::{self, Context, Workspace};
use nib_prompt::{self as prompt, Budget, Prompt, Template, TemplateError, Tokenizer};

impl Completer {
    /// The template for this model: configured, or chosen from its tokens and name; prefix-only in `prefix` mode.
    pub(super) fn template(&self, tokenizer: &dyn Vocabulary, model_name: &str) -> Result<Template, TemplateError> {
        let config = self.config();
        if config.context == ContextMode::Prefix {
            return Ok(Template::prefix_only());
        }
        let choose = || Template::choose(config.template.as_deref(), tokenizer, model_name);
        self.template.lock().get_or_insert_with(choose).clone()
    }

    /// The prompt and site of `request`, as `complete` would build them.
    pub(super) async fn basis(&self, request: Request<'_>) -> Result<(Prompt, Site), CompletionError> {
        let (model_name, tokenizer) = self.model().await?;
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        Ok((self.prompt(&tokenizer, &template, request).await?, self.site(request)))
    }

    /// The prompt's budget; context gets its share only in `full` mode. While the user types, a suffix that
    /// follows the prefix is kept short: each keystroke evaluates it again.
    pub fn budget(&self, trigger: Trigger, template: &Template) -> Budget {
        let config = self.config();
        let full = config.context == ContextMode::Full;
        let typing = trigger == Trigger::Automatic && template.suffix_follows_prefix();
        Budget {
            n_tokens: config.n_prompt_tokens as usize,
            suffix_percent: config.suffix_percent as usize,
            n_suffix_max: if typing { config.typing_suffix_tokens as usize } else { usize::MAX },
            n_context_tokens: if full { config.context_tokens as usize } else { 0 },
        }
    }

    /// The loaded model's name and tokenizer, once it is ready.
    pub(super) async fn model(&self) -> Result<(String, Arc<dyn Vocabulary>), CompletionError> {
        match self.engine.ready().await {
            ModelState::Ready { info, tokenizer } => Ok((info.name, tokenizer)),
            ModelState::Failed(message) => Err(CompletionError::ModelUnavailable(message)),
            ModelState::Loading => Err(CompletionError::ModelUnavailable("the model is still loading".into())),
        }
    }

    /// The prompt a request would send, as text: for seeing what the model sees.
    pub async fn prompt_text(&self, request: Request<'_>) -> Result<String, CompletionError> {
        let (model_name, tokenizer) = self.model().await?;
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        Ok(prompt.text.text)
    }

    /// Builds the prompt off the async threads: tokenizing a window and gathering context is CPU work.
    /// While the user types, the window keeps the start of the document's previous prompt where it can (a jump
    /// then costs no evaluation); a request that waits for its answer gets the whole window.
    pub(super) async fn prompt(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'_>,
    ) -> Result<Prompt, CompletionError> {
        let budget = self.budget(request.trigger, template);
        self.prompt_in(tokenizer, template, request, budget, request.document).await
    }

    /// `prompt` within `budget`, its window held where the last one for `window` (a KV sequence) started.
    pub(super) async fn prompt_in(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'_>,
        budget: Budget,
        window: Option<&str>,
    ) -> Result<Prompt, CompletionError> {
        let hold = match (request.trigger, window) {
            (Trigger::Automatic, Some(window)) => self.with_cache(|c| c.window_start(window)),
            _ => None,
        };
        let (tokenizer, template, workspace) = (tokenizer.clone(), template.clone(), self.workspace.clone());
        let plugins = self.plugins.clone();
        let (rope, cursor, trigger) = (request.rope.clone(), request.cursor, request.trigger);
        let (key, syntax) = (request.document.map(str::to_owned), request.syntax.cloned());
        let (prompt, start_line) = tokio::task::spawn_blocking(move || {
            let request = Request { rope: &rope, cursor, document: key.as_deref(), syntax: syntax.as_ref(), trigger };
            let prompt = build_prompt(tokenizer.as_ref(), &template, &workspace, &plugins, request, budget, hold)?;
            let start_line = rope.char_to_line(prompt.prefix_start.min(rope.len_chars()));
            Ok::<_, CompletionError>((prompt, start_line))
        })
        .await
        .map_err(|e| EngineError::Panicked(e.to_string()))??;
        tracing::debug!(?hold, start_line, n_prompt = prompt.tokens.len(), "prompt built");
        if let Some(window) = window {
            self.with_cache(|c| c.set_window_start(window, start_line));
        }
        Ok(prompt)
    }
}

/// The window around the cursor, the context that fits beside it (when the budget has room for
/// context and the request names its document), as the plugins' `prompt` hooks leave them, and the template
/// around both. CPU work, and plugins may take their deadline: keep it off the async threads.
pub fn build_prompt(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    workspace: &Workspace,
    plugins: &Plugins,
    request: Request<'_>,
    budget: Budget,
    hold: Option<usize>,
) -> Result<Prompt, CompletionError> {
    let (rope, cursor) = (request.rope, request.cursor.min(request.rope.len_chars()));
    let mut window = prompt::window(tokenizer, template, rope, cursor, budget, hold)?;
    let mut context = match request.document {
        Some(key) if budget.n_context_tokens > 0 => workspace.gather(&context::Request {
            key,
            rope,
            syntax: request.syntax,
            cursor,
            window: window.prefix_start..window.suffix_end,
        }),
        _ => Context::default(),
    };
    if plugins.handles(Hook::Prompt) {
        let file = plugins::file_info(request.document.map(|d| workspace.label(d)).unwrap_or_default(), request.syntax);
        plugins::completion_prompt(plugins, tokenizer, file, &mut window, &mut context)?;
    }
    Ok(prompt::assemble(tokenizer, template, window, &context, budget))
}

//! Recommendations from what the doctor found and measured: each with the figure behind it. Pure, so the rules
//! are tested without a model.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The setting, as the config file spells it ("engine.n_threads").
    pub setting: String,
    /// The recommended value, as TOML.
    pub value: String,
    /// Why, with the figure behind it.
    pub why: String,
}

/// What the recommendations are drawn from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub cores: usize,
    pub n_params: u64,
    pub n_layers: u32,
    pub n_ctx_train: u32,
    pub has_fim_tokens: bool,
    /// A GPU device is present, and whether this build can use it.
    pub gpu: Option<String>,
    pub gpu_backend_built: bool,
    pub max_tokens: u32,
    pub review_max_tokens: u32,
    pub prompt_tokens_per_s: f64,
    pub generation_tokens_per_s: f64,
    pub warm_ttft_ms: f64,
}

/// A cold prompt should take about this long: a user waits for it once per file.
const COLD_PROMPT_S: f64 = 1.0;
/// Below this many parameters a model writes no useful review (nib eval review on the 135M default: nothing).
const REVIEW_MIN_PARAMS: u64 = 1_000_000_000;
/// Context beside the window gained no accuracy with the small models measured (`nib eval`).
const CONTEXT_MIN_PARAMS: u64 = 1_000_000_000;

pub fn recommend(f: &Facts) -> Vec<Recommendation> {
    let rec = |setting: &str, value: String, why: String| Recommendation { setting: setting.into(), value, why };
    let mut out = Vec::new();
    out.push(rec(
        "engine.n_threads",
        f.cores.to_string(),
        format!("{} cores: prompt evaluation is arithmetic and scales with them", f.cores),
    ));
    out.push(rec(
        "engine.n_threads_generate",
        (f.cores / 2).max(1).to_string(),
        format!("half of {} cores: generation is bound by memory, and more threads wait on each other", f.cores),
    ));
    let budget = prompt_budget(f);
    out.push(rec(
        "completion.n_prompt_tokens",
        budget.to_string(),
        format!(
            "prompts evaluate at {:.0} tokens/s: {budget} tokens take about {:.1} s cold",
            f.prompt_tokens_per_s,
            budget as f64 / f.prompt_tokens_per_s.max(1.0)
        ),
    ));
    let n_ctx = (budget + f.max_tokens).div_ceil(256) * 256;
    let n_ctx = if f.n_ctx_train > 0 { n_ctx.min(f.n_ctx_train) } else { n_ctx };
    out.push(rec(
        "engine.n_ctx",
        n_ctx.to_string(),
        format!(
            "the prompt budget ({budget}) plus {} generated tokens; the model was trained with {}",
            f.max_tokens, f.n_ctx_train
        ),
    ));
    let (mode, why) = if f.n_params < CONTEXT_MIN_PARAMS {
        (
            "window",
            format!(
                "{} parameters: context from other files gained small models no accuracy and costs KV reuse",
                millions(f.n_params)
            ),
        )
    } else if !f.has_fim_tokens {
        ("window", "no FIM tokens: the model cannot tell context from the code it completes".to_owned())
    } else {
        ("full", format!("{} parameters and FIM tokens: definitions and recent code help", millions(f.n_params)))
    };
    out.push(rec("completion.context", format!("\"{mode}\""), why));
    // A keystroke's warm answer, plus a short line at the measured speed, with room for a busy machine.
    let line_ms = 16.0 / f.generation_tokens_per_s.max(1.0) * 1000.0;
    let deadline = ((f.warm_ttft_ms + line_ms) * 2.0 / 100.0).ceil().max(5.0) as u64 * 100;
    out.push(rec(
        "completion.deadline_ms",
        deadline.to_string(),
        format!(
            "a warm keystroke answers in {:.0} ms and 16 tokens take {:.0} ms ({:.0} tokens/s); twice that",
            f.warm_ttft_ms, line_ms, f.generation_tokens_per_s
        ),
    ));
    let (layers, why) = match (&f.gpu, f.gpu_backend_built) {
        (Some(gpu), true) => (f.n_layers.to_string(), format!("all {} layers fit on {gpu}", f.n_layers)),
        (Some(gpu), false) => (
            "0".to_owned(),
            format!("{gpu} is present but this build has no GPU backend: rebuild with --features cuda or vulkan"),
        ),
        (None, _) => ("0".to_owned(), "no GPU device: every layer runs on the CPU".to_owned()),
    };
    out.push(rec("engine.n_gpu_layers", layers, why));
    let unit_s = f.review_max_tokens as f64 / f.generation_tokens_per_s.max(1.0);
    let (on, why) = if f.n_params < REVIEW_MIN_PARAMS {
        (
            false,
            format!(
                "{} parameters: a model under 1B finds no real defects (it repeats the code or invents rules); \
                 bring a 1B+ code model",
                millions(f.n_params)
            ),
        )
    } else {
        (
            unit_s < 30.0,
            format!(
                "a unit's answer ({} tokens) takes {unit_s:.0} s at {:.0} tokens/s",
                f.review_max_tokens, f.generation_tokens_per_s
            ),
        )
    };
    out.push(rec("review.on_save", on.to_string(), why));
    out
}

/// What a cold prompt evaluates in about a second, in steps of 256, between 512 and what fits the context.
fn prompt_budget(f: &Facts) -> u32 {
    let fits = if f.n_ctx_train > 0 { f.n_ctx_train.saturating_sub(f.max_tokens) } else { u32::MAX };
    let budget = (f.prompt_tokens_per_s * COLD_PROMPT_S / 256.0).floor() as u32 * 256;
    budget.clamp(512, fits.max(512)).min(8192)
}

fn millions(n: u64) -> String {
    if n >= 1_000_000_000 { format!("{:.1}B", n as f64 / 1e9) } else { format!("{}M", n / 1_000_000) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            cores: 2,
            n_params: 134_515_008,
            n_layers: 30,
            n_ctx_train: 8192,
            max_tokens: 64,
            review_max_tokens: 384,
            prompt_tokens_per_s: 900.0,
            generation_tokens_per_s: 80.0,
            warm_ttft_ms: 40.0,
            ..Facts::default()
        }
    }

    fn find<'a>(recs: &'a [Recommendation], setting: &str) -> &'a Recommendation {
        recs.iter().find(|r| r.setting == setting).expect(setting)
    }

    #[test]
    fn a_small_model_gets_no_review_on_save() {
        let recs = recommend(&facts());
        let review = find(&recs, "review.on_save");
        assert_eq!(review.value, "false");
        assert!(review.why.contains("134M"), "{}", review.why);
    }

    #[test]
    fn the_prompt_budget_follows_the_measured_speed() {
        let recs = recommend(&facts());
        assert_eq!(find(&recs, "completion.n_prompt_tokens").value, "768");
        assert_eq!(find(&recs, "engine.n_ctx").value, "1024");
        let fast = recommend(&Facts { prompt_tokens_per_s: 100_000.0, n_ctx_train: 2048, ..facts() });
        assert_eq!(find(&fast, "completion.n_prompt_tokens").value, "1984");
        assert_eq!(find(&fast, "engine.n_ctx").value, "2048");
    }

    #[test]
    fn a_gpu_without_its_backend_says_rebuild() {
        let recs = recommend(&Facts { gpu: Some("CUDA0".into()), ..facts() });
        let layers = find(&recs, "engine.n_gpu_layers");
        assert_eq!(layers.value, "0");
        assert!(layers.why.contains("rebuild"));
        let built = recommend(&Facts { gpu: Some("CUDA0".into()), gpu_backend_built: true, ..facts() });
        assert_eq!(find(&built, "engine.n_gpu_layers").value, "30");
    }

    #[test]
    fn the_deadline_covers_a_warm_keystroke_and_a_line() {
        // (40 + 200) * 2 = 480, at least 500.
        assert_eq!(find(&recommend(&facts()), "completion.deadline_ms").value, "500");
    }
}

//! Recommendations from what the doctor found and measured: each with the figure behind it. Pure, so the rules
//! are tested without a model.

use serde::Serialize;

use nib_pipeline::config::CompletionConfig;

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
    /// The configured `completion.deadline_ms`: how long an automatic request waits for its answer.
    pub deadline_ms: u64,
    pub review_max_tokens: u32,
    pub prompt_tokens_per_s: f64,
    pub generation_tokens_per_s: f64,
    pub warm_ttft_ms: f64,
}

/// A budget above the default is recommended only when a cold prompt of it takes about this long: a user waits
/// for it once per file, and no measurement says a longer window scores better still.
const COLD_PROMPT_S: f64 = 1.0;
/// The smallest budget recommended, however slow the machine.
const MIN_PROMPT_TOKENS: u32 = 512;
/// Edit similarity by prompt budget, explicit requests on the default model (SmolLM2, `window` prompt): `nib eval`
/// on 112 held-out positions of 14 standard-library files, seeds 1 and 2 (README, "What makes typing and jumps
/// fast"). Shorter prompts lose quality, so latency alone must not cut the budget.
const QUALITY: &[(u32, f64)] = &[(384, 34.5), (768, 37.0), (1536, 39.4)];
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
    let (budget, why) = prompt_budget(f);
    out.push(rec("completion.n_prompt_tokens", budget.to_string(), why));
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
    // A keystroke's warm answer, plus a short line at the measured speed, with room for a busy machine; and at
    // least a cold prompt of the recommended budget, else typing after a jump answers empty until it is in
    // (`nib bench replay`: 66 empty answers with a 1 s deadline, 13 with 4 s).
    let line_ms = 16.0 / f.generation_tokens_per_s.max(1.0) * 1000.0;
    let warm_ms = (f.warm_ttft_ms + line_ms) * 2.0;
    let cold_ms = cold_s(budget, f) * 1000.0;
    let deadline = (warm_ms.max(cold_ms) / 100.0).ceil().max(5.0) as u64 * 100;
    let why = if cold_ms > warm_ms {
        format!(
            "a cold prompt of {budget} tokens takes about {cold_ms:.0} ms at {:.0} tokens/s: a shorter deadline \
             answers typing after a jump empty until it is in",
            f.prompt_tokens_per_s
        )
    } else {
        format!(
            "a warm keystroke answers in {:.0} ms and 16 tokens take {line_ms:.0} ms ({:.0} tokens/s); twice that",
            f.warm_ttft_ms, f.generation_tokens_per_s
        )
    };
    out.push(rec("completion.deadline_ms", deadline.to_string(), why));
    let (layers, why) = match (&f.gpu, f.gpu_backend_built) {
        (Some(gpu), true) => (f.n_layers.to_string(), format!("all {} layers fit on {gpu}", f.n_layers)),
        (Some(gpu), false) => (
            "0".to_owned(),
            format!("{gpu} is present but this build has no GPU backend: rebuild with --features cuda or vulkan"),
        ),
        (None, true) => (
            "0".to_owned(),
            "this build has a GPU backend but found no GPU: every layer runs on the CPU (a Vulkan build leaves out \
             devices of CPU type, such as Mesa's lavapipe, unless GGML_VK_VISIBLE_DEVICES names them)"
                .to_owned(),
        ),
        (None, false) => ("0".to_owned(), "no GPU device: every layer runs on the CPU".to_owned()),
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

/// The prompt budget, weighing quality against latency: the default (the measured best) unless a cold prompt of
/// it cannot be evaluated within the configured deadline, then what can, in steps of 256 (at least 512); more
/// than the default when the machine evaluates it in about a second. Never more than fits the context.
fn prompt_budget(f: &Facts) -> (u32, String) {
    let default = CompletionConfig::default().n_prompt_tokens;
    let fits = if f.n_ctx_train > 0 { f.n_ctx_train.saturating_sub(f.max_tokens) } else { u32::MAX };
    let fits = fits.max(MIN_PROMPT_TOKENS);
    let rate = f.prompt_tokens_per_s.max(1.0);
    let deadline_s = f.deadline_ms as f64 / 1000.0;
    let steps = |seconds: f64| (rate * seconds / 256.0).floor() as u32 * 256;
    let speed = format!("prompts evaluate at {:.0} tokens/s", f.prompt_tokens_per_s);
    let default_s = cold_s(default, f);
    if default_s > deadline_s {
        let budget = steps(deadline_s).clamp(MIN_PROMPT_TOKENS, fits).min(default);
        let why = format!(
            "{speed}: {default} tokens would take {default_s:.1} s cold, past the {} ms deadline; {budget} take \
             {:.1} s, at a cost: {}",
            f.deadline_ms,
            cold_s(budget, f),
            quality_cost(budget, default)
        );
        return (budget, why);
    }
    let faster = steps(COLD_PROMPT_S).min(8192).min(fits);
    if faster > default {
        // Unmeasured above the default, but every measured step up scored better.
        let why = format!(
            "{speed}: {faster} tokens take about {:.1} s cold; longer windows scored better up to the {} measured: {}",
            cold_s(faster, f),
            thousands(default),
            quality_cost(QUALITY[0].0, default)
        );
        return (faster, why);
    }
    let budget = default.min(fits);
    let why = format!(
        "{speed}: {budget} tokens take about {:.1} s cold, within the {} ms deadline; a shorter budget loses \
         quality: {}",
        cold_s(budget, f),
        f.deadline_ms,
        quality_cost(QUALITY[0].0, default)
    );
    (budget, why)
}

/// Seconds a cold prompt of `n_tokens` takes at the measured rate.
fn cold_s(n_tokens: u32, f: &Facts) -> f64 {
    n_tokens as f64 / f.prompt_tokens_per_s.max(1.0)
}

/// The measured edit similarity of the largest measured budget at or below `budget` against `default`'s, with
/// where the figures come from.
fn quality_cost(budget: u32, default: u32) -> String {
    let score = |n: u32| QUALITY.iter().rev().find(|(at, _)| *at <= n).copied();
    match (score(budget), score(default)) {
        (Some((at, low)), Some((best_at, best))) if at < best_at => format!(
            "a {at}-token budget scored {low:.1} % edit similarity against {best:.1} % at {} (nib eval, SmolLM2, \
             112 positions)",
            thousands(best_at)
        ),
        _ => "shorter prompts scored lower edit similarity in nib eval".to_owned(),
    }
}

/// 1536 as "1,536", as the README writes figures.
fn thousands(n: u32) -> String {
    if n >= 1000 { format!("{},{:03}", n / 1000, n % 1000) } else { n.to_string() }
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
            deadline_ms: 4000,
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
    fn the_default_budget_stays_while_its_cold_prompt_meets_the_deadline() {
        // 900 tokens/s would evaluate only 768 tokens in a second, but 1536 take 1.7 s, within 4 s: quality wins.
        let recs = recommend(&facts());
        let budget = find(&recs, "completion.n_prompt_tokens");
        assert_eq!(budget.value, "1536");
        assert!(budget.why.contains("34.5 % edit similarity against 39.4 % at 1,536"), "{}", budget.why);
        assert_eq!(find(&recs, "engine.n_ctx").value, "1792");
        // The README's machine: 1536 tokens at 391 tokens/s take 3.9 s, still within the default deadline.
        let readme = recommend(&Facts { prompt_tokens_per_s: 391.0, ..facts() });
        assert_eq!(find(&readme, "completion.n_prompt_tokens").value, "1536");
        assert_eq!(find(&readme, "completion.deadline_ms").value, "4000");
    }

    #[test]
    fn a_machine_too_slow_for_the_deadline_cuts_the_budget_and_says_what_it_costs() {
        let recs = recommend(&Facts { prompt_tokens_per_s: 200.0, ..facts() });
        let budget = find(&recs, "completion.n_prompt_tokens");
        // 1536 tokens take 7.7 s; 768 take 3.8 s.
        assert_eq!(budget.value, "768");
        assert!(budget.why.contains("7.7 s cold, past the 4000 ms deadline"), "{}", budget.why);
        assert!(budget.why.contains("37.0 % edit similarity against 39.4 %"), "{}", budget.why);
        assert_eq!(find(&recs, "completion.deadline_ms").value, "3900");
        // However slow, never below 512 tokens.
        let crawl = recommend(&Facts { prompt_tokens_per_s: 20.0, ..facts() });
        assert_eq!(find(&crawl, "completion.n_prompt_tokens").value, "512");
    }

    #[test]
    fn a_fast_machine_gets_more_than_the_default_up_to_the_context() {
        let fast = recommend(&Facts { prompt_tokens_per_s: 100_000.0, n_ctx_train: 2048, ..facts() });
        let budget = find(&fast, "completion.n_prompt_tokens");
        assert_eq!(budget.value, "1984");
        assert!(budget.why.contains("up to the 1,536 measured"), "{}", budget.why);
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
    fn a_gpu_build_without_a_gpu_names_the_hidden_cpu_devices() {
        let recs = recommend(&Facts { gpu_backend_built: true, ..facts() });
        let layers = find(&recs, "engine.n_gpu_layers");
        assert_eq!(layers.value, "0");
        assert!(layers.why.contains("GGML_VK_VISIBLE_DEVICES"), "{}", layers.why);
    }

    #[test]
    fn the_deadline_covers_a_warm_keystroke_and_a_line_and_a_cold_prompt() {
        // A cold prompt of 1536 tokens at 900 tokens/s: 1,707 ms, more than (40 + 200) * 2 = 480.
        let recs = recommend(&facts());
        assert_eq!(find(&recs, "completion.deadline_ms").value, "1800");
        // Fast prompts: (40 + 200) * 2 = 480, at least 500.
        let fast = recommend(&Facts { prompt_tokens_per_s: 100_000.0, n_ctx_train: 2048, ..facts() });
        let deadline = find(&fast, "completion.deadline_ms");
        assert_eq!(deadline.value, "500");
        assert!(deadline.why.contains("warm keystroke"), "{}", deadline.why);
    }
}

//! The host against real plugin processes (`plugin.py`, one behaviour per mode): what a plugin edits arrives,
//! and one that crashes, hangs or writes garbage is skipped, reported and started again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nib_plugins::{
    FileInfo, Finding, PluginConfig, PluginState, PluginStatus, Plugins, PromptParts, Setting, SuggestionParams,
};

fn plugins(mode: &str, timeout_ms: u64) -> Plugins {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/plugin.py");
    let config = PluginConfig {
        name: mode.into(),
        command: vec!["python3".into(), script.display().to_string(), mode.into()],
        timeout_ms,
        ..PluginConfig::default()
    };
    Plugins::start(&[config], &Setting::default())
}

fn status(plugins: &Plugins) -> PluginStatus {
    plugins.status().remove(0)
}

/// Waits until the plugin is in `state`.
fn wait_for(plugins: &Plugins, state: PluginState) -> PluginStatus {
    let started = Instant::now();
    loop {
        let status = status(plugins);
        if status.state == state {
            return status;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "never {state:?}: {status:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn suggestion(text: &str) -> SuggestionParams {
    SuggestionParams {
        file: FileInfo { path: "a.py".into(), language: "python".into() },
        line: 3,
        column: 4,
        text: text.into(),
    }
}

#[test]
fn a_plugin_edits_the_suggestion_the_prompt_and_the_finding() {
    let plugins = plugins("upper", 2000);
    wait_for(&plugins, PluginState::Running);
    assert_eq!(plugins.suggestion(suggestion("return x")).as_deref(), Some("RETURN X"));
    let mut parts = PromptParts { prefix: "def f():".into(), suffix: "pass".into(), ..PromptParts::default() };
    plugins.prompt(&mut parts).unwrap();
    assert_eq!((parts.prefix.as_str(), parts.suffix.as_str()), ("DEF F():", "pass"));
    let finding = Finding { rule: "unused".into(), severity: "info".into(), message: "m".into(), ..Finding::default() };
    let edited = plugins.finding(&FileInfo::default(), finding).unwrap();
    assert_eq!((edited.message.as_str(), edited.severity.as_str()), ("m\n\nhouse rule unused", "warning"));
    let status = status(&plugins);
    assert!(status.n_calls == 3 && status.n_failures == 0, "{status:?}");
    plugins.stop();
    assert_eq!(self::status(&plugins).state, PluginState::Stopped);
}

#[test]
fn a_plugin_drops_a_suggestion_and_refuses_a_prompt() {
    let drop = plugins("drop", 2000);
    wait_for(&drop, PluginState::Running);
    assert_eq!(drop.suggestion(suggestion("x = 1")), None);
    let refuse = plugins("refuse", 2000);
    while status(&refuse).state != PluginState::Running {
        std::thread::sleep(Duration::from_millis(20));
    }
    let refusal = refuse.prompt(&mut PromptParts::default()).unwrap_err();
    assert_eq!((refusal.plugin.as_str(), refusal.reason.as_str()), ("refuse", "not this file"));
}

/// A misbehaving plugin: the call goes on without it within its deadline, the failure is reported, and the
/// plugin is started again after a back-off.
fn skipped_reported_and_restarted(mode: &str, expected_error: &str) {
    let plugins = plugins(mode, 100);
    wait_for(&plugins, PluginState::Running);
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(plugins.suggestion(suggestion("kept")).as_deref(), Some("kept"));
    }
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    let status = status(&plugins);
    assert!(status.n_failures >= 1 && status.n_restarts >= 1, "{status:?}");
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains(expected_error), "{error}");
    // Skipped at once while it waits out the back-off.
    let skipped = Instant::now();
    plugins.suggestion(suggestion("kept"));
    assert!(skipped.elapsed() < Duration::from_millis(50), "{:?}", skipped.elapsed());
    wait_for(&plugins, PluginState::Running);
}

#[test]
fn a_plugin_that_crashes_is_skipped_reported_and_restarted() {
    skipped_reported_and_restarted("crash", "exited");
}

#[test]
fn a_plugin_that_hangs_is_skipped_reported_and_restarted() {
    skipped_reported_and_restarted("hang", "missed its deadline (100 ms)");
}

#[test]
fn a_plugin_that_writes_garbage_is_skipped_reported_and_restarted() {
    skipped_reported_and_restarted("garbage", "sent garbage");
}

#[test]
fn a_plugin_that_cannot_start_is_reported() {
    let config =
        PluginConfig { name: "missing".into(), command: vec!["/nonexistent/plugin".into()], ..PluginConfig::default() };
    let plugins = Plugins::start(&[config], &Setting::default());
    let started = Instant::now();
    let reported = loop {
        let now = status(&plugins);
        if now.state == PluginState::Restarting {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{now:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(reported.last_error.unwrap_or_default().contains("cannot start: /nonexistent/plugin"));
    assert_eq!(plugins.suggestion(suggestion("kept")).as_deref(), Some("kept"));
    let unknown =
        Plugins::start(&[PluginConfig { name: "nope".into(), ..PluginConfig::default() }], &Setting::default());
    assert_eq!(status(&unknown).state, PluginState::Failed);
}

//! The sync client's settings: a TOML file in the user's config folder.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const API_TOKEN: &str = "sk_live_51HvQ2xKp9mZ3rT8wYbN4cJd";

#[derive(Debug, Deserialize)]
pub struct Settings {
    pub server: String,
    pub folder: PathBuf,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub token: Option<String>,
}

fn default_interval() -> u64 {
    300
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings in {0}: {1}")]
    Invalid(PathBuf, toml::de::Error),
    #[error("the interval must be at least 10 seconds")]
    IntervalTooShort,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = fs::read_to_string(path).unwrap();
        let settings: Settings = toml::from_str(&text).map_err(|e| SettingsError::Invalid(path.to_owned(), e))?;
        if settings.interval_secs < 10 {
            return Err(SettingsError::IntervalTooShort);
        }
        Ok(settings)
    }

    /// The token to send: the user's own, else the shared one.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or(API_TOKEN)
    }

    pub fn is_excluded(&self, relative: &str) -> bool {
        self.exclude.iter().any(|prefix| relative.starts_with(prefix.as_str()))
    }
}

pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("sync/settings.toml"))
}

//! The parts of an image configuration (the config blob a manifest names) that a scan reports.
//! <https://github.com/opencontainers/image-spec/blob/main/config.md>

use serde::Deserialize;

/// The parts of an image configuration a scan reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default)]
    pub config: Option<RunConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    /// `WORKDIR`.
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    /// `EXPOSE`: `8080/tcp` and the like (the values are empty objects).
    #[serde(rename = "ExposedPorts", default, deserialize_with = "keys")]
    pub exposed_ports: Vec<String>,
    /// `ENV`: `NAME=value` entries (null or absent: none).
    #[serde(rename = "Env", default, deserialize_with = "strings")]
    pub env: Vec<String>,
}

impl RunConfig {
    /// The value of the environment variable `name`, the last entry winning.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }
}

/// A list of strings (null or absent: none).
fn strings<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let list: Option<Vec<String>> = Deserialize::deserialize(deserializer)?;
    Ok(list.unwrap_or_default())
}

/// The keys of a JSON object (null or absent: none).
fn keys<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let map: Option<std::collections::BTreeMap<String, serde_json::Value>> =
        Deserialize::deserialize(deserializer)?;
    Ok(map.map(|m| m.into_keys().collect()).unwrap_or_default())
}

//! Dry-run answers remembered per object, so that a refresh in which nothing changed asks the
//! cluster nothing.
//!
//! A server-side-apply dry run's answer is a function of what is applied (the desired object,
//! by bosun's field manager) and of the live object it is applied to. While the desired object
//! hashes the same and the live object keeps its resourceVersion (any write to it, status
//! included, changes that), the answer is the same, and asking again would only cost a request.
//! A long-running controller keeps one memo per cluster; one-shot commands keep none.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;

use crate::key::ResourceKey;

#[derive(Clone)]
struct Remembered {
    desired: u64,
    live_version: String,
    /// The answer as JSON text: a `Value` takes about five times its text's memory, and the
    /// memo holds one answer per object of every Application (it is parsed again on recall).
    predicted: Box<str>,
}

/// The last dry-run answer of every object of every Application planned with this memo.
#[derive(Default)]
pub struct DryRunMemo {
    apps: Mutex<HashMap<String, HashMap<ResourceKey, Remembered>>>,
}

/// A stable digest of a desired object.
pub(crate) fn digest(object: &Value) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    serde_json::to_vec(object)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

pub(crate) fn version_of(live: &Value) -> Option<&str> {
    live.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

impl DryRunMemo {
    pub fn new() -> DryRunMemo {
        DryRunMemo::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<ResourceKey, Remembered>>> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The remembered answer for `key` of `app`, if the desired object and the live version
    /// are the ones it was given for.
    pub(crate) fn recall(
        &self,
        app: &str,
        key: &ResourceKey,
        desired: &Value,
        live: &Value,
    ) -> Option<Value> {
        let version = version_of(live)?;
        let desired = digest(desired);
        let text = {
            let apps = self.lock();
            let remembered = apps.get(app)?.get(key)?;
            if remembered.live_version != version || remembered.desired != desired {
                return None;
            }
            remembered.predicted.clone()
        };
        serde_json::from_str(&text).ok()
    }

    /// Replaces what is remembered of `app` by this plan's answers: objects no longer desired
    /// are forgotten with it.
    pub(crate) fn remember(&self, app: &str, answers: Vec<(ResourceKey, &Value, &Value, &Value)>) {
        let remembered = answers
            .into_iter()
            .filter_map(|(key, desired, live, predicted)| {
                Some((
                    key,
                    Remembered {
                        desired: digest(desired),
                        live_version: version_of(live)?.to_string(),
                        predicted: serde_json::to_string(predicted).ok()?.into_boxed_str(),
                    },
                ))
            })
            .collect();
        self.lock().insert(app.to_string(), remembered);
    }

    /// Forgets an Application (it is no longer managed).
    pub fn forget(&self, app: &str) {
        self.lock().remove(app);
    }

    /// How many answers are remembered.
    pub fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

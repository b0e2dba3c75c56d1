//! The event recorder of the simulated controllers, after client-go's `record` package: one
//! core/v1 Event per (object, reason, message, component), whose `count` and `lastTimestamp`
//! go up when the same thing happens again instead of a new Event being created. Events live at
//! most [`TTL`] after they were last seen (the apiserver's `--event-ttl`; checked oldest-created
//! first, whenever an Event is recorded in the namespace), and a namespace keeps at most
//! [`PER_NAMESPACE`] of them (the oldest go first): they never grow without bound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{builtin, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of, now};
use crate::server::Shared;

/// How long an Event stays after it was last seen (kube-apiserver's `--event-ttl` default).
pub const TTL: Duration = Duration::from_secs(3600);
/// The most Events one namespace keeps.
pub const PER_NAMESPACE: usize = 1000;

/// `Normal` or `Warning`, as `corev1.EventTypeNormal` / `EventTypeWarning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

/// What makes two Events the same one (client-go's aggregation key, without the source host).
type AggregationKey = (String, String, String, String, String, &'static str);

/// One recorded Event: its name and when it was last seen.
struct Recorded {
    name: String,
    last_seen: Instant,
}

/// The recorder's memory of the Events it wrote, so that recording is a lookup, not a listing:
/// the Event of each aggregation key, and per namespace the keys in the order they were created
/// (the oldest are pruned first).
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    events: HashMap<AggregationKey, Recorded>,
    order: HashMap<String, VecDeque<AggregationKey>>,
    /// Namespaces whose stored Events (from before a restart) are in the index.
    loaded: HashSet<String>,
}

/// Records that `component` did `reason` to `object` (which must carry apiVersion and kind).
/// Errors (a namespace being deleted, say) are dropped, as the real recorder drops them.
pub fn record(
    state: &Shared,
    object: &Value,
    kind: Kind,
    reason: &str,
    message: &str,
    component: &str,
) {
    let events = builtin(state, "", "v1", "events");
    let namespace = match namespace_of(object) {
        "" => "default",
        ns => ns,
    };
    let key: AggregationKey = (
        namespace.to_string(),
        uid_of(object).to_string(),
        reason.to_string(),
        message.to_string(),
        component.to_string(),
        kind.as_str(),
    );
    let now = now();
    let mut index = state.events.inner.lock().expect("event recorder lock");
    if index.loaded.insert(namespace.to_string()) {
        index.load(state, namespace);
    }
    if let Some(same) = index.events.get_mut(&key) {
        let updated = state.objects.modify(
            &events,
            namespace,
            &same.name,
            None,
            &controller_write(),
            |live| {
                let mut next = live.clone();
                next["count"] = json!(live["count"].as_i64().unwrap_or(1) + 1);
                next["lastTimestamp"] = json!(now);
                Ok(next)
            },
        );
        if updated.is_ok() {
            same.last_seen = Instant::now();
            return;
        }
        // Deleted by someone else: record it anew.
        index.events.remove(&key);
    }
    let name = format!(
        "{}.{}",
        name_of(object),
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "kind": object["kind"],
            "namespace": namespace_of(object),
            "name": name_of(object),
            "uid": uid_of(object),
            "apiVersion": object["apiVersion"],
            "resourceVersion": object["metadata"]["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": kind.as_str(),
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    if state
        .objects
        .create(&events, namespace, event, &controller_write())
        .is_ok()
    {
        index.events.insert(
            key.clone(),
            Recorded {
                name,
                last_seen: Instant::now(),
            },
        );
        index
            .order
            .entry(namespace.to_string())
            .or_default()
            .push_back(key);
    }
    index.prune(state, namespace);
}

impl Index {
    /// Takes in the Events a namespace already holds (written before a restart).
    fn load(&mut self, state: &Shared, namespace: &str) {
        let events = builtin(state, "", "v1", "events");
        let mut stored = state.objects.list(&events, Some(namespace)).items;
        stored.sort_by(|a, b| {
            a["firstTimestamp"]
                .as_str()
                .cmp(&b["firstTimestamp"].as_str())
        });
        for e in stored {
            let kind = if e["type"] == "Warning" {
                Kind::Warning
            } else {
                Kind::Normal
            };
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let key: AggregationKey = (
                namespace.to_string(),
                text(&e["involvedObject"]["uid"]),
                text(&e["reason"]),
                text(&e["message"]),
                text(&e["source"]["component"]),
                kind.as_str(),
            );
            self.events.insert(
                key.clone(),
                Recorded {
                    name: name_of(&e).to_string(),
                    last_seen: Instant::now(),
                },
            );
            self.order
                .entry(namespace.to_string())
                .or_default()
                .push_back(key);
        }
    }

    /// Deletes the oldest Events of `namespace` while there are more than [`PER_NAMESPACE`], or
    /// the oldest was last seen more than [`TTL`] ago.
    fn prune(&mut self, state: &Shared, namespace: &str) {
        let events = builtin(state, "", "v1", "events");
        let Some(order) = self.order.get_mut(namespace) else {
            return;
        };
        while let Some(oldest) = order.front() {
            let recorded = self.events.get(oldest);
            let expired = recorded.is_none_or(|r| r.last_seen.elapsed() >= TTL);
            if order.len() <= PER_NAMESPACE && !expired {
                break;
            }
            let oldest = order.pop_front().expect("front exists");
            if let Some(r) = self.events.remove(&oldest) {
                let _ =
                    state
                        .objects
                        .delete(&events, namespace, &r.name, &DeleteOptions::default());
            }
        }
    }
}

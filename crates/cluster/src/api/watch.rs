//! `?watch=true`: a stream of ADDED/MODIFIED/DELETED events (and BOOKMARKs when asked) from a
//! resourceVersion, newline-delimited JSON as the apiserver sends it. A resourceVersion older than
//! the store's history gets an ERROR event carrying 410 Expired, which tells clients to relist.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::{Filter, Request};
use crate::resources::ResourceType;
use crate::server::Shared;
use crate::status::{ApiError, ApiResult};
use crate::store::{EventType, WatchEvent};

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// The longest a watch stays open when the client names no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct WatchSpec {
    rt: ResourceType,
    namespace: Option<String>,
    filter: Filter,
    bookmarks: bool,
    timeout: Duration,
}

impl WatchSpec {
    fn in_scope(&self, event: &WatchEvent) -> bool {
        event.gr == self.rt.group_resource()
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == event.namespace)
    }

    /// The event this watch reports for a change, if any: a change that moves an object into
    /// the selector is ADDED, out of it DELETED, as the apiserver's filtered watches do.
    fn translate(&self, event: &WatchEvent) -> Option<(EventType, Arc<Value>)> {
        if !self.in_scope(event) {
            return None;
        }
        let now = self.filter.matches(&event.object);
        let before = event
            .previous
            .as_ref()
            .is_some_and(|p| self.filter.matches(p));
        match event.event_type {
            EventType::Added => now.then(|| (EventType::Added, event.object.clone())),
            EventType::Deleted => now.then(|| (EventType::Deleted, event.object.clone())),
            EventType::Modified => match (before, now) {
                (true, true) => Some((EventType::Modified, event.object.clone())),
                (false, true) => Some((EventType::Added, event.object.clone())),
                (true, false) => {
                    // Report the deletion with the new resourceVersion.
                    Some((EventType::Deleted, event.object.clone()))
                }
                (false, false) => None,
            },
        }
    }
}

/// One watch event's line, `{"type":…,"object":…}` (serialized from the stored object, not
/// from a copy of it: every watcher of a busy kind writes one per change).
fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = Vec::with_capacity(4096);
    text.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut text, event_type).expect("a string serializes");
    text.extend_from_slice(b",\"object\":");
    serde_json::to_writer(&mut text, object).expect("a JSON value serializes");
    text.extend_from_slice(b"}\n");
    Bytes::from(text)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
    )
}

pub async fn watch(
    state: Shared,
    rt: ResourceType,
    namespace: Option<String>,
    req: &Request,
) -> ApiResult<Response> {
    let filter = Filter::from_request(req)?;
    let timeout = match req.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let spec = WatchSpec {
        rt,
        namespace,
        filter,
        bookmarks: req.param("allowWatchBookmarks") == Some("true"),
        timeout,
    };
    let send_initial = req.param("sendInitialEvents") == Some("true");
    let from: Option<u64> = match req.param("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let gr = spec.rt.group_resource();
    // The initial state: synthetic ADDED events for what exists now, then changes after it.
    let (initial, start_rv, receiver) = if from.is_none() || send_initial {
        let (listing, receiver) = state
            .objects
            .store
            .list_and_watch(&gr, spec.namespace.as_deref());
        let items: Vec<Arc<Value>> = listing
            .items
            .into_iter()
            .filter(|o| spec.filter.matches(o))
            .collect();
        (items, listing.rv, receiver)
    } else {
        let from = from.unwrap_or_default();
        match state.objects.store.watch_from(from) {
            Ok((backlog, receiver)) => {
                for event in backlog {
                    if let Some((t, o)) = spec.translate(&event) {
                        // The channel is fresh and bounded; a client that cannot keep up with its
                        // own backlog gets the rest when it reads.
                        if tx.send(Ok(line(t.as_str(), &o))).await.is_err() {
                            break;
                        }
                    }
                }
                (
                    Vec::new(),
                    state.objects.store.current_rv().max(from),
                    receiver,
                )
            }
            Err(too_old) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {} ({})",
                    too_old.requested, too_old.oldest
                ))
                .to_status();
                let _ = tx.send(Ok(line("ERROR", &status))).await;
                drop(tx);
                return Ok(stream_response(rx));
            }
        }
    };
    let faults = state.faults.clone();
    let stopping = state.stopping.clone();
    tokio::spawn(async move {
        for object in &initial {
            if tx.send(Ok(line("ADDED", object))).await.is_err() {
                return;
            }
        }
        if send_initial && spec.bookmarks {
            let _ = tx.send(Ok(bookmark(&spec.rt, start_rv, true))).await;
        }
        stream_changes(
            spec,
            start_rv,
            receiver,
            tx,
            faults.watch_drop_after(),
            stopping,
        )
        .await;
    });
    Ok(stream_response(rx))
}

async fn stream_changes(
    spec: WatchSpec,
    mut last_rv: u64,
    mut receiver: broadcast::Receiver<Arc<WatchEvent>>,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    drop_after: Option<Duration>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let deadline =
        tokio::time::Instant::now() + drop_after.map_or(spec.timeout, |d| d.min(spec.timeout));
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
            _ = stopping.changed() => return,
            _ = ticker.tick(), if spec.bookmarks => {
                if tx.send(Ok(bookmark(&spec.rt, last_rv, false))).await.is_err() {
                    return;
                }
            }
            received = receiver.recv() => match received {
                Ok(event) => {
                    if event.rv <= last_rv {
                        continue;
                    }
                    if spec.in_scope(&event) {
                        last_rv = event.rv;
                    }
                    if let Some((t, o)) = spec.translate(&event)
                        && tx.send(Ok(line(t.as_str(), &o))).await.is_err()
                    {
                        return;
                    }
                }
                // A watcher that fell behind the broadcast buffer ends; the client resumes from
                // its last resourceVersion, and the history fills the gap or answers 410.
                Err(_) => return,
            },
        }
    }
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("static response parts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_event_as_the_apiserver_writes_it() {
        let object = json!({"kind": "Pod", "metadata": {"name": "a \"quoted\" name"}});
        let line = line("MODIFIED", &object);
        let text = std::str::from_utf8(&line).unwrap();
        assert!(text.starts_with("{\"type\":\"MODIFIED\",\"object\":{"));
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1);
        let parsed: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parsed, json!({"type": "MODIFIED", "object": object}));
    }
}

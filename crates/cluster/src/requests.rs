//! Who asked for what: the most recent requests with the user who made them, read at
//! `GET /admin/requests`. There is no authentication; a request's user is the name it claims:
//! its `Impersonate-User` header (kubectl's `--as`, or `as:` in the kubeconfig), else its bearer
//! token, else `system:anonymous`, the name the apiserver gives unauthenticated requests.
//! kubectl (client-go) sends a kubeconfig's token only over TLS, never to this plain-HTTP server,
//! which is why the kubeconfigs the cluster writes name the user with `as:` as well.
//!
//! Besides the recent requests, the log counts every request since the start by Kubernetes verb
//! and resource (`update replicasets/status`), for a benchmark to say what a workload costs in
//! requests however many there were.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// How many requests the log keeps; older ones are dropped first.
pub const CAPACITY: usize = 1000;

/// One answered request.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// When the answer was sent (RFC 3339, second precision).
    pub time: String,
    pub user: String,
    /// The client's User-Agent (`kubectl/v1.32.4 ...`), empty when it sent none.
    pub user_agent: String,
    /// HTTP method (`GET`, `PUT`, ...).
    pub method: String,
    /// Path and query, as the client sent them.
    pub uri: String,
    /// HTTP status code of the answer (for a watch, that of the stream's start).
    pub code: u16,
}

/// How many requests of one verb on one resource were answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// the lower-case method of anything else; with the code when it was refused (`update (409)`).
    pub verb: String,
    /// The resource's plural, with its subresource (`rollouts/status`); `discovery` for the API
    /// group and version documents, and the path for what is not under /api or /apis.
    pub resource: String,
    pub count: u64,
}

/// A bounded log of the most recent requests, oldest first, and counts of all of them.
#[derive(Default)]
pub struct RequestLog {
    records: Mutex<VecDeque<RequestRecord>>,
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl RequestLog {
    pub fn record(&self, record: RequestRecord) {
        let (mut verb, resource) = verb_and_resource(&record.method, &record.uri);
        if record.code >= 400 {
            // Refusals apart (`update (409)`): a conflict costs a request and does nothing.
            verb = format!("{verb} ({})", record.code);
        }
        let kind = (verb, resource);
        *self
            .counts
            .lock()
            .expect("request counts lock")
            .entry(kind)
            .or_default() += 1;
        let mut records = self.records.lock().expect("request log lock");
        if records.len() >= CAPACITY {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The kept requests, oldest first.
    pub fn recent(&self) -> Vec<RequestRecord> {
        self.records
            .lock()
            .expect("request log lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Every request since the start, by verb and resource.
    pub fn counts(&self) -> Vec<RequestCount> {
        self.counts
            .lock()
            .expect("request counts lock")
            .iter()
            .map(|((verb, resource), count)| RequestCount {
                verb: verb.clone(),
                resource: resource.clone(),
                count: *count,
            })
            .collect()
    }
}

/// The Kubernetes verb and resource (with its subresource) of a request by its method and URI.
fn verb_and_resource(method: &str, uri: &str) -> (String, String) {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.first() {
        Some(&"api") if segments.len() >= 2 => &segments[2..],
        Some(&"apis") if segments.len() >= 3 => &segments[3..],
        Some(&"api") | Some(&"apis") => &[],
        _ => return (method.to_lowercase(), path.to_string()),
    };
    // namespaces/NS/PLURAL/... is namespaced; namespaces/NAME[/status] is a namespace.
    let rest = match rest {
        ["namespaces", _, _, ..] if !matches!(rest, ["namespaces", _, "status" | "finalize"]) => {
            &rest[2..]
        }
        _ => rest,
    };
    let resource = match rest {
        [] => "discovery".to_string(),
        [plural] | [plural, _] => plural.to_string(),
        [plural, _, sub, ..] => format!("{plural}/{sub}"),
    };
    // A discovery document is one object.
    let named = rest.len() >= 2 || rest.is_empty();
    let watch = query
        .split('&')
        .any(|p| p == "watch=true" || p == "watch=1");
    let verb = match method {
        "GET" if watch => "watch",
        "GET" if named => "get",
        "GET" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if named => "delete",
        "DELETE" => "deletecollection",
        other => return (other.to_lowercase(), resource),
    };
    (verb.to_string(), resource)
}

/// The user a request is recorded under: the user it impersonates, else its bearer token, else
/// `system:anonymous`.
pub fn user_of(headers: &axum::http::HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    header("impersonate-user")
        .or_else(|| {
            header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
        })
        .unwrap_or("system:anonymous")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> RequestRecord {
        RequestRecord {
            time: String::new(),
            user: format!("u{n}"),
            user_agent: String::new(),
            method: "GET".into(),
            uri: "/api".into(),
            code: 200,
        }
    }

    #[test]
    fn keeps_only_the_most_recent() {
        let log = RequestLog::default();
        for n in 0..CAPACITY + 5 {
            log.record(record(n));
        }
        let recent = log.recent();
        assert_eq!(recent.len(), CAPACITY);
        assert_eq!(recent[0].user, "u5");
        assert_eq!(recent[CAPACITY - 1].user, format!("u{}", CAPACITY + 4));
    }

    #[test]
    fn requests_are_counted_by_verb_and_resource() {
        let log = RequestLog::default();
        let status = "/apis/argoproj.io/v1alpha1/namespaces/a/rollouts/web/status";
        for (method, uri, code) in [
            ("GET", "/apis/apps/v1/namespaces/a/replicasets?l=x", 200),
            ("GET", "/apis/apps/v1/replicasets?watch=true&r=4", 200),
            ("PATCH", "/apis/apps/v1/namespaces/a/replicasets/web-1", 200),
            ("PATCH", "/apis/apps/v1/namespaces/b/replicasets/web-2", 200),
            ("PUT", status, 200),
            ("PUT", status, 409),
            ("GET", "/api/v1/namespaces/a", 200),
            ("PUT", "/api/v1/namespaces/a/finalize", 200),
            ("GET", "/apis/apps/v1", 200),
            ("GET", "/version", 200),
        ] {
            let mut r = record(0);
            r.method = method.into();
            r.uri = uri.into();
            r.code = code;
            log.record(r);
        }
        let counts: Vec<(String, String, u64)> = log
            .counts()
            .into_iter()
            .map(|c| (c.verb, c.resource, c.count))
            .collect();
        let expected = [
            ("get", "/version", 1),
            ("get", "discovery", 1),
            ("get", "namespaces", 1),
            ("list", "replicasets", 1),
            ("patch", "replicasets", 2),
            ("update", "namespaces/finalize", 1),
            ("update", "rollouts/status", 1),
            ("update (409)", "rollouts/status", 1),
            ("watch", "replicasets", 1),
        ];
        let expected: Vec<(String, String, u64)> = expected
            .iter()
            .map(|(v, r, n)| (v.to_string(), r.to_string(), *n))
            .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn bearer_token_is_the_user() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(user_of(&headers), "system:anonymous");
        headers.insert("authorization", "Bearer alice".parse().unwrap());
        assert_eq!(user_of(&headers), "alice");
        headers.insert("impersonate-user", "bob".parse().unwrap());
        assert_eq!(user_of(&headers), "bob", "the impersonated user wins");
        headers.remove("impersonate-user");
        headers.insert("authorization", "Basic YTpi".parse().unwrap());
        assert_eq!(user_of(&headers), "system:anonymous");
    }
}

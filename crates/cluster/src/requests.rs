//! Who asked for what: the most recent requests with the user who made them, read at
//! `GET /admin/requests`. There is no authentication; a request's user is the name it claims:
//! its `Impersonate-User` header (kubectl's `--as`, or `as:` in the kubeconfig), else its bearer
//! token, else `system:anonymous`, the name the apiserver gives unauthenticated requests.
//! kubectl (client-go) sends a kubeconfig's token only over TLS, never to this plain-HTTP server,
//! which is why the kubeconfigs the cluster writes name the user with `as:` as well.

use std::collections::VecDeque;
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

/// A bounded log of the most recent requests, oldest first.
#[derive(Default)]
pub struct RequestLog {
    records: Mutex<VecDeque<RequestRecord>>,
}

impl RequestLog {
    pub fn record(&self, record: RequestRecord) {
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

//! GitHub push webhooks: the `X-Hub-Signature-256` header is the HMAC-SHA256 of the exact body
//! under the shared secret; anything unsigned, signed with another secret or malformed is
//! refused before the body is even parsed. A signed delivery is handled once: GitHub names each
//! one (`X-GitHub-Delivery`), and one seen within [`DELIVERY_WINDOW`] is answered and ignored, so
//! a captured delivery cannot be replayed to make bosun fetch and compare at will.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook secret is configured (server.webhook.githubSecretEnv or githubSecretFile)")]
    NoSecret,
    #[error("missing X-Hub-Signature-256 header")]
    Unsigned,
    #[error("X-Hub-Signature-256 is not `sha256=<hex>`")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    BadSignature,
    #[error("push payload: {0}")]
    Payload(String),
}

/// Checks `signature` (the header value) against `body`; constant-time in the comparison.
pub fn verify(secret: &[u8], body: &[u8], signature: Option<&str>) -> Result<(), WebhookError> {
    let signature = signature.ok_or(WebhookError::Unsigned)?;
    let hex_digest = signature
        .strip_prefix("sha256=")
        .ok_or(WebhookError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| WebhookError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature)
}

/// `sha256=<hex>` for `body` (what GitHub sends; used by tests and `bosun up`'s hints).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    pushed_ref: String,
    repository: Repository,
}

#[derive(Debug, Deserialize)]
struct Repository {
    #[serde(default)]
    clone_url: Option<String>,
    #[serde(default)]
    ssh_url: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    default_branch: Option<String>,
}

/// What a push event says: which repository (every URL form GitHub gives) and which ref.
#[derive(Debug, PartialEq, Eq)]
pub struct Push {
    pub urls: Vec<String>,
    pub pushed_ref: String,
    pub default_branch: String,
}

pub fn parse_push(body: &[u8]) -> Result<Push, WebhookError> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| WebhookError::Payload(e.to_string()))?;
    let repo = payload.repository;
    let urls: Vec<String> = [repo.clone_url, repo.ssh_url, repo.html_url]
        .into_iter()
        .flatten()
        .collect();
    if urls.is_empty() {
        return Err(WebhookError::Payload(
            "repository has no clone_url, ssh_url or html_url".into(),
        ));
    }
    Ok(Push {
        urls,
        pushed_ref: payload.pushed_ref,
        default_branch: repo.default_branch.unwrap_or_default(),
    })
}

/// How long a delivery id is remembered.
pub const DELIVERY_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How many delivery ids are remembered at most; past it the oldest are forgotten first, so a
/// flood of distinct deliveries cannot grow memory without bound.
pub const DELIVERY_CAPACITY: usize = 10_000;

/// The delivery ids seen within the window, oldest first.
#[derive(Default)]
pub struct Deliveries {
    seen: Mutex<DeliveriesSeen>,
}

#[derive(Default)]
struct DeliveriesSeen {
    order: VecDeque<(Instant, String)>,
    at: HashMap<String, Instant>,
}

impl Deliveries {
    /// Records `id` as received at `now`; `Err` with when it was first received if it was seen
    /// within the window.
    pub fn first_time(&self, id: &str, now: Instant) -> Result<(), Instant> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((at, _)) = seen.order.front() {
            if now.saturating_duration_since(*at) < DELIVERY_WINDOW
                && seen.order.len() < DELIVERY_CAPACITY
            {
                break;
            }
            let (_, old) = seen.order.pop_front().expect("front exists");
            seen.at.remove(&old);
        }
        if let Some(at) = seen.at.get(id) {
            return Err(*at);
        }
        seen.at.insert(id.to_string(), now);
        seen.order.push_back((now, id.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_handled_once_within_the_window() {
        let deliveries = Deliveries::default();
        let start = Instant::now();
        assert_eq!(deliveries.first_time("a", start), Ok(()));
        assert_eq!(deliveries.first_time("b", start), Ok(()));
        let later = start + Duration::from_secs(60);
        assert_eq!(deliveries.first_time("a", later), Err(start));
        // After the window it is a new delivery again.
        let after = start + DELIVERY_WINDOW + Duration::from_secs(1);
        assert_eq!(deliveries.first_time("a", after), Ok(()));
        assert_eq!(deliveries.first_time("a", after), Err(after));
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest() {
        let deliveries = Deliveries::default();
        let now = Instant::now();
        for n in 0..DELIVERY_CAPACITY + 5 {
            assert_eq!(deliveries.first_time(&n.to_string(), now), Ok(()));
        }
        let seen = deliveries.seen.lock().unwrap();
        assert_eq!(seen.order.len(), DELIVERY_CAPACITY);
        assert_eq!(seen.at.len(), DELIVERY_CAPACITY);
        assert!(!seen.at.contains_key("0"), "the oldest went first");
        drop(seen);
        assert_eq!(deliveries.first_time("0", now), Ok(()));
    }

    #[test]
    fn signatures_are_checked_against_the_body() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let secret = b"It's a Secret to Everybody";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(secret, b"Hello, World!"), good);
        assert_eq!(verify(secret, b"Hello, World!", Some(good)), Ok(()));
        assert_eq!(
            verify(secret, b"Hello, World?", Some(good)),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(b"another", b"Hello, World!", Some(good)),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(verify(secret, b"x", None), Err(WebhookError::Unsigned));
        assert_eq!(
            verify(secret, b"x", Some("sha1=abc")),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify(secret, b"x", Some("sha256=zz")),
            Err(WebhookError::Malformed)
        );
    }

    #[test]
    fn push_payloads_give_repository_and_ref() {
        let push = parse_push(
            br#"{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/o/r.git","ssh_url":"git@github.com:o/r.git","default_branch":"main"}}"#,
        )
        .unwrap();
        assert_eq!(push.pushed_ref, "refs/heads/main");
        assert_eq!(push.urls.len(), 2);
        assert_eq!(push.default_branch, "main");
        assert!(parse_push(br#"{"ref":"refs/heads/main","repository":{}}"#).is_err());
        assert!(parse_push(b"not json").is_err());
    }
}

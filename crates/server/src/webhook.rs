//! GitHub push webhooks: the `X-Hub-Signature-256` header is the HMAC-SHA256 of the exact body
//! under the shared secret; anything unsigned, signed with another secret or malformed is
//! refused before the body is even parsed.

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Image policies against a real registry (Debian's docker-registry, images pushed by skopeo):
//! the tags listed, each strategy's pick, a 401 said plainly, a registry that is down.

mod common;

use std::time::Duration;

use bosun_images::policy::{Policy, Strategy, TagInfo};
use bosun_images::registry::{Registries, RegistryError, RegistrySettings};
use common::registry::{PASSWORD, Registry, USER};

async fn pick(registries: &Registries, image: &str, policy: &Policy) -> Option<TagInfo> {
    let tags = registries
        .tags(image, Duration::from_secs(3600))
        .await
        .unwrap();
    let mut infos = Vec::new();
    for tag in tags.iter().filter(|t| policy.allows(t)) {
        infos.push(if policy.needs_metadata() {
            registries.metadata(image, tag).await.unwrap()
        } else {
            TagInfo::new(tag.clone())
        });
    }
    policy.select(&infos)
}

#[tokio::test]
async fn each_strategy_picks_from_a_real_registry() {
    let registry = Registry::start(false);
    let image = format!("{}/acme/api", registry.address);
    let mut digests = std::collections::HashMap::new();
    for (tag, created) in [
        ("1.2.0", "2026-01-01T00:00:00Z"),
        ("1.3.0-rc.1", "2026-03-01T00:00:00Z"),
        ("1.10.0", "2026-02-01T00:00:00Z"),
        ("latest", "2026-02-01T00:00:00Z"),
        ("junk", "2025-01-01T00:00:00Z"),
    ] {
        digests.insert(tag, registry.push("acme/api", tag, created));
    }
    let registries = Registries::new(Vec::new());
    let mut tags = registries
        .tags(&image, Duration::from_secs(3600))
        .await
        .unwrap()
        .to_vec();
    tags.sort();
    assert_eq!(tags, ["1.10.0", "1.2.0", "1.3.0-rc.1", "junk", "latest"]);

    let policy = |strategy, constraint: Option<&str>, allow: Option<&str>| {
        Policy::new(strategy, constraint, allow, None).unwrap()
    };
    // semver ~1: 1.10.0 (not the pre-release, not junk, not latest).
    let picked = pick(
        &registries,
        &image,
        &policy(Strategy::Semver, Some("~1"), None),
    )
    .await;
    assert_eq!(picked.unwrap().tag, "1.10.0");
    // A constraint with a pre-release lets pre-releases in.
    let picked = pick(
        &registries,
        &image,
        &policy(Strategy::Semver, Some("~1.3.0-0"), None),
    )
    .await;
    assert_eq!(picked.unwrap().tag, "1.3.0-rc.1");
    // newest-build: the latest config `created` (1.3.0-rc.1, March).
    let picked = pick(
        &registries,
        &image,
        &policy(Strategy::NewestBuild, None, None),
    )
    .await;
    assert_eq!(picked.unwrap().tag, "1.3.0-rc.1");
    // ... among allowed tags only; equal build times go to the greater name (latest > 1.10.0).
    let allowed = policy(
        Strategy::NewestBuild,
        None,
        Some("regexp:^(1\\.10\\.0|latest)$"),
    );
    assert_eq!(
        pick(&registries, &image, &allowed).await.unwrap().tag,
        "latest"
    );
    // alphabetical: the greatest name.
    let picked = pick(
        &registries,
        &image,
        &policy(Strategy::Alphabetical, None, None),
    )
    .await;
    assert_eq!(picked.unwrap().tag, "latest");
    // digest: the tracked tag's manifest digest, as the registry has it.
    let picked = pick(
        &registries,
        &image,
        &policy(Strategy::Digest, Some("latest"), None),
    )
    .await
    .unwrap();
    assert_eq!(picked.digest.as_deref(), Some(digests["latest"].as_str()));

    // The tags list was asked once for all of the above (cached for the interval).
    assert_eq!(
        registry.tag_list_requests("acme/api"),
        1,
        "{}",
        registry.log()
    );

    // A registry that is down: a transient error that names the registry.
    let mut registry = registry;
    registry.stop();
    registries.invalidate(&image);
    let error = registries
        .tags(&image, Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(error.to_string().contains(&registry.address), "{error}");
}

#[tokio::test]
async fn a_registry_with_auth_says_401_without_credentials_and_answers_with_them() {
    let registry = Registry::start(true);
    registry.push("acme/api", "1.0.0", "2026-01-01T00:00:00Z");
    let image = format!("{}/acme/api", registry.address);

    let anonymous = Registries::new(Vec::new());
    let error = anonymous
        .tags(&image, Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{0}: {1}: authentication required or refused (401); configure credentials for {0}",
            registry.address, image
        )
    );
    assert!(!error.is_transient());

    let with_credentials = Registries::new(vec![RegistrySettings {
        registry: registry.address.clone(),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        ..Default::default()
    }]);
    let tags = with_credentials
        .tags(&image, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(tags.as_slice(), ["1.0.0"]);
    let info = with_credentials.metadata(&image, "1.0.0").await.unwrap();
    assert_eq!(info.created.unwrap().to_string(), "2026-01-01T00:00:00Z");
    // The password is in no message.
    assert!(!format!("{error:?}").contains(PASSWORD));
}

/// The bearer-token dance against the real registry in `auth: token` mode: a 401 with
/// `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, a token asked of the realm with the
/// Basic credentials, the request again with `Authorization: Bearer`. The token server is the
/// tests' own (`common::token_issuer`); the registry verifies its signature against the
/// certificate it was given, as it would a production issuer's.
#[tokio::test]
async fn a_token_auth_registry_is_read_with_a_bearer_token_from_its_realm() {
    use common::token_issuer::{SERVICE, TokenIssuer, TokenRequest};
    let issuer = TokenIssuer::start();
    let registry = Registry::start_with_tokens(&issuer);
    registry.push("acme/api", "1.0.0", "2026-01-01T00:00:00Z");
    registry.push("acme/api", "1.1.0", "2026-02-01T00:00:00Z");
    let image = format!("{}/acme/api", registry.address);
    let pushes = issuer.requests().len();
    assert!(pushes > 0, "skopeo went through the issuer");

    let with_credentials = Registries::new(vec![RegistrySettings {
        registry: registry.address.clone(),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        ..Default::default()
    }]);
    let tags = with_credentials
        .tags(&image, Duration::from_secs(3600))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", registry.log()));
    let mut tags = tags.to_vec();
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0"]);
    let info = with_credentials.metadata(&image, "1.1.0").await.unwrap();
    assert_eq!(info.created.unwrap().to_string(), "2026-02-01T00:00:00Z");
    // bosun asked the realm, with its credentials, for pull on this repository only.
    let asked = issuer.requests().split_off(pushes);
    assert!(!asked.is_empty());
    for request in &asked {
        assert_eq!(
            request,
            &TokenRequest {
                user: Some(USER.into()),
                service: SERVICE.into(),
                scopes: vec!["repository:acme/api:pull".into()],
            }
        );
    }
    // The registry took the token: it authorized bosun's tags request (its log says so).
    assert!(
        registry
            .log()
            .lines()
            .any(|l| l.contains("msg=\"authorized request\"")
                && l.contains("/v2/acme/api/tags/list")
                && l.contains("oci-client")),
        "{}",
        registry.log()
    );

    // Without credentials, or with wrong ones, the realm refuses and bosun says 401 plainly.
    for settings in [
        Vec::new(),
        vec![RegistrySettings {
            registry: registry.address.clone(),
            username: Some(USER.into()),
            password: Some("not-the-password".into()),
            ..Default::default()
        }],
    ] {
        let error = Registries::new(settings)
            .tags(&image, Duration::from_secs(3600))
            .await
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::Unauthorized { .. }),
            "{error:?}"
        );
        assert!(!error.is_transient());
        assert!(!format!("{error:?}").contains("not-the-password"));
    }
}

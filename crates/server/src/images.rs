//! The image routes: watched images per Application, a check now (deployer, audited), and the
//! registry webhook that makes a push checked at once instead of at the next interval.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, response::IntoResponse, response::Response};
use bosun_api::{ImageApplication, ImageApplicationList};
use bosun_model::Role;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{ApiError, ApiResult, Shared, require};
use crate::auth::Caller;

/// Every Application whose images bosun watches.
#[utoipa::path(get, path = "/api/v1/images", tag = "images",
    responses((status = 200, body = ImageApplicationList)))]
pub(crate) async fn list(State(state): State<Shared>) -> Json<ImageApplicationList> {
    Json(ImageApplicationList {
        items: state.images.list(),
    })
}

/// One Application's watched images, and its write-backs and failed checks.
#[utoipa::path(get, path = "/api/v1/images/{name}", tag = "images",
    params(("name" = String, Path)),
    responses((status = 200, body = ImageApplication), (status = 404, body = bosun_api::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<ImageApplication>> {
    state
        .images
        .get(&name)
        .map(Json)
        .ok_or_else(|| not_watched(&name))
}

fn not_watched(name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "{name}: no such Application with images to watch (argocd-image-updater.argoproj.io/image-list)"
        ),
    )
}

/// Checks the Application's images now (and writes back a new tag); answers after the check.
#[utoipa::path(post, path = "/api/v1/images/{name}/check", tag = "images",
    params(("name" = String, Path)),
    responses((status = 200, body = ImageApplication), (status = 404, body = bosun_api::ErrorBody)))]
pub(crate) async fn check(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<ImageApplication>> {
    require(&state, &caller, Role::Deployer, "check images", &name)?;
    if state.controller.get(&name).is_err() {
        return Err(not_watched(&name));
    }
    let _ = state
        .controller
        .audit(&caller.name, "image-check", &name, "");
    state
        .images
        .check(&name)
        .await
        .map(Json)
        .ok_or_else(|| not_watched(&name))
}

#[derive(Deserialize)]
pub(crate) struct WebhookQuery {
    #[serde(default)]
    secret: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// What a registry's push event names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImagePush {
    pub registry: String,
    pub repository: String,
    pub tag: String,
}

/// A registry push (Docker Hub, GitHub packages, Harbor, Quay, or the generic signed
/// `{"image": "registry/repo", "tag"}`): the images it names are checked now.
#[utoipa::path(post, path = "/api/webhook/registry", tag = "images",
    params(("type" = Option<String>, Query, description = "docker.io, ghcr.io, harbor, quay.io or generic (else guessed from the body)"),
           ("secret" = Option<String>, Query, description = "the shared secret (Docker Hub, Quay)"),
           ("X-Hub-Signature-256" = Option<String>, Header, description = "sha256=HMAC of the body under the secret (GitHub packages, generic)"),
           ("X-Delivery-Id" = Option<String>, Header, description = "a signed delivery's id (or X-GitHub-Delivery): one received within the last ten minutes is answered with alreadyReceived and not acted on again")),
    responses((status = 200, body = bosun_api::Refreshed), (status = 401, body = bosun_api::ErrorBody)),
    security(()))]
pub(crate) async fn registry_webhook(
    State(state): State<Shared>,
    Query(query): Query<WebhookQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let Some(secret) = &state.registry_webhook_secret else {
        return ApiError(
            StatusCode::FORBIDDEN,
            "no registry webhook secret is configured (images.webhookSecretEnv)".to_string(),
        )
        .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let kind = query
        .kind
        .clone()
        .or_else(|| header("x-registry-type").map(str::to_string))
        .unwrap_or_else(|| guess_kind(&headers).to_string());
    // GitHub's and the generic hook are signed: HMAC-SHA256 of the body in
    // `X-Hub-Signature-256`, the one check the Git webhook uses. The others carry the secret.
    let authentic = match kind.as_str() {
        "ghcr.io" | "generic" => {
            crate::webhook::verify(secret, &bytes, header("x-hub-signature-256"))
                .map_err(|e| e.to_string())
        }
        "harbor" => header("authorization")
            .is_some_and(|a| crate::ui::same(a, secret))
            .then_some(())
            .ok_or_else(|| "the Authorization header is missing or wrong".to_string()),
        _ => query
            .secret
            .as_deref()
            .or(header("x-webhook-secret"))
            .is_some_and(|s| crate::ui::same(s, secret))
            .then_some(())
            .ok_or_else(|| "the secret is missing or wrong".to_string()),
    };
    if let Err(why) = authentic {
        tracing::warn!(kind, why, "registry webhook refused");
        return ApiError(
            StatusCode::UNAUTHORIZED,
            format!("registry webhook ({kind}): {why}"),
        )
        .into_response();
    }
    let push = match serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| format!("not JSON: {e}"))
        .and_then(|body| parse_push(&kind, &body))
    {
        Ok(push) => push,
        Err(e) => {
            return ApiError(
                StatusCode::BAD_REQUEST,
                format!("registry webhook ({kind}): {e}"),
            )
            .into_response();
        }
    };
    if let Err(response) = crate::api::first_catalog_load(&state).await {
        return response;
    }
    // Signed deliveries are handled once, as the Git webhook's (a forged one never gets here).
    let delivery = crate::api::delivery_id(&headers);
    if matches!(kind.as_str(), "ghcr.io" | "generic")
        && let Some(answer) = crate::api::already_received(&state, delivery)
    {
        return answer;
    }
    let refreshed = state.images.image_pushed(&push.registry, &push.repository);
    tracing::info!(registry = %push.registry, repository = %push.repository, tag = %push.tag, apps = ?refreshed, "registry push");
    Json(bosun_api::Refreshed {
        refreshed,
        ..Default::default()
    })
    .into_response()
}

fn guess_kind(headers: &HeaderMap) -> &'static str {
    if headers.contains_key("x-github-event") {
        "ghcr.io"
    } else {
        "generic"
    }
}

/// The pushed image in each registry's payload shape (as Argo CD Image Updater reads them).
pub(crate) fn parse_push(kind: &str, body: &Value) -> Result<ImagePush, String> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let required = |v: Option<String>, field: &str| v.ok_or_else(|| format!("{field} is missing"));
    match kind {
        "docker.io" => {
            let repo = &body["repository"];
            let repository = text(&repo["repo_name"]).or_else(|| {
                match (text(&repo["namespace"]), text(&repo["name"])) {
                    (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
                    (None, name) => name,
                    _ => None,
                }
            });
            Ok(ImagePush {
                registry: "docker.io".to_string(),
                repository: required(repository, "repository.repo_name")?,
                tag: required(text(&body["push_data"]["tag"]), "push_data.tag")?,
            })
        }
        "ghcr.io" => {
            if body["action"].as_str() != Some("published") {
                return Err("only `published` package events are handled".to_string());
            }
            let package = &body["package"];
            let version = &package["package_version"];
            let repository = match (text(&package["owner"]["login"]), text(&package["name"])) {
                (Some(owner), Some(name)) => Some(format!("{owner}/{name}").to_lowercase()),
                _ => None,
            };
            Ok(ImagePush {
                registry: "ghcr.io".to_string(),
                repository: required(repository, "package.owner.login and package.name")?,
                tag: required(
                    text(&version["container_metadata"]["tag"]["name"])
                        .or_else(|| text(&version["name"]))
                        .or_else(|| text(&version["version"])),
                    "package.package_version.container_metadata.tag.name",
                )?,
            })
        }
        "harbor" => {
            if body["type"].as_str() != Some("PUSH_ARTIFACT") {
                return Err("only PUSH_ARTIFACT events are handled".to_string());
            }
            let data = &body["event_data"];
            let resource = &data["resources"][0];
            let registry = text(&resource["resource_url"])
                .map(|u| {
                    u.trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .split('/')
                        .next()
                        .unwrap_or("harbor")
                        .to_string()
                })
                .unwrap_or_else(|| "harbor".to_string());
            Ok(ImagePush {
                registry,
                repository: required(
                    text(&data["repository"]["repo_full_name"]),
                    "event_data.repository.repo_full_name",
                )?,
                tag: required(text(&resource["tag"]), "event_data.resources[0].tag")?,
            })
        }
        "quay.io" => {
            let registry = text(&body["docker_url"])
                .and_then(|u| u.split('/').next().map(str::to_string))
                .unwrap_or_else(|| "quay.io".to_string());
            Ok(ImagePush {
                registry,
                repository: required(text(&body["repository"]), "repository")?,
                tag: required(text(&body["updated_tags"][0]), "updated_tags[0]")?,
            })
        }
        "generic" => {
            let (registry, repository) = match text(&body["image"]) {
                Some(image) => split_image(&image)?,
                None => (
                    required(text(&body["registry"]), "image (or registry)")?,
                    required(text(&body["repository"]), "repository")?,
                ),
            };
            Ok(ImagePush {
                registry,
                repository,
                tag: text(&body["tag"]).unwrap_or_default(),
            })
        }
        other => Err(format!(
            "type `{other}`: expected docker.io, ghcr.io, harbor, quay.io or generic"
        )),
    }
}

/// `registry/repo` (or `https://registry/repo`) as Docker reads an image name: a first part
/// with a `.` or `:`, or `localhost`, is the registry; else it is Docker Hub's.
fn split_image(image: &str) -> Result<(String, String), String> {
    let name = image
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if name.contains(['@', ' ']) || name.rsplit('/').next().is_some_and(|l| l.contains(':')) {
        return Err(format!(
            "image `{image}`: name the repository (`registry/repo`) and put the tag in `tag`"
        ));
    }
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            Ok((first.to_string(), rest.to_string()))
        }
        Some(_) => Ok(("docker.io".to_string(), name.to_string())),
        None if !name.is_empty() => Ok(("docker.io".to_string(), format!("library/{name}"))),
        None => Err("image is empty".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_registry_payload_names_the_image() {
        let cases = [
            (
                "docker.io",
                json!({"push_data": {"tag": "1.2.0"}, "repository": {"repo_name": "acme/api"}}),
                ("docker.io", "acme/api", "1.2.0"),
            ),
            (
                "ghcr.io",
                json!({"action": "published", "package": {"name": "API", "owner": {"login": "Acme"}, "package_type": "CONTAINER", "package_version": {"container_metadata": {"tag": {"name": "1.3.0"}}}}}),
                ("ghcr.io", "acme/api", "1.3.0"),
            ),
            (
                "harbor",
                json!({"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "2.0", "resource_url": "harbor.example.com/lib/api:2.0"}], "repository": {"repo_full_name": "lib/api"}}}),
                ("harbor.example.com", "lib/api", "2.0"),
            ),
            (
                "quay.io",
                json!({"repository": "acme/api", "docker_url": "quay.io/acme/api", "updated_tags": ["3.1"]}),
                ("quay.io", "acme/api", "3.1"),
            ),
            (
                "generic",
                json!({"registry": "127.0.0.1:5000", "repository": "acme/api", "tag": "1.0.0"}),
                ("127.0.0.1:5000", "acme/api", "1.0.0"),
            ),
            (
                "generic",
                json!({"image": "127.0.0.1:5000/acme/api", "tag": "1.0.0"}),
                ("127.0.0.1:5000", "acme/api", "1.0.0"),
            ),
            (
                "generic",
                json!({"image": "https://ghcr.io/acme/api", "tag": "2"}),
                ("ghcr.io", "acme/api", "2"),
            ),
            (
                "generic",
                json!({"image": "acme/api", "tag": "2"}),
                ("docker.io", "acme/api", "2"),
            ),
            (
                "generic",
                json!({"image": "nginx", "tag": "1.27"}),
                ("docker.io", "library/nginx", "1.27"),
            ),
        ];
        for (kind, body, (registry, repository, tag)) in cases {
            assert_eq!(
                parse_push(kind, &body).unwrap(),
                ImagePush {
                    registry: registry.into(),
                    repository: repository.into(),
                    tag: tag.into()
                },
                "{kind}"
            );
        }
        assert_eq!(
            parse_push("docker.io", &json!({"repository": {"repo_name": "a/b"}})).unwrap_err(),
            "push_data.tag is missing"
        );
        assert!(
            parse_push(
                "generic",
                &json!({"image": "ghcr.io/acme/api:2", "tag": "2"})
            )
            .unwrap_err()
            .contains("put the tag in `tag`")
        );
        assert_eq!(
            parse_push("generic", &json!({"tag": "2"})).unwrap_err(),
            "image (or registry) is missing"
        );
        assert!(
            parse_push("ecr", &json!({}))
                .unwrap_err()
                .contains("expected docker.io")
        );
    }
}

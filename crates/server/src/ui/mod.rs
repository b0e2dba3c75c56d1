//! The web UI: server-rendered pages over the same controller calls as the API, a little plain
//! JavaScript for live updates (the API's event stream) and actions (the API itself, with the
//! session's CSRF token), assets compiled into the binary.
//!
//! - Sign in with an API token: a session cookie (HttpOnly, SameSite=Strict) and a CSRF token;
//!   the roles are the token's, checked and audited by the API as for any client.
//! - Every page answers with a Content Security Policy that allows no inline script or style
//!   and no other origin; values are escaped by the template engine (maud).
//! - The list is paged and filtered on the server: the browser never downloads every
//!   Application.

mod assets;
mod pages;
mod session;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bosun_api::Application;
use maud::Markup;
use serde::Deserialize;

pub use session::Sessions;
pub(crate) use session::{Session, same};

use crate::api::Shared;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/applications") }))
        .route("/ui", get(|| async { Redirect::to("/ui/applications") }))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/applications", get(list))
        .route("/ui/applications/{name}", get(application))
        .route("/ui/applications/{name}/resource", get(resource))
        .route("/ui/images", get(images))
        .route("/ui/assets/{file}", get(asset))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn page(markup: Markup) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// The signed-in session, if any.
fn signed_in(state: &Shared, headers: &HeaderMap) -> Option<Session> {
    state
        .sessions
        .from_headers(headers)
        .map(|(_, session)| session)
}

/// To the sign-in page, which comes back here.
fn sign_in(here: &str) -> Response {
    Redirect::to(&format!(
        "/ui/login?next={}",
        pages::encode_keeping(here, b"/")
    ))
    .into_response()
}

#[derive(Deserialize, Default)]
struct Next {
    #[serde(default)]
    next: String,
}

/// Only a path of this UI: a sign-in link must not send anyone elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/ui/") && !next.starts_with("//") && !next.contains("://") {
        next
    } else {
        "/ui/applications"
    }
}

async fn login_page(Query(next): Query<Next>) -> Response {
    page(pages::login(None, safe_next(&next.next)))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// Whether a form post came from this UI's own page: browsers say where a request comes from
/// (`Sec-Fetch-Site`, `Origin`), so another site cannot sign a visitor in as someone else.
fn same_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) == Some(host),
        _ => true,
    }
}

async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    if !same_site(&headers) {
        tracing::warn!("UI sign-in refused: posted from another site");
        return (StatusCode::FORBIDDEN, "sign in from this server's own page").into_response();
    }
    let Some(caller) = state
        .tokens
        .caller(Some(&format!("Bearer {}", form.token.trim())))
    else {
        tracing::warn!("UI sign-in refused: unknown token");
        let mut response = page(pages::login(
            Some("That token is not one this server knows."),
            &next,
        ));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    };
    let _ = state.controller.audit(&caller.name, "ui-sign-in", "", "");
    let (id, _) = state.sessions.open(caller);
    // Behind a TLS proxy the cookie is sent over https only.
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{}",
        session::COOKIE,
        if secure { "; Secure" } else { "" }
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_posted_from_another_site_is_refused() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(same_site(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(same_site(&headers(&[])));
        assert!(!same_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080")
        ])));
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((id, session)) = state.sessions.from_headers(&headers) {
        if !same(&form.csrf, &session.csrf) {
            return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
        }
        state.sessions.close(&id);
    }
    (
        [(
            header::SET_COOKIE,
            format!(
                "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                session::COOKIE
            ),
        )],
        Redirect::to("/ui/login"),
    )
        .into_response()
}

async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(filters): Query<pages::Filters>,
) -> Response {
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in("/ui/applications");
    };
    let mut apps: Vec<Application> = state.controller.list();
    apps.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let matching: Vec<&Application> = apps.iter().filter(|a| filters.matches(a)).collect();
    if filters.partial == "rows" {
        return page(pages::rows(&matching, apps.len(), &filters));
    }
    // Sync and health statuses counted apart (both have an `Unknown`).
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for app in &apps {
        *counts
            .entry(("Sync", app.status.sync.status.as_str()))
            .or_default() += 1;
        *counts
            .entry(("Health", app.status.health.status.as_str()))
            .or_default() += 1;
    }
    let counts: Vec<(String, String, usize)> = counts
        .into_iter()
        .map(|((kind, status), n)| (kind.to_string(), status.to_string(), n))
        .collect();
    page(pages::list(
        &session,
        &matching,
        apps.len(),
        &counts,
        &filters,
    ))
}

#[derive(Deserialize, Default)]
struct Partial {
    #[serde(default)]
    partial: String,
}

async fn application(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(partial): Query<Partial>,
) -> Response {
    let here = format!("/ui/applications/{name}");
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in(&here);
    };
    let Ok(app) = state.controller.get(&name) else {
        let mut response = page(pages::not_found(
            &session,
            &format!("No Application is named {name}."),
        ));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    // The same calls as the API's resource-tree, diff and history (Secrets masked by the plan).
    let nodes = state
        .controller
        .resource_tree(&name)
        .await
        .unwrap_or_default();
    let plan = state.controller.diff(&name).await.ok();
    let history = state.controller.history(&name).unwrap_or_default();
    let rollouts: Vec<bosun_api::RolloutView> = app
        .status
        .resources
        .iter()
        .filter(|r| r.kind == "Rollout" && r.group == "argoproj.io")
        .flat_map(|r| crate::rollouts::find(&state, &r.namespace, &r.name))
        .filter_map(|key| crate::rollouts::view(&state, &key).ok())
        .collect();
    let main = pages::app_main(
        &app,
        &nodes,
        plan.as_ref(),
        &history,
        &rollouts,
        session.caller.role,
    );
    if partial.partial == "main" {
        return page(main);
    }
    page(pages::app_page(&session, &app, main))
}

/// One object of an Application: its live manifest, its Events and (a Pod, or a workload with
/// Pods) its containers' logs — built by the same functions as the API's answers.
async fn resource(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<crate::inspect::LogQuery>,
    Query(view): Query<pages::ManifestView>,
) -> Response {
    let here = format!(
        "/ui/applications/{}/resource?{}",
        pages::encode(&name),
        pages::object_query(&query)
    );
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in(&here);
    };
    let not_found = |what: String, status: StatusCode| {
        let mut response = page(pages::not_found(&session, &what));
        *response.status_mut() = status;
        response
    };
    if state.controller.get(&name).is_err() {
        return not_found(
            format!("No Application is named {name}."),
            StatusCode::NOT_FOUND,
        );
    }
    let (object, options) = match (query.object(), query.options()) {
        (Ok(object), Ok(options)) => (object, options),
        (Err(e), _) | (_, Err(e)) => return not_found(e.1, e.0),
    };
    let manifest = crate::inspect::manifest_of(&state, &name, &object, !view.managed_fields).await;
    if let Err(e) = &manifest
        && e.0 == StatusCode::NOT_FOUND
        && e.1.contains("is not a resource of")
    {
        return not_found(e.1.clone(), StatusCode::NOT_FOUND);
    }
    let events = crate::inspect::events_of(&state, &name, &object).await;
    let logs = if pages::has_logs(&object.kind) {
        Some(crate::inspect::logs_of(&state, &name, &object, &options).await)
    } else {
        None
    };
    page(pages::resource(
        &session,
        pages::ResourcePage {
            app: &name,
            object: &object,
            query: &query,
            view: &view,
            manifest: manifest.map_err(|e| e.1),
            events: events.map_err(|e| e.1),
            logs: logs.map(|l| l.map_err(|e| e.1)),
        },
    ))
}

async fn images(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in("/ui/images");
    };
    // Each Application's view as `GET /api/v1/images/NAME` answers it, history included.
    let mut apps: Vec<bosun_api::ImageApplication> = state
        .images
        .list()
        .iter()
        .filter_map(|app| state.images.get(&app.app))
        .collect();
    apps.sort_by(|a, b| a.app.cmp(&b.app));
    page(pages::images(&session, &apps))
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::find(&file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

//! The Kubernetes REST API over HTTP: URL routing to resource types, the verbs (get, list, watch,
//! create, update, patch, delete, deletecollection) and the /status and /scale subresources.

pub mod body;
pub mod discovery;
pub mod logs;
pub mod openapi;
pub mod protobuf;
pub mod table;
pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::objects::{DeleteOptions, Propagation, WriteOptions};
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::status::{ApiError, ApiResult};
use body::MediaType;

/// What a URL under /api or /apis names.
#[derive(Debug)]
enum Target {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/GROUP`
    Group(String),
    /// `/api/v1`, `/apis/GROUP/VERSION`
    ResourceList(String, String),
    Collection {
        rt: ResourceType,
        namespace: Option<String>,
    },
    Object {
        rt: ResourceType,
        namespace: Option<String>,
        name: String,
        subresource: Option<String>,
    },
}

fn route(state: &Shared, path: &str) -> ApiResult<Target> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api"] => return Ok(Target::CoreVersions),
        ["apis"] => return Ok(Target::Groups),
        ["apis", g] => return Ok(Target::Group(g.to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let registry = &state.objects.registry;
    let lookup = |plural: &str| {
        registry
            .by_plural(group, version, plural)
            .ok_or_else(|| ApiError::no_route(path))
    };
    let is_namespace_subresource = |s: &str| matches!(s, "status" | "finalize");
    Ok(match rest {
        [] => Target::ResourceList(group.to_string(), version.to_string()),
        // /api/v1/namespaces/NAME/status is the namespace's own subresource.
        ["namespaces", name, sub] if group.is_empty() && is_namespace_subresource(sub) => {
            Target::Object {
                rt: lookup("namespaces")?,
                namespace: None,
                name: name.to_string(),
                subresource: Some(sub.to_string()),
            }
        }
        ["namespaces", ns, plural, more @ ..] => {
            let rt = lookup(plural)?;
            if !rt.namespaced {
                return Err(ApiError::no_route(path));
            }
            let namespace = Some(ns.to_string());
            match more {
                [] => Target::Collection { rt, namespace },
                [name] => Target::Object {
                    rt,
                    namespace,
                    name: name.to_string(),
                    subresource: None,
                },
                [name, sub] => Target::Object {
                    rt,
                    namespace,
                    name: name.to_string(),
                    subresource: Some(sub.to_string()),
                },
                _ => return Err(ApiError::no_route(path)),
            }
        }
        [plural] => Target::Collection {
            rt: lookup(plural)?,
            namespace: None,
        },
        [plural, name] => {
            let rt = lookup(plural)?;
            if rt.namespaced {
                return Err(ApiError::no_route(path));
            }
            Target::Object {
                rt,
                namespace: None,
                name: name.to_string(),
                subresource: None,
            }
        }
        [plural, name, sub] => {
            let rt = lookup(plural)?;
            if rt.namespaced {
                return Err(ApiError::no_route(path));
            }
            Target::Object {
                rt,
                namespace: None,
                name: name.to_string(),
                subresource: Some(sub.to_string()),
            }
        }
        _ => return Err(ApiError::no_route(path)),
    })
}

/// The request's query, and what the apiserver derives from its headers.
pub struct Request {
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    fn wants_table(&self) -> bool {
        self.headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"))
    }

    fn user_agent(&self) -> &str {
        self.headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// `fieldManager`, or the name the apiserver derives from the User-Agent.
    fn manager(&self) -> String {
        match self.param("fieldManager") {
            Some(m) => m.to_string(),
            None => crate::field_manager::default_manager(self.user_agent()),
        }
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        Ok(WriteOptions {
            dry_run: self.dry_run(),
            manager: self.manager(),
            force: self.param("force") == Some("true"),
            field_validation: Some(crate::codec::FieldValidation::parse(
                self.param("fieldValidation"),
            )?),
            ..WriteOptions::default()
        })
    }
}

/// Entry point for every request under /api and /apis.
pub async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = Request { query, headers };
    match dispatch(&state, &method, uri.path(), &request, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (code, axum::Json(value)).into_response()
}

async fn dispatch(
    state: &Shared,
    method: &Method,
    path: &str,
    req: &Request,
    body: Body,
) -> ApiResult<Response> {
    let target = route(state, path)?;
    let registry = &state.objects.registry;
    let accept = req
        .headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match target {
        Target::CoreVersions | Target::Groups if discovery::wants_aggregated(accept) => {
            let doc = discovery::aggregated(registry, matches!(target, Target::CoreVersions));
            let mut response = json_response(StatusCode::OK, &doc);
            response.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static(discovery::AGGREGATED_MEDIA_TYPE),
            );
            Ok(response)
        }
        Target::CoreVersions => Ok(json_response(StatusCode::OK, &discovery::core_versions())),
        Target::Groups => Ok(json_response(
            StatusCode::OK,
            &discovery::group_list(registry),
        )),
        Target::Group(g) => discovery::group(registry, &g)
            .map(|v| json_response(StatusCode::OK, &v))
            .ok_or_else(|| ApiError::no_route(path)),
        Target::ResourceList(g, v) => discovery::resource_list(registry, &g, &v)
            .map(|v| json_response(StatusCode::OK, &v))
            .ok_or_else(|| ApiError::no_route(path)),
        Target::Collection { rt, namespace } => {
            let ns = namespace.as_deref();
            match *method {
                Method::GET if req.param("watch").is_some_and(|w| w == "true" || w == "1") => {
                    watch::watch(state.clone(), rt, namespace, req).await
                }
                Method::GET => list(state, &rt, ns, req),
                Method::POST => {
                    let media = body::media_type(&req.headers)?;
                    let object = body::decode(&body::read(body).await?, media)?;
                    let created = state.objects.create(
                        &rt,
                        ns.unwrap_or_default(),
                        object,
                        &req.write_options()?,
                    )?;
                    Ok(json_response(StatusCode::CREATED, &created))
                }
                Method::DELETE => delete_collection(state, &rt, ns, req, body).await,
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Target::Object {
            rt,
            namespace,
            name,
            subresource,
        } => {
            let ns = namespace.as_deref().unwrap_or_default();
            match subresource.as_deref() {
                None | Some("status") => {}
                Some("scale") if rt.scale.is_some() => {
                    return scale(state, &rt, ns, &name, method, req, body).await;
                }
                Some("finalize") if rt.kind == "Namespace" => {}
                Some("log") if rt.kind == "Pod" && rt.group.is_empty() => {
                    if *method != Method::GET {
                        return Err(ApiError::method_not_allowed());
                    }
                    return logs::pod_log(state, ns, &name, req);
                }
                Some(_) => return Err(ApiError::no_route(path)),
            }
            if subresource.as_deref() == Some("status") && !rt.status_subresource {
                return Err(ApiError::no_route(path));
            }
            // The namespace's finalize subresource writes spec.finalizers, which we store as-is.
            let sub = subresource.as_deref().filter(|s| *s == "status");
            match *method {
                Method::GET => {
                    let object = state.objects.get(&rt, ns, &name)?;
                    if req.wants_table() {
                        return Ok(json_response(
                            StatusCode::OK,
                            &table::table(&rt, std::slice::from_ref(&object), None),
                        ));
                    }
                    Ok(json_response(StatusCode::OK, &object))
                }
                Method::PUT => {
                    let media = body::media_type(&req.headers)?;
                    let object = body::decode(&body::read(body).await?, media)?;
                    let stored = state.objects.replace(
                        &rt,
                        ns,
                        &name,
                        sub,
                        object,
                        &req.write_options()?,
                    )?;
                    Ok(json_response(StatusCode::OK, &stored))
                }
                Method::PATCH => {
                    let media = body::media_type(&req.headers)?;
                    let bytes = body::read(body).await?;
                    patch(state, &rt, ns, &name, sub, media, &bytes, req)
                }
                Method::DELETE => {
                    let bytes = body::read(body).await?;
                    let opts = delete_options(req, &bytes)?;
                    let result = state.objects.delete(&rt, ns, &name, &opts)?;
                    let pending = result["metadata"]["deletionTimestamp"].is_string()
                        && result["metadata"]["finalizers"]
                            .as_array()
                            .is_some_and(|f| !f.is_empty());
                    // The apiserver answers 202 only for an object left pending by a request
                    // that set orphanDependents=false; every other delete is 200 OK.
                    let code = if pending && orphan_dependents(req, &bytes) == Some(false) {
                        StatusCode::ACCEPTED
                    } else {
                        StatusCode::OK
                    };
                    Ok(json_response(code, &result))
                }
                _ => Err(ApiError::method_not_allowed()),
            }
        }
    }
}

/// Opaque continue token: the key after which the next page starts.
fn encode_continue(rv: u64, namespace: &str, name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"rv": rv, "ns": namespace, "name": name}).to_string())
}

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((
        v["ns"].as_str().ok_or_else(bad)?.to_string(),
        v["name"].as_str().ok_or_else(bad)?.to_string(),
    ))
}

/// Selectors of a list or watch request.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub fn from_request(req: &Request) -> ApiResult<Self> {
        Ok(Self {
            labels: LabelSelector::parse(req.param("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(req.param("fieldSelector").unwrap_or_default())?,
        })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

fn list(
    state: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
    req: &Request,
) -> ApiResult<Response> {
    let filter = Filter::from_request(req)?;
    let listing = state.objects.list(rt, namespace);
    let start = req.param("continue").map(decode_continue).transpose()?;
    let limit: Option<usize> = match req.param("limit") {
        None => None,
        Some(l) => Some(
            l.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
    }
    .filter(|l| *l > 0);
    let mut items: Vec<Arc<Value>> = Vec::new();
    let mut remaining = 0usize;
    let mut next: Option<String> = None;
    for item in &listing.items {
        let key = (
            item["metadata"]["namespace"].as_str().unwrap_or_default(),
            item["metadata"]["name"].as_str().unwrap_or_default(),
        );
        if let Some((ns, name)) = &start
            && key <= (ns.as_str(), name.as_str())
        {
            continue;
        }
        if !filter.matches(item) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        items.push(item.clone());
    }
    if remaining > 0
        && let Some(last) = items.last()
    {
        next = Some(encode_continue(
            listing.rv,
            last["metadata"]["namespace"].as_str().unwrap_or_default(),
            last["metadata"]["name"].as_str().unwrap_or_default(),
        ));
    }
    if req.wants_table() {
        let mut t = table::table(rt, &items, Some(listing.rv));
        if let Some(token) = &next {
            t["metadata"]["continue"] = json!(token);
        }
        return Ok(json_response(StatusCode::OK, &t));
    }
    let mut metadata = json!({"resourceVersion": listing.rv.to_string()});
    if let Some(token) = next {
        metadata["continue"] = json!(token);
        // As ListMeta documents: with a label or field selector the count is unknown and omitted.
        if req.param("labelSelector").is_none() && req.param("fieldSelector").is_none() {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let list = json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list))
}

/// The deprecated `orphanDependents` of a delete, from the query or the DeleteOptions body.
fn orphan_dependents(req: &Request, body: &[u8]) -> Option<bool> {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["orphanDependents"].as_bool());
    from_body.or(req.param("orphanDependents").map(|v| v == "true"))
}

fn delete_options(req: &Request, body: &[u8]) -> ApiResult<DeleteOptions> {
    let from_body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let policy = req
        .param("propagationPolicy")
        .map(String::from)
        .or_else(|| from_body["propagationPolicy"].as_str().map(String::from))
        .or_else(|| {
            match from_body["orphanDependents"]
                .as_bool()
                .or(req.param("orphanDependents").map(|v| v == "true"))
            {
                Some(true) => Some("Orphan".into()),
                _ => None,
            }
        });
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = req.dry_run()
        || from_body["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run,
        propagation,
        resource_version: from_body["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        uid: from_body["preconditions"]["uid"].as_str().map(String::from),
    })
}

async fn delete_collection(
    state: &Shared,
    rt: &ResourceType,
    namespace: Option<&str>,
    req: &Request,
    body: Body,
) -> ApiResult<Response> {
    let filter = Filter::from_request(req)?;
    let bytes = body::read(body).await?;
    let opts = delete_options(req, &bytes)?;
    let listing = state.objects.list(rt, namespace);
    let mut deleted = Vec::new();
    for item in listing.items.iter().filter(|i| filter.matches(i)) {
        let ns = item["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        match state.objects.delete(rt, ns, name, &opts) {
            Ok(o) => deleted.push(o),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": state.objects.store.current_rv().to_string()},
        "items": deleted,
    });
    Ok(json_response(StatusCode::OK, &list))
}

#[allow(clippy::too_many_arguments)]
fn patch(
    state: &Shared,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    media: MediaType,
    bytes: &[u8],
    req: &Request,
) -> ApiResult<Response> {
    let opts = req.write_options()?;
    if media == MediaType::ApplyPatch {
        if req.param("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PATCH /apply requires fieldManager to be set (the fieldManager query parameter is missing)",
            ));
        }
        let applied = body::decode(bytes, media)?;
        let (object, created) =
            crate::field_manager::apply(&state.objects, rt, ns, name, sub, applied, &opts)?;
        let code = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok(json_response(code, &object));
    }
    let patch_doc = body::decode(bytes, media)?;
    let patched = state.objects.modify(rt, ns, name, sub, &opts, |live| {
        // A merge patch that sets metadata.resourceVersion is conditional on it.
        if media != MediaType::JsonPatch {
            crate::objects::expect_resource_version(rt, name, &patch_doc, live)?;
        }
        crate::field_manager::patch(rt, live, &patch_doc, media)
    })?;
    Ok(json_response(StatusCode::OK, &patched))
}

/// GET/PUT/PATCH of `/scale`: an autoscaling/v1 Scale view of spec.replicas.
async fn scale(
    state: &Shared,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    method: &Method,
    req: &Request,
    body: Body,
) -> ApiResult<Response> {
    let paths = rt
        .scale
        .clone()
        .ok_or_else(|| ApiError::no_route("scale"))?;
    let to_scale = |o: &Value| -> Value {
        let selector = match &paths.label_selector {
            Some(path) => crate::resources::at_path(o, path)
                .as_str()
                .unwrap_or_default()
                .to_string(),
            None => crate::selectors::LabelSelector::from_object(&o["spec"]["selector"])
                .ok()
                .map(|_| selector_string(&o["spec"]["selector"]))
                .unwrap_or_default(),
        };
        let spec_replicas = crate::resources::at_path(o, &paths.spec_replicas)
            .as_i64()
            .unwrap_or(1);
        let status_replicas = crate::resources::at_path(o, &paths.status_replicas)
            .as_i64()
            .unwrap_or(0);
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": o["metadata"]["name"],
                "namespace": o["metadata"]["namespace"],
                "uid": o["metadata"]["uid"],
                "resourceVersion": o["metadata"]["resourceVersion"],
                "creationTimestamp": o["metadata"]["creationTimestamp"],
            },
            "spec": {"replicas": spec_replicas},
            "status": {"replicas": status_replicas, "selector": selector},
        })
    };
    if *method == Method::GET {
        let object = state.objects.get(rt, ns, name)?;
        return Ok(json_response(StatusCode::OK, &to_scale(&object)));
    }
    let media = body::media_type(&req.headers)?;
    let bytes = body::read(body).await?;
    let doc = body::decode(&bytes, media)?;
    let opts = req.write_options()?;
    let updated = state.objects.modify(rt, ns, name, None, &opts, |live| {
        let current = to_scale(live);
        let wanted = match *method {
            Method::PUT => {
                crate::objects::expect_resource_version(rt, name, &doc, live)?;
                doc.clone()
            }
            Method::PATCH => crate::field_manager::patch(rt, &current, &doc, media)?,
            _ => return Err(ApiError::method_not_allowed()),
        };
        let replicas = wanted["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("Scale spec.replicas must be an integer"))?;
        let mut next = live.clone();
        crate::resources::set_at_path(&mut next, &paths.spec_replicas, json!(replicas));
        Ok(next)
    })?;
    Ok(json_response(StatusCode::OK, &to_scale(&updated)))
}

/// A `metav1.LabelSelector` in the string form (`app=web,tier in (a,b)`).
pub fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(labels) = selector["matchLabels"].as_object() {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    if let Some(exprs) = selector["matchExpressions"].as_array() {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                _ => format!("!{key}"),
            });
        }
    }
    parts.join(",")
}

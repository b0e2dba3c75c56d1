//! Which live objects an Application owns.
//!
//! Argo CD 3's annotation tracking: every applied object carries the annotation
//! `bosun.dev/tracking-id: <app>:<group>/<Kind>:<namespace>/<name>` and the label
//! `bosun.dev/app: <app>`. The label only makes listing cheap (a label selector); ownership is
//! decided by the annotation, which must name the object it sits on exactly. Controllers copy
//! labels and annotations onto the objects they create (a Deployment's onto its ReplicaSets, a
//! Helm chart's onto a copy), and those copies name another object, so they are never counted
//! as ours and never pruned.

use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::key::ResourceKey;
use crate::resolve::Resolver;

/// Label carrying the Application name, for listing by selector.
pub const APP_LABEL: &str = "bosun.dev/app";
/// Annotation carrying the tracking id, which decides ownership.
pub const TRACKING_ANNOTATION: &str = "bosun.dev/tracking-id";

/// `<app>:<group>/<Kind>:<namespace>/<name>` for the object as it is (namespace already set);
/// group and namespace are empty for the core group and cluster-scoped objects.
pub fn tracking_id(object: &Value, app: &str) -> String {
    let key = ResourceKey::of(object);
    format!(
        "{app}:{}/{}:{}/{}",
        key.group,
        key.kind,
        key.namespace.as_deref().unwrap_or(""),
        key.name
    )
}

/// Adds the app label and the tracking annotation. The object's namespace must already be the
/// one it will be applied to, since the tracking id names it.
pub fn stamp(object: &mut Value, app: &str) {
    let id = tracking_id(object, app);
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let metadata = object_field(root, "metadata");
    object_field(metadata, "labels").insert(APP_LABEL.to_owned(), Value::from(app));
    object_field(metadata, "annotations").insert(TRACKING_ANNOTATION.to_owned(), Value::from(id));
}

/// Whether `object` was created by Application `app`: its tracking annotation names exactly
/// this app and this object.
pub fn is_tracked_by(object: &Value, app: &str) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TRACKING_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|id| id == tracking_id(object, app))
}

/// The Application whose tracking annotation is on `object` and names exactly this object (a
/// copy made by a controller names another object, so it has no owner).
pub fn owner(object: &Value) -> Option<String> {
    let id = object
        .pointer("/metadata/annotations")?
        .get(TRACKING_ANNOTATION)?
        .as_str()?;
    let (app, _) = id.split_once(':')?;
    (tracking_id(object, app) == id).then(|| app.to_owned())
}

/// Every live object owned by `app`: each listable resource type is listed across all
/// namespaces with the app label selector, and only exact annotation matches are kept. Types
/// the client may not list (403) or the server cannot list (404, 405) are skipped: missing one
/// only means pruning less, never pruning something that is not ours.
pub async fn find_tracked(resolver: &Resolver, app: &str) -> Result<Vec<Value>> {
    let selector = format!("{APP_LABEL}={app}");
    let params = ListParams::default().labels(&selector);
    let mut found = Vec::new();
    for resolved in resolver.listable().await {
        let resource = &resolved.resource;
        let api: Api<DynamicObject> = Api::all_with(resolver.client().clone(), resource);
        let list = match api.list(&params).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if (403..=405).contains(&status.code) => {
                tracing::debug!(resource = %resource.plural, code = status.code, "not listable; skipped");
                continue;
            }
            Err(source) => {
                return Err(Error::List {
                    resource: format!("{}/{}", resource.api_version, resource.plural),
                    app: app.to_owned(),
                    cause: Box::new(source),
                });
            }
        };
        for item in list.items {
            let mut value = serde_json::to_value(item).unwrap_or(Value::Null);
            // List items may come without apiVersion/kind; the tracking id needs them.
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), resource.api_version.clone().into());
                map.insert("kind".into(), resource.kind.clone().into());
            }
            if is_tracked_by(&value, app) {
                found.push(value);
            }
        }
    }
    // One object can be served by two groups (an old alias); its tracking id names one group.
    found.sort_by_key(ResourceKey::of);
    found.dedup_by_key(|v| ResourceKey::of(v));
    Ok(found)
}

/// `parent[name]` as an object, created (or replaced when it is not an object) if needed.
fn object_field<'a>(parent: &'a mut Map<String, Value>, name: &str) -> &'a mut Map<String, Value> {
    let slot = parent
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

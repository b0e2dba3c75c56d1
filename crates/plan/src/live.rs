//! What the cluster would make of a desired object, and what it holds now.
//!
//! The prediction is a server-side apply dry run with bosun's field manager: the server fills in
//! defaults, runs admission and merges with the fields other managers own, exactly as a real
//! sync would, without storing anything. Comparing that to the live object is how `kubectl diff
//! --server-side` and Argo CD's server-side diff find drift, and it keeps bosun from having to
//! know any kind's defaults.

use std::collections::HashMap;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::key::ResourceKey;
use crate::resolve::{Resolved, Resolver};
use crate::tracking;

/// A desired object made ready for the cluster: resolved to its resource, namespace set,
/// tracking stamped. The Apply stage sends exactly `object`.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub key: ResourceKey,
    pub resolved: Resolved,
    pub object: Value,
}

/// The server's answer for one desired object.
#[derive(Clone, Debug)]
pub struct Predicted {
    pub prepared: Prepared,
    /// What the object would look like after the apply (dry-run result).
    pub predicted: Value,
    /// The object in the cluster now; `None` when it does not exist.
    pub live: Option<Value>,
    /// The cluster refused the change to the live object (422 Invalid: a selector, a Job's
    /// template, data marked immutable): its words. `predicted` is then the object as Git has
    /// it. The Application is out of sync on it, as Argo CD shows it, and the sync fails on it —
    /// or, with `Force=true`, deletes and re-creates it.
    pub refused: Option<String>,
}

/// Resolves `desired`'s kind, gives a namespaced object without a namespace the destination
/// namespace (and takes it off a cluster-scoped one, as Argo CD does) and stamps the tracking
/// label and annotation for `app`.
pub async fn prepare(
    resolver: &Resolver,
    desired: &Value,
    app: &str,
    destination_namespace: &str,
) -> Result<Prepared> {
    let key = ResourceKey::of(desired);
    let invalid = |reason: &str| Error::InvalidObject {
        key: key.clone(),
        reason: reason.to_owned(),
    };
    let api_version = desired
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("apiVersion is missing"))?;
    if key.kind.is_empty() {
        return Err(invalid("kind is missing"));
    }
    if key.name.is_empty() {
        return Err(invalid(
            "metadata.name is missing (generateName is only allowed on hooks)",
        ));
    }
    let resolved = resolver
        .resolve(api_version, &key.kind)
        .await?
        .ok_or_else(|| Error::UnknownKind {
            key: key.clone(),
            api_version: api_version.to_owned(),
        })?;
    let object = place(desired, resolved.namespaced(), destination_namespace)
        .map_err(|reason| invalid(&reason))
        .map(|mut object| {
            tracking::stamp(&mut object, app);
            object
        })?;
    Ok(Prepared {
        key: ResourceKey::of(&object),
        resolved,
        object,
    })
}

use bosun_model::argo::{
    ROLLOUT_MANAGED_BY as MANAGED_BY_ROLLOUTS, ROLLOUT_POD_TEMPLATE_HASH as ROLLOUT_HASH,
};

/// Whether a prepared object may need [`keep_rollout_selector`] (a core Service).
pub fn is_service(prepared: &Prepared) -> bool {
    prepared.key.group.is_empty() && prepared.key.kind == "Service"
}

/// A Service a Rollout manages keeps the ReplicaSet hash the Rollout put in its selector. A
/// Service's `spec.selector` is an atomic map, so a forced apply of Git's selector would take
/// the hash out — the Service would send traffic to every version until the Rollout put it
/// back, and the Application would read OutOfSync after each sync (as Argo CD with
/// server-side apply does; Argo Rollouts issue 3437).
///
/// Whether it kept one: then what is applied is only right while the live Service still has
/// that hash (a promotion can move it between the read and the write), and the caller makes
/// the write conditional on the live resourceVersion.
pub fn keep_rollout_selector(prepared: &mut Prepared, live: Option<&Value>) -> bool {
    let Some(live) = live else { return false };
    if !is_service(prepared) || live["metadata"]["annotations"][MANAGED_BY_ROLLOUTS].is_null() {
        return false;
    }
    let Some(hash) = live["spec"]["selector"][ROLLOUT_HASH].as_str() else {
        return false;
    };
    let Some(selector) = prepared
        .object
        .pointer_mut("/spec/selector")
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    if selector.contains_key(ROLLOUT_HASH) {
        return false;
    }
    selector.insert(ROLLOUT_HASH.to_string(), Value::String(hash.to_string()));
    true
}

/// `desired` with its namespace made right for its scope.
pub(crate) fn place(
    desired: &Value,
    namespaced: bool,
    destination_namespace: &str,
) -> Result<Value, String> {
    let mut object = desired.clone();
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err("metadata is missing".into());
    };
    let has_namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .is_some_and(|ns| !ns.is_empty());
    if !namespaced {
        metadata.remove("namespace");
    } else if !has_namespace {
        if destination_namespace.is_empty() {
            return Err(
                "namespaced object without metadata.namespace, and the destination has no namespace"
                    .into(),
            );
        }
        metadata.insert("namespace".into(), destination_namespace.into());
    }
    Ok(object)
}

/// The API for the prepared object's resource, in its namespace when it has one.
pub(crate) fn api_for(resolver: &Resolver, prepared: &Prepared) -> Api<DynamicObject> {
    let client = resolver.client().clone();
    match &prepared.key.namespace {
        Some(ns) if prepared.resolved.namespaced() => {
            Api::namespaced_with(client, ns, &prepared.resolved.resource)
        }
        _ => Api::all_with(client, &prepared.resolved.resource),
    }
}

/// The live object, `None` when the server says 404.
pub async fn get_live(resolver: &Resolver, prepared: &Prepared) -> Result<Option<Value>> {
    let api = api_for(resolver, prepared);
    match api.get_opt(&prepared.key.name).await {
        Ok(found) => Ok(found.map(|object| to_value(object, &prepared.resolved))),
        Err(source) => Err(Error::Get {
            key: prepared.key.clone(),
            cause: Box::new(source),
        }),
    }
}

/// Prepares `desired` (see [`prepare`]), reads the live object and asks the server what a
/// forced server-side apply by `manager` would produce, without storing it.
///
/// When the object does not exist yet and the server answers the dry run with 404 (its
/// namespace is created by the same sync), the prepared object stands in for the prediction:
/// the object is Missing either way, and there is nothing live to compare it with.
pub async fn predict(
    resolver: &Resolver,
    desired: &Value,
    app: &str,
    destination_namespace: &str,
    manager: &str,
) -> Result<Predicted> {
    predict_with(
        resolver,
        desired,
        app,
        destination_namespace,
        manager,
        &HashMap::new(),
        None,
    )
    .await
}

/// [`predict`], taking the live object from `listed` (objects already read in bulk, by key)
/// when it holds this object at the desired apiVersion, instead of reading it again, and the
/// dry run's answer from `memo` when neither the desired nor the live object changed since.
pub async fn predict_with(
    resolver: &Resolver,
    desired: &Value,
    app: &str,
    destination_namespace: &str,
    manager: &str,
    listed: &HashMap<ResourceKey, Value>,
    memo: Option<&crate::memo::DryRunMemo>,
) -> Result<Predicted> {
    let mut prepared = prepare(resolver, desired, app, destination_namespace).await?;
    let live = match listed.get(&prepared.key) {
        Some(object)
            if object.get("apiVersion").and_then(Value::as_str)
                == Some(prepared.resolved.resource.api_version.as_str()) =>
        {
            Some(object.clone())
        }
        _ => get_live(resolver, &prepared).await?,
    };
    keep_rollout_selector(&mut prepared, live.as_ref());
    if let (Some(memo), Some(live)) = (memo, &live)
        && let Some(predicted) = memo.recall(app, &prepared.key, &prepared.object, live)
    {
        return Ok(Predicted {
            prepared,
            predicted,
            live: Some(live.clone()),
            refused: None,
        });
    }
    let api = api_for(resolver, &prepared);
    let params = PatchParams::apply(manager).force().dry_run();
    let mut refused = None;
    let predicted = match api
        .patch(&prepared.key.name, &params, &Patch::Apply(&prepared.object))
        .await
    {
        Ok(object) => to_value(object, &prepared.resolved),
        Err(kube::Error::Api(status)) if live.is_none() && status.code == 404 => {
            prepared.object.clone()
        }
        Err(kube::Error::Api(status)) if live.is_some() && status.code == 422 => {
            refused = Some(status.message);
            prepared.object.clone()
        }
        Err(source) => {
            return Err(Error::DryRun {
                key: prepared.key.clone(),
                cause: Box::new(source),
            });
        }
    };
    Ok(Predicted {
        prepared,
        predicted,
        live,
        refused,
    })
}

/// A server object as JSON, with apiVersion/kind filled in from discovery if the server left
/// them out.
pub fn to_value(object: DynamicObject, resolved: &Resolved) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| resolved.resource.api_version.clone().into());
        map.entry("kind")
            .or_insert_with(|| resolved.resource.kind.clone().into());
    }
    value
}

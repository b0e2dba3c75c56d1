//! Applications as Kubernetes objects, as Argo CD keeps them: `argoproj.io/v1alpha1`
//! `Application`s in a namespace of the management cluster (`argocd` by habit). bosun installs
//! the CRD where it is missing, keeps a watch on the namespace (a `kubectl apply` or `delete` is
//! seen within the second, and only a change of what the user wrote reloads the catalog, not
//! bosun's own status writes), writes each Application's status back through the status
//! subresource so `kubectl get applications` shows SYNC STATUS and HEALTH STATUS, and deletes an
//! Application's resources before its `resources-finalizer.argocd.argoproj.io` is removed.
//!
//! Argo CD Image Updater v1's `ImageUpdater` objects (`argocd-image-updater.argoproj.io/v1alpha1`)
//! are kept beside them, as Image Updater users `kubectl apply` them: the same namespace, the same
//! kind of watch (one [`Watched`] per kind), read with the parser of the files' ImageUpdaters.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use tokio::sync::watch;

use bosun_model::image_updater::{self, ImageUpdaterResource};
use bosun_model::{Application, PropagationPolicy};

/// Argo CD's finalizer for a cascading delete (foreground by default); the `/background` and
/// `/foreground` forms name the propagation policy.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// The field manager of bosun's status and finalizer writes.
const MANAGER: &str = "bosun";

fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    )
}

fn image_updater_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "argocd-image-updater.argoproj.io",
            "v1alpha1",
            image_updater::KIND,
        ),
        "imageupdaters",
    )
}

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    }
}

/// Only what the user wrote: status, bosun's own writes and the server's bookkeeping are left
/// out, so a status write neither looks like a change nor reaches the Application model.
fn user_part(object: &Value) -> Value {
    let meta = &object["metadata"];
    let mut metadata = serde_json::Map::new();
    for key in ["name", "namespace", "labels", "annotations", "finalizers"] {
        if let Some(value) = meta.get(key).filter(|v| !v.is_null()) {
            metadata.insert(key.into(), value.clone());
        }
    }
    if let Some(annotations) = metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    json!({
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "metadata": metadata,
        "spec": object["spec"],
    })
}

/// An Application being deleted with a resources finalizer: its resources go first.
#[derive(Clone, Debug)]
pub struct Deleting {
    pub app: Application,
    pub finalizer: String,
    pub propagation: PropagationPolicy,
}

/// What one namespace holds now.
#[derive(Debug, Default)]
pub struct Listed {
    pub apps: Vec<Application>,
    pub deleting: Vec<Deleting>,
    /// Application name → why it does not load (named by `<namespace>/<name>`).
    pub errors: BTreeMap<String, String>,
    /// Applications annotated with Argo CD's `argocd.argoproj.io/refresh`: compare them now
    /// (and remove the annotation, as Argo CD does).
    pub refresh: Vec<String>,
    /// The `ImageUpdater` objects that parse (one being deleted is gone already).
    pub image_updaters: Vec<ImageUpdaterResource>,
    /// ImageUpdater name → why it does not parse (named by `ImageUpdater <namespace>/<name>`).
    pub image_updater_errors: BTreeMap<String, String>,
}

/// Argo CD's annotation that asks for a refresh (`normal` or `hard`) of one Application.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// The objects of one kind in one namespace, by name, kept current by a watch.
struct Watched {
    kind: &'static str,
    objects: Arc<RwLock<BTreeMap<String, Value>>>,
    ready: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watched {
    fn start(
        api: Api<DynamicObject>,
        kind: &'static str,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> Watched {
        let objects: Arc<RwLock<BTreeMap<String, Value>>> = Arc::default();
        let (ready_tx, ready) = watch::channel(false);
        let task = tokio::spawn(watch_namespace(
            api,
            kind,
            objects.clone(),
            ready_tx,
            on_change,
        ));
        Watched {
            kind,
            objects,
            ready,
            task,
        }
    }

    /// The objects as last seen, once the first list is in (or an error after `timeout`).
    async fn snapshot(
        &self,
        namespace: &str,
        timeout: Duration,
    ) -> Result<BTreeMap<String, Value>, String> {
        let kind = self.kind;
        let mut ready = self.ready.clone();
        tokio::time::timeout(timeout, ready.wait_for(|r| *r))
            .await
            .map_err(|_| {
                format!("namespace {namespace}: the {kind} watch has not listed within {timeout:?}")
            })?
            .map_err(|_| format!("namespace {namespace}: the {kind} watch stopped"))?;
        Ok(self
            .objects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }
}

/// How many times a write of an Application object reads and writes again after a conflict.
const PUT_ATTEMPTS: usize = 5;

/// The Application and ImageUpdater objects of one namespace, kept current by watches.
pub struct AppObjects {
    pub namespace: String,
    client: kube::Client,
    applications: Watched,
    /// None where the ImageUpdater CRD is missing and cannot be installed (no right to create
    /// CRDs): Applications do not need it, so they are read all the same.
    image_updaters: Option<Watched>,
}

impl AppObjects {
    /// Installs the CRDs if the cluster lacks them and starts watching `namespace`; `on_change`
    /// is called when an Application or ImageUpdater is added, removed, or changed by its user
    /// (not by a status write).
    pub async fn start(
        client: kube::Client,
        namespace: &str,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<AppObjects, String> {
        let installed =
            bosun_clusters::crds::ensure(&client, vec![bosun_clusters::crds::application()])
                .await?;
        for name in installed {
            tracing::info!(crd = %name, "installed the Application CRD");
        }
        let image_updater_crd =
            bosun_clusters::crds::ensure(&client, vec![bosun_clusters::crds::image_updater()])
                .await;
        match &image_updater_crd {
            Ok(installed) => {
                for name in installed {
                    tracing::info!(crd = %name, "installed the ImageUpdater CRD");
                }
            }
            Err(error) => {
                tracing::warn!(namespace, %error, "ImageUpdater objects are not read: the CRD is missing")
            }
        }
        ensure_namespace(&client, namespace).await?;
        let api = |resource: &ApiResource| -> Api<DynamicObject> {
            Api::namespaced_with(client.clone(), namespace, resource)
        };
        let applications = Watched::start(api(&resource()), "Application", on_change.clone());
        let image_updaters = image_updater_crd.is_ok().then(|| {
            Watched::start(
                api(&image_updater_resource()),
                image_updater::KIND,
                on_change,
            )
        });
        Ok(AppObjects {
            namespace: namespace.to_owned(),
            client,
            applications,
            image_updaters,
        })
    }

    /// The Applications and ImageUpdaters as last seen, once the first lists are in (or an
    /// error after `timeout`).
    pub async fn list(&self, timeout: Duration) -> Result<Listed, String> {
        let objects = self.applications.snapshot(&self.namespace, timeout).await?;
        let updaters = match &self.image_updaters {
            Some(watched) => watched.snapshot(&self.namespace, timeout).await?,
            None => BTreeMap::new(),
        };
        let mut listed = Listed::default();
        for (name, object) in updaters {
            if !object["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let text = serde_json::to_string(&user_part(&object)).unwrap_or_default();
            match image_updater::parse_object(&text, &self.namespace, &name) {
                Ok(resource) => listed.image_updaters.push(resource),
                Err(e) => {
                    listed.image_updater_errors.insert(name, e.to_string());
                }
            }
        }
        for (name, object) in objects {
            let origin = format!("{}/{name}", self.namespace);
            let mut user = user_part(&object);
            if let Some(annotations) = user["metadata"]["annotations"].as_object_mut()
                && annotations.remove(REFRESH_ANNOTATION).is_some()
            {
                listed.refresh.push(name.clone());
            }
            let text = serde_json::to_string(&user).unwrap_or_default();
            let app = match bosun_model::parse_applications(&text, &origin) {
                Ok(mut apps) if apps.len() == 1 => apps.remove(0),
                Ok(_) => continue,
                Err(e) => {
                    listed.errors.insert(name, e.to_string());
                    continue;
                }
            };
            if object["metadata"]["deletionTimestamp"].is_null() {
                listed.apps.push(app);
                continue;
            }
            let finalizer = app
                .metadata
                .finalizers
                .iter()
                .find(|f| f.starts_with(RESOURCES_FINALIZER))
                .cloned();
            if let Some(finalizer) = finalizer {
                let propagation = if finalizer.ends_with("/background") {
                    PropagationPolicy::Background
                } else {
                    PropagationPolicy::Foreground
                };
                listed.deleting.push(Deleting {
                    app,
                    finalizer,
                    propagation,
                });
            }
        }
        Ok(listed)
    }

    /// Writes `status` (Argo CD's shape) to the Application's status subresource; with Argo CD's
    /// own CRD, which has none, to the object itself.
    pub async fn write_status(&self, name: &str, status: &Value) -> Result<(), kube::Error> {
        let api = self.api();
        let patch = Patch::Merge(json!({"status": status}));
        match api.patch_status(name, &patch_params(), &patch).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 && self.has(name) => {
                api.patch(name, &patch_params(), &patch).await.map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes `finalizer` once the Application's resources are gone, so the API server deletes
    /// the Application.
    pub async fn remove_finalizer(&self, name: &str, finalizer: &str) -> Result<(), kube::Error> {
        let api = self.api();
        let Some(live) = api.get_opt(name).await? else {
            return Ok(());
        };
        let finalizers: Vec<String> = live
            .metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        // The resourceVersion makes this a compare-and-swap: a finalizer someone added meanwhile
        // is not lost.
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": live.metadata.resource_version,
        }});
        api.patch(name, &patch_params(), &Patch::Merge(patch))
            .await
            .map(drop)
    }

    /// Removes the refresh annotation once the refresh it asked for is queued.
    pub async fn clear_refresh(&self, name: &str) -> Result<(), kube::Error> {
        let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: null}}});
        self.api()
            .patch(name, &patch_params(), &Patch::Merge(patch))
            .await
            .map(drop)
    }

    /// Creates an Application object, or replaces what its user writes (spec, labels,
    /// annotations, finalizers — as Argo CD's update does) and keeps its status. The answer is
    /// kept at once, so a catalog load right after sees it without waiting for the watch.
    pub async fn put(&self, object: &Value) -> Result<(), kube::Error> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api = self.api();
        // The replace carries the version read; bosun's own status writes (a reconcile of this
        // Application) may land in between: read again and replace again, a few times.
        let mut attempts = 0;
        let written = loop {
            attempts += 1;
            let result = match api.get_opt(name).await? {
                None => {
                    let object: DynamicObject =
                        serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
                    api.create(&post_params(), &object).await
                }
                Some(mut live) => {
                    let meta = &object["metadata"];
                    live.metadata.labels = serde_json::from_value(meta["labels"].clone()).ok();
                    live.metadata.annotations =
                        serde_json::from_value(meta["annotations"].clone()).ok();
                    live.metadata.finalizers =
                        serde_json::from_value(meta["finalizers"].clone()).ok();
                    live.data["spec"] = object["spec"].clone();
                    if let Some(operation) = object.get("operation") {
                        live.data["operation"] = operation.clone();
                    }
                    api.replace(name, &post_params(), &live).await
                }
            };
            match result {
                Err(kube::Error::Api(e)) if e.code == 409 && attempts < PUT_ATTEMPTS => continue,
                other => break other?,
            }
        };
        let value = serde_json::to_value(&written).map_err(kube::Error::SerdeError)?;
        self.applications
            .objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), value);
        Ok(())
    }

    /// Deletes an Application object. With `finalizer` (Argo CD's cascade) it is added first
    /// when missing, so the API server keeps the Application until bosun has deleted its
    /// resources; without, any resources finalizer is removed first and the resources stay.
    pub async fn delete(&self, name: &str, finalizer: Option<&str>) -> Result<bool, kube::Error> {
        let api = self.api();
        let Some(live) = api.get_opt(name).await? else {
            return Ok(false);
        };
        let before = live.metadata.finalizers.clone().unwrap_or_default();
        let mut finalizers = before.clone();
        match finalizer {
            Some(finalizer) => {
                if !finalizers
                    .iter()
                    .any(|f| f.starts_with(RESOURCES_FINALIZER))
                {
                    finalizers.push(finalizer.to_owned());
                }
            }
            None => finalizers.retain(|f| !f.starts_with(RESOURCES_FINALIZER)),
        }
        if finalizers != before {
            let patch = json!({"metadata": {
                "finalizers": finalizers,
                "resourceVersion": live.metadata.resource_version,
            }});
            api.patch(name, &patch_params(), &Patch::Merge(patch))
                .await?;
        }
        api.delete(name, &Default::default()).await?;
        Ok(true)
    }

    pub fn has(&self, name: &str) -> bool {
        self.applications
            .objects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name)
    }

    fn api(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource())
    }
}

/// Creates the namespace Applications are kept in when it is missing, as Argo CD's install
/// creates `argocd`: `kubectl apply` and the API can then write Applications at once.
async fn ensure_namespace(client: &kube::Client, namespace: &str) -> Result<(), String> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "Namespace"),
            "namespaces",
        ),
    );
    let exists = api
        .get_opt(namespace)
        .await
        .map_err(|e| format!("namespace {namespace}: {e}"))?
        .is_some();
    if exists {
        return Ok(());
    }
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace},
    }))
    .map_err(|e| format!("namespace {namespace}: {e}"))?;
    match api.create(&post_params(), &object).await {
        Ok(_) => {
            tracing::info!(namespace, "created the namespace of Application objects");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(format!("creating namespace {namespace}: {e}")),
    }
}

/// Keeps `objects` current; calls `on_change` when what the user wrote changed (a first list is
/// the starting point, not a change). kube-runtime's watcher re-lists and backs off on errors.
async fn watch_namespace(
    api: Api<DynamicObject>,
    kind: &'static str,
    objects: Arc<RwLock<BTreeMap<String, Value>>>,
    ready: watch::Sender<bool>,
    on_change: Arc<dyn Fn() + Send + Sync>,
) {
    let mut events =
        std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
    let mut relisted = BTreeMap::new();
    let fingerprint = |object: &Value| {
        (
            user_part(object),
            object["metadata"]["deletionTimestamp"].clone(),
        )
    };
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(Event::Init) => {
                relisted.clear();
                false
            }
            Ok(Event::InitApply(object)) => {
                let value = serde_json::to_value(&object).unwrap_or_default();
                relisted.insert(object.metadata.name.clone().unwrap_or_default(), value);
                false
            }
            Ok(Event::InitDone) => {
                let mut current = objects.write().unwrap_or_else(|p| p.into_inner());
                let before: BTreeMap<_, _> = current
                    .iter()
                    .map(|(k, v)| (k.clone(), fingerprint(v)))
                    .collect();
                let after: BTreeMap<_, _> = relisted
                    .iter()
                    .map(|(k, v)| (k.clone(), fingerprint(v)))
                    .collect();
                *current = std::mem::take(&mut relisted);
                drop(current);
                let first = !*ready.borrow();
                let _ = ready.send(true);
                !first && before != after
            }
            Ok(Event::Apply(object)) => {
                let name = object.metadata.name.clone().unwrap_or_default();
                let value = serde_json::to_value(&object).unwrap_or_default();
                let mut current = objects.write().unwrap_or_else(|p| p.into_inner());
                let changed = current.get(&name).map(fingerprint) != Some(fingerprint(&value));
                current.insert(name, value);
                changed
            }
            Ok(Event::Delete(object)) => {
                let name = object.metadata.name.clone().unwrap_or_default();
                objects
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&name)
                    .is_some()
            }
            Err(error) => {
                tracing::debug!(kind, error = %error, "watch: retrying");
                false
            }
        };
        if changed {
            on_change();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crd_is_argo_cds_kind_with_its_printer_columns() {
        let crd = bosun_clusters::crds::application();
        assert_eq!(crd["metadata"]["name"], "applications.argoproj.io");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            columns,
            ["Sync Status", "Health Status", "Revision", "Project"]
        );
    }

    #[test]
    fn a_status_write_is_not_a_change_of_what_the_user_wrote() {
        let object = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd", "resourceVersion": "7",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "x"}},
            "spec": {"project": "default"}, "status": {"sync": {"status": "Synced"}}});
        let mut written = object.clone();
        written["status"]["sync"]["status"] = "OutOfSync".into();
        written["metadata"]["resourceVersion"] = "8".into();
        assert_eq!(user_part(&object), user_part(&written));
        assert_eq!(
            user_part(&object)["metadata"]["annotations"],
            json!({"team": "x"})
        );
        let mut edited = object.clone();
        edited["spec"]["project"] = "other".into();
        assert_ne!(user_part(&object), user_part(&edited));
    }
}

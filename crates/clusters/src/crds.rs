//! CustomResourceDefinitions bosun installs where they are missing (Argo Rollouts' kinds, Argo
//! CD's Application, Argo CD Image Updater's ImageUpdater). A CRD that exists is never changed: it may be the project's own, newer one.

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::await_condition;
use serde_json::Value;

/// Argo CD's `applications.argoproj.io` (its own schema, written here): what `kubectl apply`
/// of an Application, `bosun serve`'s namespace sources and an app-of-apps need.
pub fn application() -> Value {
    serde_saphyr::from_str(include_str!("../crds/applications.yaml"))
        .expect("crds/applications.yaml parses")
}

/// Argo CD Image Updater v1's `imageupdaters.argocd-image-updater.argoproj.io` (its own schema,
/// written here): what `kubectl apply` of an ImageUpdater into a namespace `bosun serve` watches
/// needs.
pub fn image_updater() -> Value {
    serde_saphyr::from_str(include_str!("../crds/imageupdaters.yaml"))
        .expect("crds/imageupdaters.yaml parses")
}

/// How long a new CRD may take to be Established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates the `definitions` the cluster lacks and waits until they are served; returns the
/// names of those it created.
pub async fn ensure(client: &kube::Client, definitions: Vec<Value>) -> Result<Vec<String>, String> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let mut installed = Vec::new();
    for definition in definitions {
        let name = definition["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if api
            .get_opt(&name)
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .is_some()
        {
            continue;
        }
        let object: DynamicObject =
            serde_json::from_value(definition).map_err(|e| format!("{name}: {e}"))?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => installed.push(name),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(format!("creating {name}: {e}")),
        }
    }
    for name in &installed {
        let established = await_condition(api.clone(), name, |crd: Option<&DynamicObject>| {
            crd.and_then(|c| c.data["status"]["conditions"].as_array().cloned())
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                })
        });
        tokio::time::timeout(ESTABLISH_TIMEOUT, established)
            .await
            .map_err(|_| format!("{name} was not Established within {ESTABLISH_TIMEOUT:?}"))?
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(installed)
}

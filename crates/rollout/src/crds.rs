//! The Argo Rollouts CRDs bosun installs where they are missing (schemas written for bosun,
//! with Argo's names, short names, scale subresource and printer columns). A CRD that exists
//! is never changed: it may be Argo's own, newer one.

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::await_condition;
use serde_json::Value;

const CRDS: [(&str, &str); 4] = [
    (
        "rollouts.argoproj.io",
        include_str!("../crds/rollouts.yaml"),
    ),
    (
        "analysistemplates.argoproj.io",
        include_str!("../crds/analysistemplates.yaml"),
    ),
    (
        "clusteranalysistemplates.argoproj.io",
        include_str!("../crds/clusteranalysistemplates.yaml"),
    ),
    (
        "analysisruns.argoproj.io",
        include_str!("../crds/analysisruns.yaml"),
    ),
];

/// How long a new CRD may take to be Established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// The CRDs as objects.
pub fn definitions() -> Vec<Value> {
    CRDS.iter()
        .map(|(name, text)| {
            serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("crds of {name}: {e}"))
        })
        .collect()
}

/// Creates the CRDs the cluster lacks and waits until they are served; returns their names.
pub async fn ensure(client: &kube::Client) -> Result<Vec<String>, String> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let mut installed = Vec::new();
    for ((name, _), definition) in CRDS.iter().zip(definitions()) {
        if api
            .get_opt(name)
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .is_some()
        {
            continue;
        }
        let object: DynamicObject =
            serde_json::from_value(definition).map_err(|e| format!("{name}: {e}"))?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => installed.push(name.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_parses_and_names_itself() {
        for ((name, _), crd) in CRDS.iter().zip(definitions()) {
            assert_eq!(crd["metadata"]["name"], *name);
            assert_eq!(crd["spec"]["group"], "argoproj.io");
        }
        let rollouts = &definitions()[0];
        let scale = &rollouts["spec"]["versions"][0]["subresources"]["scale"];
        assert_eq!(scale["statusReplicasPath"], ".status.HPAReplicas");
    }
}

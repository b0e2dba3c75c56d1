//! The Argo Rollouts CRDs bosun installs where they are missing (schemas written for bosun,
//! with Argo's names, short names, scale subresource and printer columns). A CRD that exists
//! is never changed: it may be Argo's own, newer one.

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
    bosun_clusters::crds::ensure(client, definitions()).await
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

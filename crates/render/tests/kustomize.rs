//! Kustomize sources built by the real kustomize (`kubectl kustomize`, kubectl v1.35 from
//! `scripts/install-test-deps`).

mod common;

use std::path::Path;

use bosun_model::KustomizeSource;
use bosun_render::{RenderError, RenderKind, Renderer};
use common::{find, names, request, snapshot, source, tools, write};

/// The seeds' pattern: a base and one overlay per environment.
fn base_and_overlays(root: &Path) {
    write(
        root,
        "deploy/base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n  - service.yaml\n",
    );
    write(
        root,
        "deploy/base/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.local/api:1.0.0
"#,
    );
    write(
        root,
        "deploy/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: {app: api}\n  ports: [{port: 80}]\n",
    );
    write(
        root,
        "deploy/overlays/staging/kustomization.yaml",
        "resources:\n  - ../../base\nnamespace: staging\nnamePrefix: staging-\n",
    );
    write(
        root,
        "deploy/overlays/production/kustomization.yaml",
        r#"resources:
  - ../../base
namespace: production
images:
  - name: registry.local/api
    newTag: "2.0.0"
patches:
  - target: {kind: Deployment, name: api}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 4
"#,
    );
}

fn image(deployment: &serde_json::Value) -> &str {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
}

#[tokio::test]
async fn each_overlay_renders_its_environment() {
    let checkout = tempfile::tempdir().unwrap();
    base_and_overlays(checkout.path());
    let renderer = Renderer::new(tools());

    let staging = source("deploy/overlays/staging");
    let rendered = renderer
        .render(&request(checkout.path(), &staging))
        .await
        .unwrap();
    assert_eq!(rendered.kind, RenderKind::Kustomize);
    assert_eq!(
        names(&rendered.objects),
        ["Service/staging-api", "Deployment/staging-api"]
    );
    let deployment = find(&rendered.objects, "Deployment", "staging-api");
    assert_eq!(deployment["metadata"]["namespace"], "staging");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(image(deployment), "registry.local/api:1.0.0");

    let production = source("deploy/overlays/production");
    let rendered = renderer
        .render(&request(checkout.path(), &production))
        .await
        .unwrap();
    let deployment = find(&rendered.objects, "Deployment", "api");
    assert_eq!(deployment["metadata"]["namespace"], "production");
    assert_eq!(deployment["spec"]["replicas"], 4);
    assert_eq!(image(deployment), "registry.local/api:2.0.0");
}

#[tokio::test]
async fn application_parameters_edit_a_copy_and_leave_the_checkout_alone() {
    let checkout = tempfile::tempdir().unwrap();
    base_and_overlays(checkout.path());
    let before = snapshot(checkout.path());
    let renderer = Renderer::new(tools());

    let mut src = source("deploy/overlays/production");
    src.kustomize = Some(KustomizeSource {
        // Replaces the overlay's own entry for this image, as `kustomize edit set image` does.
        images: vec!["registry.local/api=registry.local/api-fips:2.1.0".into()],
        name_suffix: Some("-v2".into()),
        common_labels: [("team".to_string(), "payments".to_string())].into(),
        common_annotations: [("owner".to_string(), "sre".to_string())].into(),
        namespace: Some("prod-eu".into()),
        ..Default::default()
    });
    let rendered = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    let deployment = find(&rendered.objects, "Deployment", "api-v2");
    assert_eq!(image(deployment), "registry.local/api-fips:2.1.0");
    assert_eq!(deployment["metadata"]["namespace"], "prod-eu");
    assert_eq!(deployment["metadata"]["labels"]["team"], "payments");
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"]["team"],
        "payments"
    );
    assert_eq!(deployment["metadata"]["annotations"]["owner"], "sre");
    assert_eq!(
        deployment["spec"]["replicas"], 4,
        "the overlay's own patches still apply"
    );
    assert_eq!(
        find(&rendered.objects, "Service", "api-v2")["metadata"]["labels"]["team"],
        "payments"
    );

    assert_eq!(
        snapshot(checkout.path()),
        before,
        "the shared checkout is not written"
    );
}

#[tokio::test]
async fn kustomize_error_names_the_missing_resource() {
    let checkout = tempfile::tempdir().unwrap();
    base_and_overlays(checkout.path());
    write(
        checkout.path(),
        "deploy/overlays/broken/kustomization.yaml",
        "resources:\n  - ../../base\n  - missing-configmap.yaml\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("deploy/overlays/broken");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RenderError::ToolFailed { .. }), "{message}");
    assert!(message.starts_with("kubectl kustomize failed"), "{message}");
    // Paths are relative to the checkout, never a temporary or host directory.
    assert!(
        message.contains("'deploy/overlays/broken/missing-configmap.yaml'"),
        "{message}"
    );
    assert!(!message.contains("/tmp/"), "{message}");
}

#[tokio::test]
async fn kustomization_syntax_error_with_parameters_names_file_and_line() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "app/kustomization.yaml",
        "resources:\n  - a.yaml\nimages: [unclosed\n",
    );
    let renderer = Renderer::new(tools());
    let mut src = source("app");
    src.kustomize = Some(KustomizeSource {
        images: vec!["nginx:1.27".into()],
        ..Default::default()
    });
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, RenderError::InvalidManifest { line: Some(_), .. }),
        "{message}"
    );
    assert!(message.starts_with("app/kustomization.yaml:"), "{message}");
}

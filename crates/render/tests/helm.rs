//! Helm sources rendered by the real `helm template` (helm v4 from `scripts/install-test-deps`).

mod common;

use std::path::Path;

use bosun_model::{HelmParameter, HelmSource};
use bosun_render::{RenderError, RenderKind, Renderer};
use common::{find, names, request, snapshot, source, tools, write};
use serde_json::json;

/// The seeds' pattern: one chart, a values file per environment.
fn web_chart(root: &Path) {
    write(
        root,
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(
        root,
        "charts/web/values.yaml",
        "replicas: 1\nimage:\n  repository: registry.local/web\n  tag: \"1.0.0\"\nmessage: default\n",
    );
    write(
        root,
        "charts/web/values-dev.yaml",
        "replicas: 1\nimage:\n  tag: dev-abc123\n",
    );
    write(
        root,
        "charts/web/values-prod.yaml",
        "replicas: 3\nimage:\n  tag: \"2.4.1\"\n",
    );
    write(
        root,
        "charts/web/templates/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#,
    );
    write(
        root,
        "charts/web/templates/configmap.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  message: {{ .Values.message | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  hasMonitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
"#,
    );
}

fn helm(value_files: &[&str]) -> HelmSource {
    HelmSource {
        value_files: value_files.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn dev_and_prod_value_files_give_different_replicas_and_tags() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    let renderer = Renderer::new(tools());

    let mut dev = source("charts/web");
    dev.helm = Some(helm(&["values-dev.yaml"]));
    let rendered = renderer
        .render(&request(checkout.path(), &dev))
        .await
        .unwrap();
    assert_eq!(rendered.kind, RenderKind::Helm);
    assert!(!rendered.from_cache);
    // helm's install order: ConfigMap before Deployment.
    assert_eq!(
        names(&rendered.objects),
        ["ConfigMap/web-settings", "Deployment/web"]
    );
    let deployment = find(&rendered.objects, "Deployment", "web");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["metadata"]["namespace"], "shop");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:dev-abc123"
    );

    let mut prod = source("charts/web");
    prod.helm = Some(helm(&["values-prod.yaml"]));
    let rendered = renderer
        .render(&request(checkout.path(), &prod))
        .await
        .unwrap();
    let deployment = find(&rendered.objects, "Deployment", "web");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:2.4.1"
    );
}

#[tokio::test]
async fn inline_values_then_parameters_override_value_files_and_release_name_is_used() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    let renderer = Renderer::new(tools());

    let mut src = source("charts/web");
    src.helm = Some(HelmSource {
        value_files: vec!["values-prod.yaml".into()],
        values: Some("replicas: 5\nmessage: from values\n".into()),
        parameters: vec![
            HelmParameter {
                name: "image.tag".into(),
                value: "3.0.0".into(),
                force_string: false,
            },
            // Without --set-string helm would make this the number 7, and a comma would split it.
            HelmParameter {
                name: "message".into(),
                value: "a,b".into(),
                force_string: true,
            },
        ],
        release_name: Some("storefront".into()),
        ..Default::default()
    });
    let rendered = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    let deployment = find(&rendered.objects, "Deployment", "storefront");
    assert_eq!(deployment["spec"]["replicas"], 5, "values beat value files");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:3.0.0",
        "parameters beat values"
    );
    assert_eq!(
        find(&rendered.objects, "ConfigMap", "storefront-settings")["data"]["message"],
        "a,b"
    );

    // valuesObject wins over values, as in Argo CD.
    let mut src = source("charts/web");
    src.helm = Some(HelmSource {
        values: Some("replicas: 5\n".into()),
        values_object: Some(json!({"replicas": 7})),
        ..Default::default()
    });
    let rendered = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    assert_eq!(
        find(&rendered.objects, "Deployment", "web")["spec"]["replicas"],
        7
    );
}

#[tokio::test]
async fn kube_version_and_api_versions_reach_capabilities() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    let renderer = Renderer::new(tools());
    let src = source("charts/web");
    let mut req = request(checkout.path(), &src);
    req.kube_version = Some("1.31.4".into());
    req.api_versions = vec!["monitoring.coreos.com/v1".into(), "apps/v1".into()];
    let rendered = renderer.render(&req).await.unwrap();
    let data = &find(&rendered.objects, "ConfigMap", "web-settings")["data"];
    assert_eq!(data["kubeVersion"], "v1.31.4");
    assert_eq!(data["hasMonitoring"], "true");

    req.kube_version = None;
    req.api_versions = Vec::new();
    let rendered = renderer.render(&req).await.unwrap();
    assert!(
        !rendered.from_cache,
        "cluster info is part of the cache key"
    );
    assert_eq!(
        find(&rendered.objects, "ConfigMap", "web-settings")["data"]["hasMonitoring"],
        "false"
    );
}

#[tokio::test]
async fn local_file_dependency_is_built_on_a_copy() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: common\n    version: 0.1.0\n    repository: file://../common\n",
    );
    write(
        checkout.path(),
        "charts/app/templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  ports: [{port: 80}]\n",
    );
    write(
        checkout.path(),
        "charts/common/Chart.yaml",
        "apiVersion: v2\nname: common\nversion: 0.1.0\n",
    );
    write(
        checkout.path(),
        "charts/common/templates/sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}-common\n",
    );
    let before = snapshot(checkout.path());

    let renderer = Renderer::new(tools());
    let src = source("charts/app");
    let rendered = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    assert_eq!(
        names(&rendered.objects),
        ["ServiceAccount/web-common", "Service/web"]
    );
    assert_eq!(
        snapshot(checkout.path()),
        before,
        "the shared checkout is not written"
    );
}

#[tokio::test]
async fn broken_template_error_names_the_template_file() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    write(
        checkout.path(),
        "charts/web/templates/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  x: {{ .Values.x | nope }}\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("charts/web");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RenderError::ToolFailed { .. }), "{message}");
    assert!(message.contains("helm template"), "{message}");
    assert!(message.contains("templates/broken.yaml"), "{message}");
    assert!(message.contains("nope"), "{message}");
}

#[tokio::test]
async fn template_that_prints_invalid_yaml_is_named_with_its_line() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    // Valid Go template, invalid YAML: an unterminated flow sequence. helm checks its own output.
    write(
        checkout.path(),
        "charts/web/templates/zz-bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\ndata: [oops\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("charts/web");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RenderError::ToolFailed { .. }), "{message}");
    assert!(message.contains("web/templates/zz-bad.yaml"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[tokio::test]
async fn template_that_prints_a_non_object_is_named_by_its_source_comment() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    write(
        checkout.path(),
        "charts/web/templates/zz-data.yaml",
        "just: data\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("charts/web");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, RenderError::InvalidManifest { .. }),
        "{message}"
    );
    assert!(
        message.starts_with("output of `helm template charts/web` (document 3, "),
        "{message}"
    );
    assert!(
        message.contains("# Source: web/templates/zz-data.yaml"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_value_file_is_named() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    let renderer = Renderer::new(tools());
    let mut src = source("charts/web");
    src.helm = Some(helm(&["values-staging.yaml"]));
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::ValueFileMissing { file, .. } if file == "values-staging.yaml"),
        "{err}"
    );
    assert!(err.to_string().contains("values-staging.yaml"));

    src.helm = Some(helm(&["../../../etc/passwd"]));
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::ValueFileEscapesCheckout { .. } | RenderError::ValueFileMissing { .. }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn chart_rendering_nothing_is_an_error_unless_allow_empty() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "charts/off/Chart.yaml",
        "apiVersion: v2\nname: off\nversion: 0.1.0\n",
    );
    write(
        checkout.path(),
        "charts/off/templates/cm.yaml",
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n{{- end }}\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("charts/off");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::Empty { .. }), "{err}");

    let mut req = request(checkout.path(), &src);
    req.allow_empty = true;
    let rendered = renderer.render(&req).await.unwrap();
    assert!(rendered.objects.is_empty());
}

#[tokio::test]
async fn source_level_helm_options_override_the_defaults() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    write(
        checkout.path(),
        "charts/web/crds/widgets.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    );
    let renderer = Renderer::new(tools());

    let src = source("charts/web");
    let rendered = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    find(
        &rendered.objects,
        "CustomResourceDefinition",
        "widgets.example.com",
    );

    let mut src = source("charts/web");
    src.helm = Some(HelmSource {
        value_files: vec!["values-missing.yaml".into(), "values-prod.yaml".into()],
        ignore_missing_value_files: Some(true),
        skip_crds: Some(true),
        namespace: Some("shop-eu".into()),
        kube_version: Some("1.30.0".into()),
        api_versions: vec!["monitoring.coreos.com/v1".into()],
        ..Default::default()
    });
    let mut req = request(checkout.path(), &src);
    req.kube_version = Some("1.35.0".into());
    let rendered = renderer.render(&req).await.unwrap();
    assert_eq!(
        names(&rendered.objects),
        ["ConfigMap/web-settings", "Deployment/web"],
        "no CRDs"
    );
    let deployment = find(&rendered.objects, "Deployment", "web");
    assert_eq!(deployment["metadata"]["namespace"], "shop-eu");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let data = &find(&rendered.objects, "ConfigMap", "web-settings")["data"];
    assert_eq!(data["kubeVersion"], "v1.30.0");
    assert_eq!(data["hasMonitoring"], "true");
}

/// A dependency from a repository that cannot be reached: helm prints the cause on stdout and
/// only a generic "no cached repository" on stderr; the error carries both.
#[tokio::test]
async fn an_unreachable_dependency_repository_is_named_in_the_error() {
    let checkout = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    write(
        checkout.path(),
        "charts/app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: http://127.0.0.1:9/charts\n",
    );
    write(
        checkout.path(),
        "charts/app/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    let src = source("charts/app");
    let error = Renderer::new(tools())
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("http://127.0.0.1:9/charts") && error.contains("connection refused"),
        "{error}"
    );
}

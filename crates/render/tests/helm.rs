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

/// `$values/...` value files come from the root of the source whose `ref` is `values` (Argo CD's
/// value files from another source): they are applied like the chart's own, the other source's
/// commit is part of the render's cache key, and a file outside that source, a missing one or an
/// unknown ref is an error that names the file.
#[tokio::test]
async fn value_files_of_another_source_named_by_its_ref() {
    let checkout = tempfile::tempdir().unwrap();
    web_chart(checkout.path());
    let values = tempfile::tempdir().unwrap();
    write(
        values.path(),
        "envs/prod.yaml",
        "replicas: 5\nmessage: from the values repository\n",
    );
    let renderer = Renderer::new(tools());
    let mut src = source("charts/web");
    src.helm = Some(helm(&["values-prod.yaml", "$values/envs/prod.yaml"]));
    let refs_at = |commit: &str| {
        std::collections::BTreeMap::from([(
            "values".to_string(),
            bosun_render::RefSource {
                root: values.path().to_path_buf(),
                commit: commit.to_string(),
            },
        )])
    };
    let refs = refs_at("1111111111111111111111111111111111111111");
    let mut req = request(checkout.path(), &src);
    req.refs = &refs;
    let rendered = renderer.render(&req).await.expect("render");
    let deployment = find(&rendered.objects, "Deployment", "web");
    assert_eq!(deployment["spec"]["replicas"], 5, "the later file wins");
    assert_eq!(
        find(&rendered.objects, "ConfigMap", "web-settings")["data"]["message"],
        "from the values repository"
    );
    // The values source at another commit: rendered again, not taken from the cache.
    write(values.path(), "envs/prod.yaml", "replicas: 6\n");
    let refs = refs_at("2222222222222222222222222222222222222222");
    req.refs = &refs;
    let rendered = renderer.render(&req).await.expect("render");
    assert!(!rendered.from_cache);
    assert_eq!(
        find(&rendered.objects, "Deployment", "web")["spec"]["replicas"],
        6
    );

    for (file, expected) in [
        (
            "$values/envs/staging.yaml",
            "does not exist (relative to the root of source $values)",
        ),
        ("$values/../../../etc/passwd", "leaves the checkout"),
        ("$other/envs/prod.yaml", "no source has ref: other"),
    ] {
        src.helm = Some(helm(&[file]));
        let mut req = request(checkout.path(), &src);
        req.refs = &refs;
        let err = renderer.render(&req).await.unwrap_err().to_string();
        assert!(err.contains(file) || err.contains("$other"), "{err}");
        assert!(
            err.contains(expected)
                || (expected == "leaves the checkout" && err.contains("does not exist")),
            "{file}: {err}"
        );
    }
}

/// A Helm repository on loopback: `dir` served over HTTP, counting requests.
struct HelmRepository {
    url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for HelmRepository {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl HelmRepository {
    async fn serve(dir: std::path::PathBuf) -> HelmRepository {
        HelmRepository::serve_with(dir, None).await
    }

    /// With `authorization`, a request without that `Authorization` header is answered 401.
    async fn serve_with(
        dir: std::path::PathBuf,
        authorization: Option<&'static str>,
    ) -> HelmRepository {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let dir = dir.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or("/");
                    if let Some(expected) = authorization
                        && !text.lines().any(|l| {
                            l.to_ascii_lowercase().starts_with("authorization:")
                                && l.split_once(':').is_some_and(|(_, v)| v.trim() == expected)
                        })
                    {
                        let _ = stream
                            .write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"charts\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                    let file = dir.join(path.trim_start_matches('/'));
                    let response = match std::fs::read(&file) {
                        Ok(body) if !path.contains("..") => {
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            r.extend(body);
                            r
                        }
                        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                });
            }
        });
        HelmRepository {
            url,
            requests,
            server,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The Helm repository of chart `hello` at 1.0.0, 1.1.0 and 2.0.0 (`tests/data/README.md`).
fn hello_repository() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hello-repo")
}

/// `chart:` with `repoURL` a Helm repository (Argo CD's chart source): the chart is pulled
/// with `helm pull` at the version `targetRevision` names, or the newest one a constraint
/// allows, and rendered with its own value files; a version already pulled is not asked for
/// again; a version the repository does not have is an error that names it.
#[tokio::test]
async fn a_chart_of_a_helm_repository_is_pulled_at_its_version_and_rendered() {
    let server = HelmRepository::serve(hello_repository()).await;
    let renderer = Renderer::new(tools());
    let chart_source = |version: &str, helm: Option<HelmSource>| bosun_model::ApplicationSource {
        repo_url: server.url.clone(),
        chart: Some("hello".into()),
        target_revision: Some(version.into()),
        helm,
        ..Default::default()
    };

    let pulled = renderer
        .pull_chart(&server.url, "hello", "1.0.0", None)
        .await
        .expect("pull 1.0.0");
    assert_eq!(pulled.version, "1.0.0");
    let source = chart_source("1.0.0", Some(helm(&["values-loud.yaml"])));
    let mut req = request(&pulled.root, &source);
    req.commit = &pulled.version;
    let rendered = renderer.render(&req).await.expect("render 1.0.0");
    assert_eq!(rendered.kind, RenderKind::Helm);
    let cm = find(&rendered.objects, "ConfigMap", "web");
    assert_eq!(cm["data"], json!({"greeting": "HELLO", "chart": "1.0.0"}));

    // The same version again: from the cache, without asking the repository.
    let asked = server.requests();
    let again = renderer
        .pull_chart(&server.url, "hello", "1.0.0", None)
        .await
        .unwrap();
    assert_eq!(again, pulled);
    assert_eq!(
        server.requests(),
        asked,
        "an exact version already pulled is not pulled again"
    );

    // A constraint: the newest version it allows, asked of the repository.
    let newest_1 = renderer
        .pull_chart(&server.url, "hello", "1.*", None)
        .await
        .unwrap();
    assert_eq!(newest_1.version, "1.1.0");
    assert!(server.requests() > asked);
    let latest = renderer
        .pull_chart(&server.url, "hello", "", None)
        .await
        .unwrap();
    assert_eq!(latest.version, "2.0.0");
    let source = chart_source("", None);
    let mut req = request(&latest.root, &source);
    req.commit = &latest.version;
    let rendered = renderer.render(&req).await.expect("render 2.0.0");
    assert_eq!(
        find(&rendered.objects, "ConfigMap", "web")["data"],
        json!({"greeting": "hello", "chart": "2.0.0"})
    );

    let missing = renderer
        .pull_chart(&server.url, "hello", "9.9.9", None)
        .await
        .expect_err("no such version")
        .to_string();
    assert!(missing.contains("9.9.9"), "{missing}");
    let bad = renderer
        .pull_chart(&server.url, "../hello", "1.0.0", None)
        .await
        .expect_err("not a chart name")
        .to_string();
    assert!(bad.contains("not a chart name"), "{bad}");
}

/// A Helm repository that needs a user name and password: without them the pull fails with the
/// repository's 401; with them (the password on helm's stdin, never its command line) the chart
/// is pulled, and the password appears in no error.
#[tokio::test]
async fn a_chart_of_a_repository_that_needs_credentials() {
    // base64("reader:s3cret-chart-pass")
    let server = HelmRepository::serve_with(
        hello_repository(),
        Some("Basic cmVhZGVyOnMzY3JldC1jaGFydC1wYXNz"),
    )
    .await;
    let renderer = Renderer::new(tools());
    let refused = renderer
        .pull_chart(&server.url, "hello", "1.0.0", None)
        .await
        .expect_err("no credentials")
        .to_string();
    assert!(refused.contains("401"), "{refused}");
    let wrong = bosun_render::ChartCredentials {
        username: "reader".into(),
        password: "wrong-pass".into(),
    };
    let refused = renderer
        .pull_chart(&server.url, "hello", "1.0.0", Some(&wrong))
        .await
        .expect_err("wrong password")
        .to_string();
    assert!(!refused.contains("wrong-pass"), "{refused}");
    let right = bosun_render::ChartCredentials {
        username: "reader".into(),
        password: "s3cret-chart-pass".into(),
    };
    assert!(!format!("{right:?}").contains("s3cret"));
    let pulled = renderer
        .pull_chart(&server.url, "hello", "1.0.0", Some(&right))
        .await
        .expect("pulled with credentials");
    assert_eq!(pulled.version, "1.0.0");
    assert!(pulled.root.join("hello/Chart.yaml").is_file());
}

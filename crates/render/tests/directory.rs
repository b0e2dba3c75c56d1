//! Plain-directory sources and the checks every source goes through (path, empty render).

mod common;

use std::path::Path;

use bosun_model::DirectorySource;
use bosun_render::{RenderError, RenderKind, Renderer};
use common::{names, request, source, tools, write};

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

fn manifests(root: &Path) {
    write(
        root,
        "manifests/a.yaml",
        &format!("{}---\n{}", config_map("a1"), config_map("a2")),
    );
    write(
        root,
        "manifests/b.yml",
        &format!("---\n# nothing here\n---\n{}---\n", config_map("b")),
    );
    write(
        root,
        "manifests/c.json",
        r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c1"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c2"}}]}"#,
    );
    write(root, "manifests/README.md", "not a manifest\n");
    // Not Kubernetes objects at all: skipped, as Argo CD skips unrelated YAML.
    write(
        root,
        "manifests/settings.yaml",
        "logLevel: debug\nfeatures: [a, b]\n",
    );
    write(root, "manifests/nested/d.yaml", &config_map("d"));
    write(
        root,
        "manifests/nested/deeper/e.json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"e"}}"#,
    );
    write(
        root,
        "manifests/nested/skip-me.yaml",
        &config_map("skipped"),
    );
}

async fn render_names(root: &Path, directory: Option<DirectorySource>) -> Vec<String> {
    let mut src = source("manifests");
    src.directory = directory;
    let rendered = Renderer::new(tools())
        .render(&request(root, &src))
        .await
        .unwrap();
    assert_eq!(rendered.kind, RenderKind::Directory);
    names(&rendered.objects)
}

#[tokio::test]
async fn top_level_yaml_and_json_files_in_path_order() {
    let checkout = tempfile::tempdir().unwrap();
    manifests(checkout.path());
    assert_eq!(
        render_names(checkout.path(), None).await,
        [
            "ConfigMap/a1",
            "ConfigMap/a2",
            "ConfigMap/b",
            "Secret/c1",
            "Secret/c2"
        ]
    );
}

#[tokio::test]
async fn recurse_include_and_exclude_follow_argo_cd_globs() {
    let checkout = tempfile::tempdir().unwrap();
    manifests(checkout.path());
    let recurse = |include: Option<&str>, exclude: Option<&str>| DirectorySource {
        recurse: true,
        include: include.map(str::to_string),
        exclude: exclude.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(
        render_names(checkout.path(), Some(recurse(None, None))).await,
        [
            "ConfigMap/a1",
            "ConfigMap/a2",
            "ConfigMap/b",
            "Secret/c1",
            "Secret/c2",
            "ConfigMap/d",
            "ConfigMap/e",
            "ConfigMap/skipped"
        ]
    );
    // `*` crosses directories, as in Argo CD; exclude wins over include.
    assert_eq!(
        render_names(checkout.path(), Some(recurse(Some("*.json"), None))).await,
        ["Secret/c1", "Secret/c2", "ConfigMap/e"]
    );
    assert_eq!(
        render_names(
            checkout.path(),
            Some(recurse(Some("{a.yaml,nested/d.yaml}"), None))
        )
        .await,
        ["ConfigMap/a1", "ConfigMap/a2", "ConfigMap/d"]
    );
    assert_eq!(
        render_names(
            checkout.path(),
            Some(recurse(Some("nested/*"), Some("*skip-me*")))
        )
        .await,
        ["ConfigMap/d", "ConfigMap/e"]
    );
}

#[tokio::test]
async fn yaml_syntax_error_names_file_and_line() {
    let checkout = tempfile::tempdir().unwrap();
    manifests(checkout.path());
    write(
        checkout.path(),
        "manifests/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    );
    let src = source("manifests");
    let err = Renderer::new(tools())
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    match &err {
        RenderError::InvalidManifest {
            origin,
            line: Some(line),
            ..
        } => {
            assert_eq!(origin, "manifests/broken.yaml");
            assert!((9..=10).contains(line), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(message.starts_with("manifests/broken.yaml:"), "{message}");
}

#[tokio::test]
async fn json_error_names_file_and_line() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "manifests/x.json",
        "{\n  \"apiVersion\": \"v1\",\n  \"kind\": }\n",
    );
    let src = source("manifests");
    let err = Renderer::new(tools())
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("manifests/x.json:3"), "{err}");
}

#[tokio::test]
async fn file_mixing_objects_and_other_documents_is_an_error() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "manifests/mixed.yaml",
        &format!("{}---\njust: data\n", config_map("a")),
    );
    let src = source("manifests");
    let err = Renderer::new(tools())
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("manifests/mixed.yaml:6 (document 2)"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_or_escaping_path_is_an_error() {
    let checkout = tempfile::tempdir().unwrap();
    manifests(checkout.path());
    let renderer = Renderer::new(tools());
    let src = source("manifests/gone");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::PathMissing { path } if path == "manifests/gone"),
        "{err}"
    );

    let src = source("../");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RenderError::PathEscapesCheckout { .. }),
        "{err}"
    );

    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.yaml", &config_map("host-file"));
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        checkout.path().join("manifests/link.yaml"),
    )
    .unwrap();
    let src = source("manifests");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RenderError::SymlinkEscapesCheckout { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn empty_render_is_an_error_unless_allow_empty() {
    let checkout = tempfile::tempdir().unwrap();
    write(
        checkout.path(),
        "manifests/README.md",
        "nothing to deploy\n",
    );
    let renderer = Renderer::new(tools());
    let src = source("manifests");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::Empty { path } if path == "manifests"),
        "{err}"
    );
    assert!(err.to_string().contains("allowEmpty"));

    let mut req = request(checkout.path(), &src);
    req.allow_empty = true;
    let rendered = renderer.render(&req).await.unwrap();
    assert!(rendered.objects.is_empty());
    assert!(
        rendered.from_cache,
        "the empty result was cached by the failed attempt's render"
    );

    // The cached empty render must still be refused without allowEmpty.
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::Empty { .. }), "{err}");
}

//! Jsonnet directories as Argo CD renders them (`directory.jsonnet`): `.jsonnet` files evaluated,
//! `.libsonnet` only imported, external variables and top-level arguments (strings and code, `$VAR`
//! expanded against the build environment), `libs` relative to the repository root, an object or
//! an array of objects; errors name the file, line and reason.

mod common;

use bosun_model::{DirectorySource, JsonnetSource, JsonnetVar};
use bosun_render::{RenderError, Renderer};
use common::{find, names, request, source, write};

fn var(name: &str, value: &str, code: bool) -> JsonnetVar {
    JsonnetVar {
        name: name.into(),
        value: value.into(),
        code,
    }
}

fn jsonnet_source(path: &str, jsonnet: JsonnetSource) -> bosun_model::ApplicationSource {
    let mut s = source(path);
    s.directory = Some(DirectorySource {
        jsonnet: Some(jsonnet),
        ..Default::default()
    });
    s
}

#[tokio::test]
async fn ext_vars_tlas_libs_and_imports() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(
        root,
        "lib/k.libsonnet",
        "{ configMap(name, data):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: data } }\n",
    );
    write(root, "app/params.libsonnet", "{ replicas: 2 }\n");
    write(
        root,
        "app/main.jsonnet",
        "local k = import 'k.libsonnet';\nlocal params = import 'params.libsonnet';\nfunction(tier, size=1) [\n  k.configMap('settings-' + std.extVar('env'), { tier: tier, size: std.toString(size), app: std.extVar('app'), replicas: std.toString(params.replicas) }),\n  { apiVersion: 'v1', kind: 'List', items: [k.configMap('listed', { a: 'b' })] },\n]\n",
    );
    write(
        root,
        "app/more.json",
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"plain\"}}\n",
    );
    let src = jsonnet_source(
        "app",
        JsonnetSource {
            ext_vars: vec![
                var("env", "prod", false),
                var("app", "$ARGOCD_APP_NAME-$ARGOCD_APP_REVISION_SHORT", false),
            ],
            tlas: vec![var("tier", "gold", false), var("size", "2 + 1", true)],
            libs: vec!["lib".into()],
        },
    );
    let rendered = Renderer::new(common::tools())
        .render(&request(root, &src))
        .await
        .unwrap();
    assert_eq!(
        names(&rendered.objects),
        [
            "ConfigMap/settings-prod",
            "ConfigMap/listed",
            "ConfigMap/plain"
        ]
    );
    let settings = find(&rendered.objects, "ConfigMap", "settings-prod");
    assert_eq!(
        settings["data"],
        serde_json::json!({"tier": "gold", "size": "3", "app": "web-0123456", "replicas": "2"})
    );
}

#[tokio::test]
async fn errors_name_the_file_the_line_and_the_cause() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let render = |text: &'static str| {
        let root = root.to_path_buf();
        async move {
            write(&root, "bad/main.jsonnet", text);
            let src = source("bad");
            Renderer::new(common::tools())
                .with_cache_capacity(0)
                .render(&request(&root, &src))
                .await
                .unwrap_err()
        }
    };
    let error = render("{\n  a: error 'no tier given',\n}\n").await;
    assert!(matches!(error, RenderError::Jsonnet { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with("failed to evaluate jsonnet \"bad/main.jsonnet\": bad/main.jsonnet:2:")
            && text.ends_with("no tier given"),
        "{text}"
    );
    let text = render("local x = 1;\n{ a: y }\n").await.to_string();
    assert!(
        text.contains("bad/main.jsonnet:2:6: unknown variable `y`"),
        "{text}"
    );
    let text = render("{ a: std.extVar('missing') }\n").await.to_string();
    assert!(
        text.contains("undefined external variable `missing`"),
        "{text}"
    );
    let text = render("local l = import 'nowhere.libsonnet'; l\n")
        .await
        .to_string();
    assert!(
        text.contains("import \"nowhere.libsonnet\" not found"),
        "{text}"
    );
    let text = render("{ a: 1 \n").await.to_string();
    assert!(
        text.contains("bad/main.jsonnet:2:1: syntax error"),
        "{text}"
    );
    let text = render("local f(n) = f(n + 1); f(0)\n").await.to_string();
    assert!(text.contains("nested calls"), "{text}");
}

#[tokio::test]
async fn imports_cannot_leave_the_checkout() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.libsonnet", "{ password: 'x' }\n");
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(
        root,
        "app/main.jsonnet",
        &format!(
            "(import '{}/secret.libsonnet') + {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'x' }} }}\n",
            outside.path().display()
        ),
    );
    let src = source("app");
    let error = Renderer::new(common::tools())
        .render(&request(root, &src))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("leaves the checkout") || error.contains("not found"),
        "{error}"
    );
    let libs = jsonnet_source(
        "app",
        JsonnetSource {
            libs: vec!["../..".into()],
            ..Default::default()
        },
    );
    let error = Renderer::new(common::tools())
        .render(&request(root, &libs))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("directory.jsonnet.libs"), "{error}");
}

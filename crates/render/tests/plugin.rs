//! Config management plugins (Argo CD's CMP v2) defined in bosun.yaml: run in a copy of the
//! checkout, in the source directory, init then generate, with Argo CD's environment; stdout is
//! the manifests; a failure, a timeout or an unknown plugin name fails the render with its cause.

mod common;

use std::time::Duration;

use bosun_model::{PluginCommand, PluginConfig, PluginEnv, PluginParameter, PluginSource};
use bosun_render::Renderer;
use common::{find, request, snapshot, source, write};

fn sh(script: &str) -> PluginCommand {
    PluginCommand {
        command: vec!["sh".into(), "-c".into()],
        args: vec![script.into()],
    }
}

fn plugin(init: Option<&str>, generate: &str, timeout: Option<&str>) -> PluginConfig {
    PluginConfig {
        name: "envsubst".into(),
        version: Some("v1".into()),
        init: init.map(sh),
        generate: sh(generate),
        timeout: timeout.map(Into::into),
        ..Default::default()
    }
}

fn plugin_source(path: &str, name: &str) -> bosun_model::ApplicationSource {
    let mut s = source(path);
    s.plugin = Some(PluginSource {
        name: Some(name.into()),
        env: vec![PluginEnv {
            name: "GREETING".into(),
            value: "hello $ARGOCD_APP_NAME".into(),
        }],
        parameters: vec![PluginParameter {
            name: "tier".into(),
            string: Some("gold".into()),
            ..Default::default()
        }],
    });
    s
}

#[tokio::test]
async fn a_plugin_renders_with_argo_cds_environment_and_leaves_the_checkout_alone() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "app/template.txt", "greeting");
    let before = snapshot(root);
    // init writes a file next to the source (in the copy); generate reads it and the variables.
    let generate = r#"cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: from-plugin
data:
  key: "$(cat made-by-init)"
  greeting: "$ARGOCD_ENV_GREETING"
  tier: "$PARAM_TIER"
  app: "$ARGOCD_APP_NAME/$ARGOCD_APP_NAMESPACE/$ARGOCD_APP_PROJECT_NAME"
  revision: "$ARGOCD_APP_REVISION_SHORT"
  path: "$ARGOCD_APP_SOURCE_PATH"
  repo: "$ARGOCD_APP_SOURCE_REPO_URL"
  cwd: "$(basename "$PWD")"
EOF"#;
    let renderer = Renderer::new(common::tools()).with_plugins(vec![plugin(
        Some("cat template.txt > made-by-init"),
        generate,
        None,
    )]);
    let src = plugin_source("app", "envsubst-v1");
    let rendered = renderer.render(&request(root, &src)).await.unwrap();
    let cm = find(&rendered.objects, "ConfigMap", "from-plugin");
    assert_eq!(
        cm["data"],
        serde_json::json!({
            "key": "greeting",
            "greeting": "hello web",
            "tier": "gold",
            "app": "web/shop/default",
            "revision": "0123456",
            "path": "app",
            "repo": "https://git.example/deploy.git",
            "cwd": "app",
        })
    );
    assert_eq!(snapshot(root), before, "the checkout was written");
}

#[tokio::test]
async fn failures_name_the_plugin_and_its_stderr() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "app/x.txt", "x");
    let render = |config: PluginConfig, name: &str| {
        let src = plugin_source("app", name);
        let renderer = Renderer::new(common::tools()).with_plugins(vec![config]);
        let root = root.to_path_buf();
        async move {
            renderer
                .render(&request(&root, &src))
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let error = render(
        plugin(None, "echo 'values.yaml: no such file' >&2; exit 3", None),
        "envsubst-v1",
    )
    .await;
    assert!(
        error.contains("plugin envsubst-v1 generate failed")
            && error.contains("values.yaml: no such file"),
        "{error}"
    );
    let error = render(plugin(Some("exit 1"), "echo {}", None), "envsubst-v1").await;
    assert!(error.contains("plugin envsubst-v1 init failed"), "{error}");
    let error = render(plugin(None, "echo {}", None), "helmfile").await;
    assert_eq!(
        error,
        "source.plugin.name: no plugin named \"helmfile\" in bosun.yaml's plugins (defined: envsubst-v1)"
    );
    let error = render(plugin(None, "echo 'kind: [' ", None), "envsubst-v1").await;
    assert!(error.contains("output of plugin envsubst-v1"), "{error}");
}

#[tokio::test]
async fn a_plugin_that_outlives_its_timeout_is_killed_with_its_children() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "app/x.txt", "x");
    let marker = repo.path().join("child-pid");
    let generate = format!("sleep 300 & echo $! > {}; wait", marker.display());
    let src = plugin_source("app", "envsubst-v1");
    let renderer =
        Renderer::new(common::tools()).with_plugins(vec![plugin(None, &generate, Some("1s"))]);
    let error = renderer
        .render(&request(root, &src))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("did not finish within"), "{error}");
    let pid = std::fs::read_to_string(&marker).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    // The kill is sent before the error returns; the child is gone once the kernel reaps it.
    for _ in 0..100 {
        let gone = std::fs::read_to_string(format!("{proc}/stat"))
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"));
        if gone {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the plugin's child {pid} outlived the timeout");
}

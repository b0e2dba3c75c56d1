//! Config management plugins, run as Argo CD's CMP v2 sidecar runs them: in a private copy of the
//! checkout, in the source directory, `init` then `generate`, with Argo CD's environment
//! (`ARGOCD_APP_*`, `KUBE_VERSION`, `KUBE_API_VERSIONS`, `ARGOCD_ENV_<name>` from the
//! Application's `plugin.env`, `ARGOCD_APP_PARAMETERS` and `PARAM_*` from its `plugin.parameters`)
//! on top of bosun's own; `generate`'s stdout is the manifests (YAML or JSON). A failing command,
//! or one that outlives the plugin's timeout (killed with everything it started), fails the
//! render with its stderr; nothing is applied.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use bosun_model::{PluginCommand, PluginConfig, PluginParameter, PluginSource};

use crate::build_env::envsubst;
use crate::error::RenderError;
use crate::process::{Invocation, ToolRunner};
use crate::workdir::WorkCopy;

/// The plugin an Application names: `<name>` or `<name>-<version>`.
pub(crate) fn find<'a>(
    plugins: &'a [PluginConfig],
    source: &PluginSource,
) -> Result<&'a PluginConfig, RenderError> {
    let Some(name) = source.name.as_deref().filter(|n| !n.is_empty()) else {
        return Err(RenderError::Plugin(
            "source.plugin.name: bosun picks a plugin by name (it does not run discovery); \
             name one of bosun.yaml's plugins"
                .into(),
        ));
    };
    plugins
        .iter()
        .find(|p| p.full_name() == name)
        .ok_or_else(|| {
            let known: Vec<String> = plugins.iter().map(PluginConfig::full_name).collect();
            RenderError::Plugin(format!(
                "source.plugin.name: no plugin named {name:?} in bosun.yaml's plugins{}",
                if known.is_empty() {
                    " (none is defined)".to_owned()
                } else {
                    format!(" (defined: {})", known.join(", "))
                }
            ))
        })
}

/// Runs the plugin for the source directory `dir` of the checkout `root` and returns what
/// `generate` printed.
pub(crate) async fn generate(
    runner: &ToolRunner,
    plugin: &PluginConfig,
    source: &PluginSource,
    root: &Path,
    dir: &Path,
    build_env: &[(String, String)],
) -> Result<String, RenderError> {
    let (root_owned, dir_owned) = (root.to_path_buf(), dir.to_path_buf());
    let (copy, work_dir) = tokio::task::spawn_blocking(move || {
        let copy = WorkCopy::of(&root_owned)?;
        let work_dir = copy.path_of(&root_owned, &dir_owned);
        Ok::<_, RenderError>((copy, work_dir))
    })
    .await
    .expect("copying the checkout does not panic")?;
    let env = environment(source, build_env);
    // The plugin's timeout bounds init and generate together.
    let deadline = tokio::time::Instant::now() + plugin.timeout();
    let hide_roots = vec![copy.root.clone(), root.to_path_buf()];
    if let Some(init) = &plugin.init {
        run(
            runner,
            plugin,
            "init",
            init,
            &work_dir,
            &env,
            &hide_roots,
            deadline,
        )
        .await?;
    }
    let output = run(
        runner,
        plugin,
        "generate",
        &plugin.generate,
        &work_dir,
        &env,
        &hide_roots,
        deadline,
    )
    .await?;
    if output.trim().is_empty() {
        tracing::warn!(plugin = %plugin.full_name(), "plugin command returned zero output");
    }
    Ok(output)
}

#[allow(clippy::too_many_arguments)] // one step of `generate`, with all it shares
async fn run(
    runner: &ToolRunner,
    plugin: &PluginConfig,
    step: &str,
    command: &PluginCommand,
    work_dir: &Path,
    env: &[(OsString, OsString)],
    hide_roots: &[std::path::PathBuf],
    deadline: tokio::time::Instant,
) -> Result<String, RenderError> {
    let name = format!("plugin {} {step}", plugin.full_name());
    let (program, first) = command
        .command
        .split_first()
        .expect("bosun.yaml's check requires a command");
    let args = first
        .iter()
        .chain(command.args.iter())
        .map(OsString::from)
        .collect();
    runner
        .run(Invocation {
            name: &name,
            binary: Path::new(program),
            args,
            cwd: Some(work_dir),
            env: env.to_vec(),
            hide_roots: hide_roots.to_vec(),
            stdout_in_errors: false,
            stdin: None,
            timeout: Some(
                deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .max(Duration::from_millis(1)),
            ),
        })
        .await
}

/// Argo CD's variables for a plugin: the build environment, then `ARGOCD_ENV_*` (its values
/// expanded against the build environment), then the parameters.
pub(crate) fn environment(
    source: &PluginSource,
    build_env: &[(String, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(String, String)> = build_env.to_vec();
    for entry in &source.env {
        env.push((
            format!("ARGOCD_ENV_{}", entry.name),
            envsubst(&entry.value, build_env),
        ));
    }
    if !source.parameters.is_empty() {
        env.push((
            "ARGOCD_APP_PARAMETERS".into(),
            serde_json::to_string(&source.parameters).unwrap_or_default(),
        ));
        for parameter in &source.parameters {
            env.extend(parameter_env(parameter));
        }
    }
    env.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

/// `PARAM_<NAME>`, `PARAM_<NAME>_<KEY>` (maps), `PARAM_<NAME>_<i>` (arrays), names upper-cased
/// with every other character than `A-Z0-9_` made `_`.
fn parameter_env(parameter: &PluginParameter) -> Vec<(String, String)> {
    let clean = |text: &str| -> String {
        text.to_uppercase()
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let base = format!("PARAM_{}", clean(&parameter.name));
    let mut env = Vec::new();
    if let Some(value) = &parameter.string {
        env.push((base.clone(), value.clone()));
    }
    if let Some(items) = &parameter.array {
        for (i, item) in items.iter().enumerate() {
            env.push((format!("{base}_{i}"), item.clone()));
        }
    }
    if let Some(map) = &parameter.map {
        for (key, value) in map {
            env.push((format!("{base}_{}", clean(key)), value.clone()));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_model::PluginEnv;

    #[test]
    fn the_environment_is_argo_cds() {
        let source = PluginSource {
            name: Some("cmp".into()),
            env: vec![PluginEnv {
                name: "RELEASE".into(),
                value: "$ARGOCD_APP_NAME-v1".into(),
            }],
            parameters: vec![
                PluginParameter {
                    name: "values-files".into(),
                    array: Some(vec!["a.yaml".into(), "b.yaml".into()]),
                    ..Default::default()
                },
                PluginParameter {
                    name: "image".into(),
                    map: Some([("tag.name".to_owned(), "v2".to_owned())].into()),
                    ..Default::default()
                },
                PluginParameter {
                    name: "mode".into(),
                    string: Some("fast".into()),
                    ..Default::default()
                },
            ],
        };
        let build = vec![("ARGOCD_APP_NAME".to_owned(), "shop".to_owned())];
        let env: Vec<(String, String)> = environment(&source, &build)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ARGOCD_ENV_RELEASE"), Some("shop-v1"));
        assert_eq!(get("PARAM_VALUES_FILES_0"), Some("a.yaml"));
        assert_eq!(get("PARAM_VALUES_FILES_1"), Some("b.yaml"));
        assert_eq!(get("PARAM_IMAGE_TAG_NAME"), Some("v2"));
        assert_eq!(get("PARAM_MODE"), Some("fast"));
        assert_eq!(
            get("ARGOCD_APP_PARAMETERS"),
            Some(
                r#"[{"name":"values-files","array":["a.yaml","b.yaml"]},{"name":"image","map":{"tag.name":"v2"}},{"name":"mode","string":"fast"}]"#
            )
        );
    }

    #[test]
    fn a_plugin_is_found_by_name_and_version() {
        let plugins = vec![PluginConfig {
            name: "envsubst".into(),
            version: Some("v1.0".into()),
            ..Default::default()
        }];
        let named = |name: &str| PluginSource {
            name: Some(name.into()),
            ..Default::default()
        };
        assert!(find(&plugins, &named("envsubst-v1.0")).is_ok());
        let missing = find(&plugins, &named("envsubst")).unwrap_err().to_string();
        assert_eq!(
            missing,
            "source.plugin.name: no plugin named \"envsubst\" in bosun.yaml's plugins (defined: envsubst-v1.0)"
        );
        assert!(find(&plugins, &PluginSource::default()).is_err());
    }
}

//! Helm sources, rendered by the real `helm template` with the arguments Argo CD's repo server
//! passes (`util/helm/cmd.go`): release name, namespace, `--include-crds`, value files, the
//! inline values as one more values file, `--set`/`--set-string` parameters, and the target
//! cluster's `--kube-version` and `--api-versions` for `.Capabilities` (the source's own
//! `helm.kubeVersion`/`helm.apiVersions` win, as in Argo CD). `helm.namespace`, `skipCrds`,
//! `skipTests`, `skipSchemaValidation` and `ignoreMissingValueFiles` mean what they mean there.
//!
//! Helm runs with private `HELM_CACHE_HOME`/`HELM_CONFIG_HOME`/`HELM_DATA_HOME` (as Argo CD does),
//! so neither the host's repositories nor a previous render can change the output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use bosun_model::HelmSource;
use serde_json::Value;

use crate::error::RenderError;
use crate::process::{Invocation, ToolRunner};
use crate::renderer::RefSource;
use crate::workdir::WorkCopy;

/// What `helm template` needs beyond the chart.
pub(crate) struct HelmRender<'a> {
    /// Canonical checkout root.
    pub root: &'a Path,
    /// Canonical chart directory inside `root`.
    pub chart_dir: &'a Path,
    /// The sources `$ref/...` value files name.
    pub refs: &'a BTreeMap<String, RefSource>,
    pub release: &'a str,
    pub namespace: &'a str,
    pub kube_version: Option<&'a str>,
    pub api_versions: &'a [String],
    pub options: Option<&'a HelmSource>,
}

/// Files helm needs that are not in the checkout, and the checkout copy when one was needed.
struct Prepared {
    scratch: tempfile::TempDir,
    copy: Option<WorkCopy>,
    value_files: Vec<OsString>,
    inline_values: Option<PathBuf>,
}

pub(crate) async fn template(
    runner: &ToolRunner,
    helm: &Path,
    render: HelmRender<'_>,
) -> Result<String, RenderError> {
    let prepared = {
        let root = render.root.to_path_buf();
        let chart_dir = render.chart_dir.to_path_buf();
        let options = render.options.cloned().unwrap_or_default();
        let refs = render.refs.clone();
        tokio::task::spawn_blocking(move || prepare(&root, &chart_dir, &refs, &options))
            .await
            .expect("helm preparation task does not panic")?
    };
    let chart_dir = match &prepared.copy {
        Some(copy) => copy.path_of(render.root, render.chart_dir),
        None => render.chart_dir.to_path_buf(),
    };
    let env = private_homes(prepared.scratch.path());
    let hide_roots: Vec<PathBuf> = prepared
        .copy
        .iter()
        .map(|c| c.root.clone())
        .chain([render.root.to_path_buf()])
        .chain(render.refs.values().map(|r| r.root.clone()))
        .collect();

    if prepared.copy.is_some() {
        runner
            .run(Invocation {
                name: "helm dependency build",
                binary: helm,
                args: vec![
                    "dependency".into(),
                    "build".into(),
                    chart_dir.clone().into_os_string(),
                ],
                cwd: Some(&chart_dir),
                env: env.clone(),
                hide_roots: hide_roots.clone(),
                stdout_in_errors: true,
                stdin: None,
                timeout: None,
            })
            .await
            .map_err(tidy_error)?;
    }

    let options = render.options.cloned().unwrap_or_default();
    let mut args: Vec<OsString> = vec![
        "template".into(),
        render.release.into(),
        chart_dir.clone().into_os_string(),
    ];
    if options.skip_crds != Some(true) {
        args.push("--include-crds".into());
    }
    if options.skip_tests == Some(true) {
        args.push("--skip-tests".into());
    }
    if options.skip_schema_validation == Some(true) {
        args.push("--skip-schema-validation".into());
    }
    let namespace = options
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(render.namespace);
    if !namespace.is_empty() {
        args.extend(["--namespace".into(), namespace.into()]);
    }
    for file in &prepared.value_files {
        args.extend(["--values".into(), file.clone()]);
    }
    if let Some(file) = &prepared.inline_values {
        args.extend(["--values".into(), file.clone().into_os_string()]);
    }
    for parameter in &options.parameters {
        let flag = if parameter.force_string {
            "--set-string"
        } else {
            "--set"
        };
        args.push(flag.into());
        args.push(format!("{}={}", parameter.name, escape_set_value(&parameter.value)).into());
    }
    let kube_version = options.kube_version.as_deref().or(render.kube_version);
    if let Some(version) = kube_version.filter(|v| !v.is_empty()) {
        args.extend(["--kube-version".into(), version.into()]);
    }
    let api_versions = if options.api_versions.is_empty() {
        render.api_versions
    } else {
        &options.api_versions
    };
    for api_version in api_versions {
        args.extend(["--api-versions".into(), api_version.into()]);
    }

    runner
        .run(Invocation {
            name: "helm template",
            binary: helm,
            args,
            cwd: Some(&chart_dir),
            env,
            hide_roots,
            stdout_in_errors: true,
            stdin: None,
            timeout: None,
        })
        .await
        .map_err(tidy_error)
}

/// Helm's cache, config and data homes under `dir` (as Argo CD runs it): no repository, cache
/// or login of the host's, nor of an earlier run, reaches this one.
fn private_homes(dir: &Path) -> Vec<(OsString, OsString)> {
    [
        ("HELM_CACHE_HOME", dir.join("cache")),
        ("HELM_CONFIG_HOME", dir.join("config")),
        ("HELM_DATA_HOME", dir.join("data")),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into_os_string()))
    .collect()
}

/// The user name and password of a Helm repository (`Debug` leaves the password out).
#[derive(Clone)]
pub struct ChartCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ChartCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartCredentials")
            .field("username", &self.username)
            .field("password", &"********")
            .finish()
    }
}

/// Whether a chart's `targetRevision` names one version (`1.2.3`, `1.2.3-rc.1+b5`) rather than
/// a constraint (`1.2.*`, `^1.2`, `>=1 <2`) or the latest (empty): only then may a pulled copy
/// be reused without asking the repository.
pub(crate) fn exact_version(version: &str) -> bool {
    if !safe_version(version) {
        return false;
    }
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a version is made of what semver versions are made of (it names a directory of the
/// chart cache: a chart's own `Chart.yaml` must not lead it elsewhere).
fn safe_version(version: &str) -> bool {
    !version.is_empty()
        && !version.starts_with('.')
        && !version.contains("..")
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-_".contains(&b))
}

/// A chart name as Helm repositories index them: one path segment, nothing helm would read as
/// an option or a path.
pub(crate) fn check_chart_name(chart: &str) -> Result<(), RenderError> {
    let bad = chart.is_empty()
        || chart.starts_with('-')
        || chart.starts_with('.')
        || chart.contains(['/', '\\', '\0'])
        || chart.chars().any(char::is_whitespace);
    if bad {
        return Err(RenderError::Unsupported(format!(
            "chart {chart:?} is not a chart name of a Helm repository"
        )));
    }
    Ok(())
}

/// `helm pull` of `chart` (a name [`check_chart_name`] took) from the Helm repository at
/// `repo_url` (`version`: a version, a constraint, or empty for the latest), unpacked into
/// `into/<chart>`, as Argo CD's repo
/// server fetches a chart source; the version pulled (the chart's own `Chart.yaml`). Helm's
/// homes are a scratch directory, so no repository or cache of the user's is read or written.
pub(crate) async fn pull(
    runner: &ToolRunner,
    helm: &Path,
    repo_url: &str,
    chart: &str,
    version: &str,
    credentials: Option<&ChartCredentials>,
    into: &Path,
) -> Result<String, RenderError> {
    // An OCI registry: `oci://host/path`, or `host/path` without a scheme (Argo CD's form).
    let oci = match repo_url.strip_prefix("oci://") {
        Some(rest) => Some(rest),
        None if !repo_url.contains("://") => Some(repo_url),
        None if repo_url.starts_with("https://") || repo_url.starts_with("http://") => None,
        None => {
            return Err(RenderError::Unsupported(format!(
                "chart {chart:?}: repoURL {repo_url:?} is neither an http(s) Helm repository nor \
                 an OCI registry"
            )));
        }
    };
    if oci.is_some() && credentials.is_some() {
        return Err(RenderError::Unsupported(format!(
            "chart {chart:?}: credentials for OCI registries are not supported yet ({repo_url})"
        )));
    }
    let home = tempfile::Builder::new()
        .prefix("bosun-helm-")
        .tempdir()
        .map_err(|err| RenderError::io("creating a helm work directory", err))?;
    let env = private_homes(home.path());
    let mut args: Vec<OsString> = vec!["pull".into()];
    if let Some(reference) = oci {
        let reference = reference.trim_end_matches('/');
        let host = reference.split('/').next().unwrap_or_default();
        args.push(format!("oci://{reference}/{chart}").into());
        // Plain HTTP for a registry on this machine only, as the image updater does.
        if bosun_model::registry_host::is_loopback(host) {
            args.push("--plain-http".into());
        }
    }
    match credentials {
        // With credentials, the repository is added to the scratch home first, its password
        // on stdin (never on a command line), and the chart pulled through it.
        Some(credentials) => {
            runner
                .run(Invocation {
                    name: "helm repo add",
                    binary: helm,
                    args: vec![
                        "repo".into(),
                        "add".into(),
                        "bosun".into(),
                        repo_url.into(),
                        "--username".into(),
                        credentials.username.as_str().into(),
                        "--password-stdin".into(),
                    ],
                    cwd: Some(home.path()),
                    env: env.clone(),
                    hide_roots: vec![into.to_path_buf()],
                    stdout_in_errors: true,
                    stdin: Some(credentials.password.as_bytes().to_vec()),
                    timeout: None,
                })
                .await
                .map_err(tidy_error)?;
            args.push(format!("bosun/{chart}").into());
        }
        None if oci.is_some() => {}
        None => args.extend([chart.into(), "--repo".into(), repo_url.into()]),
    }
    args.extend([
        "--untar".into(),
        "--untardir".into(),
        into.as_os_str().to_owned(),
    ]);
    if !version.is_empty() {
        args.extend(["--version".into(), version.into()]);
    }
    runner
        .run(Invocation {
            name: "helm pull",
            binary: helm,
            args,
            cwd: Some(home.path()),
            env,
            hide_roots: vec![into.to_path_buf()],
            stdout_in_errors: true,
            stdin: None,
            timeout: None,
        })
        .await
        .map_err(tidy_error)?;
    let chart_file = into.join(chart).join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_file)
        .map_err(|err| RenderError::io("reading the pulled chart's Chart.yaml", err))?;
    let meta: Value =
        serde_saphyr::from_str(&text).map_err(|err| RenderError::InvalidManifest {
            origin: format!("Chart.yaml of chart {chart:?} from {repo_url}"),
            line: err.location().map(|l| l.line()),
            document: None,
            template: None,
            message: err.without_snippet().to_string(),
        })?;
    match meta["version"].as_str() {
        Some(pulled) if safe_version(pulled) => Ok(pulled.to_string()),
        _ => Err(RenderError::Unsupported(format!(
            "chart {chart:?} from {repo_url} has no semver version in its Chart.yaml"
        ))),
    }
}

/// helm ends every failure with advice about `--debug` that does not apply to bosun.
fn tidy_error(err: RenderError) -> RenderError {
    match err {
        RenderError::ToolFailed {
            command,
            status,
            stderr,
        } => {
            let stderr = stderr
                .lines()
                .filter(|l| !l.starts_with("Use --debug flag"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string();
            RenderError::ToolFailed {
                command,
                status,
                stderr,
            }
        }
        other => other,
    }
}

fn prepare(
    root: &Path,
    chart_dir: &Path,
    refs: &BTreeMap<String, RefSource>,
    options: &HelmSource,
) -> Result<Prepared, RenderError> {
    let scratch = tempfile::Builder::new()
        .prefix("bosun-helm-")
        .tempdir()
        .map_err(|err| RenderError::io("creating a helm work directory", err))?;
    let mut value_files = Vec::new();
    for file in &options.value_files {
        match value_file(root, chart_dir, refs, file) {
            Ok(path) => value_files.push(path),
            Err(RenderError::ValueFileMissing { .. })
                if options.ignore_missing_value_files == Some(true) =>
            {
                tracing::debug!(
                    file,
                    "helm value file missing; ignored (ignoreMissingValueFiles)"
                );
            }
            Err(err) => return Err(err),
        }
    }
    let inline_values = inline_values(options)
        .map(|text| {
            let path = scratch.path().join("values-inline.yaml");
            std::fs::write(&path, text)
                .map(|()| path)
                .map_err(|err| RenderError::io("writing inline helm values", err))
        })
        .transpose()?;
    let copy = if missing_dependencies(chart_dir)?.is_empty() {
        None
    } else {
        Some(WorkCopy::of(root)?)
    };
    Ok(Prepared {
        scratch,
        copy,
        value_files,
        inline_values,
    })
}

/// A value file is relative to the chart directory and must exist inside the checkout. A URL is
/// passed to helm as it is, as Argo CD does. `$name/path` is `path` from the root of the source
/// whose `ref` is `name` (Argo CD's value files from another source), and must exist inside that
/// source's checkout.
fn value_file(
    root: &Path,
    chart_dir: &Path,
    refs: &BTreeMap<String, RefSource>,
    file: &str,
) -> Result<OsString, RenderError> {
    if file.starts_with("http://") || file.starts_with("https://") {
        return Ok(file.into());
    }
    let (root, chart_dir, relative, named) = match file.strip_prefix('$') {
        Some(reference) => {
            let (name, path) = reference.split_once('/').unwrap_or((reference, ""));
            let source = refs.get(name).ok_or_else(|| {
                RenderError::Unsupported(format!(
                    "helm value file {file:?} names the source ${name}, but no source has ref: {name}"
                ))
            })?;
            let root = source.root.canonicalize().map_err(|err| {
                RenderError::io(format!("reading the checkout of source ${name}"), err)
            })?;
            (root.clone(), root, path, Some(format!("${name}")))
        }
        None => (root.to_path_buf(), chart_dir.to_path_buf(), file, None),
    };
    let (root, chart_dir) = (root.as_path(), chart_dir.as_path());
    let chart = named.unwrap_or_else(|| {
        chart_dir
            .strip_prefix(root)
            .unwrap_or(chart_dir)
            .display()
            .to_string()
    });
    let resolved =
        chart_dir
            .join(relative)
            .canonicalize()
            .map_err(|_| RenderError::ValueFileMissing {
                file: file.to_string(),
                chart: chart.clone(),
            })?;
    if !resolved.starts_with(root) {
        return Err(RenderError::ValueFileEscapesCheckout {
            file: file.to_string(),
        });
    }
    if !resolved.is_file() {
        return Err(RenderError::ValueFileMissing {
            file: file.to_string(),
            chart,
        });
    }
    Ok(resolved.into_os_string())
}

/// `valuesObject` wins over `values` when both are set, as in Argo CD. An object is written as
/// JSON, which helm reads as YAML.
fn inline_values(options: &HelmSource) -> Option<String> {
    match (&options.values_object, &options.values) {
        (Some(object), _) if !object.is_null() => Some(object.to_string()),
        (_, Some(text)) if !text.trim().is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// Argo CD escapes commas in `--set` values (helm would split on them) unless the value is a
/// `{a,b}` list; commas already escaped stay as they are.
fn escape_set_value(value: &str) -> String {
    if value.starts_with('{') && value.ends_with('}') {
        return value.to_string();
    }
    let mut escaped = String::with_capacity(value.len());
    let mut previous = None;
    for c in value.chars() {
        if c == ',' && previous != Some('\\') {
            escaped.push('\\');
        }
        escaped.push(c);
        previous = Some(c);
    }
    escaped
}

/// Names of `Chart.yaml` dependencies that `charts/` holds neither as a directory nor as an
/// archive; `helm template` refuses such a chart, `helm dependency build` fills them in.
fn missing_dependencies(chart_dir: &Path) -> Result<Vec<String>, RenderError> {
    let chart_file = chart_dir.join("Chart.yaml");
    let Ok(text) = std::fs::read_to_string(&chart_file) else {
        // No Chart.yaml (an explicit `helm:` block on a non-chart): helm reports it.
        return Ok(Vec::new());
    };
    let chart: Value =
        serde_saphyr::from_str(&text).map_err(|err| RenderError::InvalidManifest {
            origin: "Chart.yaml".into(),
            line: err.location().map(|l| l.line()),
            document: None,
            template: None,
            message: err.without_snippet().to_string(),
        })?;
    let names = chart
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("name").and_then(Value::as_str));
    let charts = chart_dir.join("charts");
    let archives: Vec<String> = std::fs::read_dir(&charts)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tgz"))
                .collect()
        })
        .unwrap_or_default();
    Ok(names
        .filter(|name| {
            let unpacked = charts.join(name).join("Chart.yaml").is_file();
            let packed = archives.iter().any(|a| {
                a.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            });
            !unpacked && !packed
        })
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Only a plain version may skip asking the repository, and no version or chart name from an
    // Application or a chart's Chart.yaml can name a directory outside the chart cache.
    #[test]
    fn exact_versions_and_names_that_stay_in_the_cache() {
        for exact in ["1.2.3", "10.0.1-rc.1", "1.2.3+build.5", "0.0.0-x_y"] {
            assert!(exact_version(exact), "{exact}");
        }
        for not in [
            "",
            "1.2",
            "1.2.*",
            "^1.2.3",
            ">=1.0.0 <2",
            "~1.2.3",
            "1.x.0",
            "v1.2.3",
            "1.2.3-/../../etc",
            "1.2.3+..",
            "1.2.3/x",
        ] {
            assert!(!exact_version(not), "{not:?}");
        }
        assert!(!safe_version("../../x") && !safe_version(".hidden") && safe_version("1.2.3"));
        for bad in ["", "../x", "a/b", "-x", ".x", "a b"] {
            assert!(check_chart_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_chart_name("kube-prometheus-stack").is_ok());
    }

    #[test]
    fn set_values_escape_commas_like_argo_cd() {
        assert_eq!(escape_set_value("a,b"), "a\\,b");
        assert_eq!(escape_set_value("a\\,b"), "a\\,b");
        assert_eq!(escape_set_value("{a,b}"), "{a,b}");
    }

    #[test]
    fn dependencies_present_as_directory_or_archive_are_not_missing() {
        let chart = tempfile::tempdir().unwrap();
        std::fs::write(
            chart.path().join("Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- {name: common, version: 0.1.0, repository: file://../common}\n- {name: db, version: 1.0.0, repository: file://../db}\n- {name: db-extra, version: 1.0.0, repository: file://../x}\n",
        )
        .unwrap();
        assert_eq!(
            missing_dependencies(chart.path()).unwrap(),
            ["common", "db", "db-extra"]
        );
        std::fs::create_dir_all(chart.path().join("charts/common")).unwrap();
        std::fs::write(
            chart.path().join("charts/common/Chart.yaml"),
            "name: common\n",
        )
        .unwrap();
        std::fs::write(chart.path().join("charts/db-extra-1.0.0.tgz"), "").unwrap();
        // `db-extra-1.0.0.tgz` must not count as the archive of `db`.
        assert_eq!(missing_dependencies(chart.path()).unwrap(), ["db"]);
    }
}

//! The Render stage's entry point: one Application source at one commit → its objects, or an
//! error that says why there are none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bosun_model::{ApplicationSource, PluginConfig};
use serde_json::Value;

use crate::cache::{CacheKey, CachedRender, RenderCache};
use crate::detect::{self, RenderKind};
use crate::error::RenderError;
use crate::helm::{self, ChartCredentials, HelmRender};
use crate::process::ToolRunner;
use crate::{build_env, directory, kustomize, manifests, plugin};

/// Argo CD's repo server exec timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
/// Rendered sources kept in memory (one per Application, commit and cluster version).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Where the `helm` and `kubectl` binaries are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tools {
    pub helm: PathBuf,
    pub kubectl: PathBuf,
}

impl Tools {
    /// `$BOSUN_TOOLS/bin/<tool>` (default `~/.cache/bosun-tools`, where
    /// `scripts/install-test-deps` puts pinned versions) when it exists, else the bare name,
    /// found on `PATH` when run.
    pub fn discover() -> Tools {
        let dir = tools_dir();
        let pick = |name: &str| {
            dir.as_ref()
                .map(|d| d.join("bin").join(name))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from(name))
        };
        Tools {
            helm: pick("helm"),
            kubectl: pick("kubectl"),
        }
    }
}

/// `$BOSUN_TOOLS`, or `~/.cache/bosun-tools`.
pub fn tools_dir() -> Option<PathBuf> {
    match std::env::var_os("BOSUN_TOOLS") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/bosun-tools")),
    }
}

/// What to render: a source at a commit, for an Application and its target cluster.
#[derive(Clone, Debug)]
pub struct RenderRequest<'a> {
    /// The checkout of `commit` (the Source stage's work tree). Never written to.
    pub checkout_root: &'a Path,
    pub commit: &'a str,
    pub source: &'a ApplicationSource,
    /// The Application's name: Helm's default release name.
    pub app_name: &'a str,
    /// The destination namespace: Helm's `--namespace`.
    pub namespace: &'a str,
    /// The target cluster's version (`1.35.0`), for Helm's `.Capabilities.KubeVersion`.
    pub kube_version: Option<String>,
    /// The target cluster's API versions (`apps/v1`, `apps/v1/Deployment`), for
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// `syncPolicy.automated.allowEmpty`: accept a render with no objects.
    pub allow_empty: bool,
    /// The Application's project (`ARGOCD_APP_PROJECT_NAME` for plugins).
    pub project: &'a str,
    /// The sources other sources name by their `ref` (`$values/...` in helm `valueFiles`), by
    /// that name.
    pub refs: &'a BTreeMap<String, RefSource>,
}

/// A source named by its `ref`: its checkout and commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefSource {
    pub root: PathBuf,
    pub commit: String,
}

/// A source's objects, in the order the files or tools gave them.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub objects: Vec<Value>,
    pub kind: RenderKind,
    /// Served from the cache; no file was read and no tool run.
    pub from_cache: bool,
}

/// Renders sources with the real tools, bounded in time and concurrency, and remembers the
/// results. Share one per process (it is `Send + Sync`); the cache and the concurrency limit are
/// per `Renderer`.
pub struct Renderer {
    tools: Tools,
    runner: ToolRunner,
    cache: RenderCache,
    /// Checkouts of fixed commits already checked for symlinks out of the checkout: the walk
    /// covers the whole repository, so it is done once per commit, not once per Application
    /// (an app-of-apps repository with thousands of directories).
    symlinks_checked: Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
    /// Config management plugins Applications may name (bosun.yaml's `plugins`).
    plugins: Vec<PluginConfig>,
    /// Charts pulled from Helm repositories, by repository, chart and version, for the life of
    /// the process (made on the first pull).
    charts: Arc<std::sync::OnceLock<tempfile::TempDir>>,
}

/// A chart pulled from a Helm repository: `root/<chart>` is the chart, `version` the version
/// pulled (a source's revision, as Argo CD records it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledChart {
    pub root: PathBuf,
    pub version: String,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new(Tools::discover())
    }
}

impl Renderer {
    /// Defaults: 90 s per tool run, as many concurrent tool runs as CPUs, 1024 cached renders.
    pub fn new(tools: Tools) -> Renderer {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Renderer {
            tools,
            runner: ToolRunner::new(DEFAULT_TIMEOUT, cpus),
            cache: RenderCache::new(DEFAULT_CACHE_CAPACITY),
            symlinks_checked: Arc::default(),
            plugins: Vec::new(),
            charts: Arc::default(),
        }
    }

    /// The chart `chart` of the Helm repository `repo_url` at `version` (a version, a semver
    /// constraint, or empty for the latest), pulled with `helm pull`. A version already pulled
    /// is not asked for again; a constraint asks the repository every time (a new release may
    /// match it).
    pub async fn pull_chart(
        &self,
        repo_url: &str,
        chart: &str,
        version: &str,
        credentials: Option<&ChartCredentials>,
    ) -> Result<PulledChart, RenderError> {
        helm::check_chart_name(chart)?;
        let charts = match self.charts.get() {
            Some(dir) => dir.path().to_path_buf(),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("bosun-charts-")
                    .tempdir()
                    .map_err(|err| RenderError::io("creating the chart cache", err))?;
                let _ = self.charts.set(dir);
                self.charts.get().expect("set above").path().to_path_buf()
            }
        };
        let repository = charts.join(cache_name(repo_url)).join(chart);
        let version = version.trim();
        if helm::exact_version(version) && repository.join(version).join(chart).is_dir() {
            return Ok(PulledChart {
                root: repository.join(version),
                version: version.to_string(),
            });
        }
        std::fs::create_dir_all(&repository)
            .map_err(|err| RenderError::io("creating the chart cache", err))?;
        let scratch = tempfile::Builder::new()
            .prefix(".pull-")
            .tempdir_in(&repository)
            .map_err(|err| RenderError::io("creating the chart cache", err))?;
        let pulled = helm::pull(
            &self.runner,
            &self.tools.helm,
            repo_url,
            chart,
            version,
            credentials,
            scratch.path(),
        )
        .await?;
        let root = repository.join(&pulled);
        if !root.join(chart).is_dir() {
            // Another pull of the same version may have got there first: theirs is kept.
            let scratch = scratch.keep();
            if let Err(err) = std::fs::rename(&scratch, &root)
                && !root.join(chart).is_dir()
            {
                return Err(RenderError::io("keeping the pulled chart", err));
            }
            let _ = std::fs::remove_dir_all(&scratch);
        }
        Ok(PulledChart {
            root,
            version: pulled,
        })
    }

    /// The config management plugins sources may name.
    pub fn with_plugins(mut self, plugins: Vec<PluginConfig>) -> Renderer {
        self.plugins = plugins;
        self
    }

    /// The longest one `helm` or `kubectl` run may take before it is killed.
    pub fn with_timeout(mut self, timeout: Duration) -> Renderer {
        self.runner = ToolRunner::new(timeout, self.runner.limit);
        self
    }

    /// How many `helm`/`kubectl` processes may run at once (at least 1).
    pub fn with_concurrency(mut self, limit: usize) -> Renderer {
        self.runner = ToolRunner::new(self.runner.timeout, limit);
        self
    }

    /// How many renders the cache keeps (0 turns caching off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Renderer {
        self.cache = RenderCache::new(capacity);
        self
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// Renders `req.source`. Any error, and an empty result unless `allow_empty`, means the
    /// caller has no desired state for this commit: nothing may be applied or pruned.
    pub async fn render(&self, req: &RenderRequest<'_>) -> Result<Rendered, RenderError> {
        let path = source_path(req.source);
        let key = cache_key(req, &path);
        if let Some(cached) = self.cache.get(&key) {
            tracing::debug!(
                app = req.app_name,
                commit = req.commit,
                path,
                "render cache hit"
            );
            return finish(req, &path, cached.kind, cached.objects(), true);
        }

        let (root, dir, kind) = {
            let (checkout, source, path) = (
                req.checkout_root.to_path_buf(),
                req.source.clone(),
                path.clone(),
            );
            // A plain local directory ("commit" `local`) changes under us: checked every time.
            let checked = (req.commit != "local").then(|| self.symlinks_checked.clone());
            tokio::task::spawn_blocking(move || -> Result<_, RenderError> {
                let root = detect::canonical_root(&checkout)?;
                let dir = detect::app_dir(&root, &path)?;
                let known = |c: &Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>| {
                    c.lock().unwrap_or_else(|p| p.into_inner()).contains(&root)
                };
                if !checked.as_ref().is_some_and(known) {
                    detect::check_symlinks(&root)?;
                    if let Some(checked) = &checked {
                        checked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(root.clone());
                    }
                }
                let kind = detect::render_kind(&source, &dir)?;
                Ok((root, dir, kind))
            })
            .await
            .expect("render preparation does not panic")?
        };
        tracing::debug!(
            app = req.app_name,
            commit = req.commit,
            path,
            ?kind,
            "rendering"
        );

        let build_env = build_env::build_env(req, &path);
        let objects = match kind {
            RenderKind::Directory => {
                let (dir, root, options) = (dir, root, req.source.directory.clone());
                tokio::task::spawn_blocking(move || {
                    directory::render(&dir, &root, options.as_ref(), &build_env)
                })
                .await
                .expect("directory render does not panic")?
            }
            RenderKind::Kustomize => {
                let output = kustomize::build(
                    &self.runner,
                    &self.tools.kubectl,
                    &root,
                    &dir,
                    req.source.kustomize.as_ref(),
                )
                .await?;
                parse_tool_output(&output, &format!("output of `kubectl kustomize {path}`"))?
            }
            RenderKind::Helm => {
                let options = req.source.helm.as_ref();
                let release = options
                    .and_then(|h| h.release_name.as_deref())
                    .filter(|r| !r.is_empty())
                    .unwrap_or(req.app_name);
                let output = helm::template(
                    &self.runner,
                    &self.tools.helm,
                    HelmRender {
                        root: &root,
                        chart_dir: &dir,
                        refs: req.refs,
                        release,
                        namespace: req.namespace,
                        kube_version: req.kube_version.as_deref(),
                        api_versions: &req.api_versions,
                        options,
                    },
                )
                .await?;
                parse_tool_output(&output, &format!("output of `helm template {path}`"))?
            }
            RenderKind::Plugin => {
                let source = req.source.plugin.clone().unwrap_or_default();
                let plugin = plugin::find(&self.plugins, &source)?;
                let output =
                    plugin::generate(&self.runner, plugin, &source, &root, &dir, &build_env)
                        .await?;
                let origin = format!("output of plugin {}", plugin.full_name());
                parse_tool_output(&output, &origin)?
            }
        };

        self.cache.insert(key, CachedRender::new(kind, &objects));
        finish(req, &path, kind, objects, false)
    }
}

/// `source.path`, with the checkout root for an unset or empty path (`.` in Argo CD).
/// The directory of the source in its checkout: `path`, or, for a chart of a Helm repository,
/// the chart (a pulled chart's root holds it under its name).
fn source_path(source: &ApplicationSource) -> String {
    if let Some(chart) = source.chart.as_deref().filter(|c| !c.is_empty()) {
        return chart.to_string();
    }
    match source
        .path
        .as_deref()
        .map(|p| p.trim().trim_end_matches('/'))
    {
        None | Some("") => ".".to_string(),
        Some(p) => p.to_string(),
    }
}

fn cache_key(req: &RenderRequest<'_>, path: &str) -> CacheKey {
    let source = serde_json::json!({
        "repoURL": req.source.repo_url,
        "chart": req.source.chart,
        "helm": req.source.helm,
        "kustomize": req.source.kustomize,
        "directory": req.source.directory,
        "plugin": req.source.plugin,
        "project": req.project,
        // A value file of another source's commit is part of what is rendered.
        "refs": req.refs.iter().map(|(name, r)| (name.clone(), r.commit.clone())).collect::<BTreeMap<_, _>>(),
    });
    CacheKey {
        commit: req.commit.to_string(),
        path: path.to_string(),
        source: source.to_string(),
        app_name: req.app_name.to_string(),
        namespace: req.namespace.to_string(),
        kube_version: req.kube_version.clone(),
        api_versions: req.api_versions.clone(),
    }
}

/// Lines of a tool's output mean nothing to a reader, who never sees that output; such errors
/// name the document and helm's `# Source:` template instead (a syntax error's message keeps
/// its own line and column).
fn parse_tool_output(output: &str, origin: &str) -> Result<Vec<Value>, RenderError> {
    manifests::parse_stream(output, origin)
        .and_then(|docs| manifests::into_objects(docs, origin, output))
        .map_err(|err| match err {
            RenderError::InvalidManifest {
                origin,
                document,
                template,
                message,
                ..
            } => RenderError::InvalidManifest {
                origin,
                line: None,
                document,
                template,
                message,
            },
            other => other,
        })
}

/// The empty check runs on cached renders too: `allowEmpty` is not part of the cache key.
fn finish(
    req: &RenderRequest<'_>,
    path: &str,
    kind: RenderKind,
    objects: Vec<Value>,
    from_cache: bool,
) -> Result<Rendered, RenderError> {
    if objects.is_empty() && !req.allow_empty {
        return Err(RenderError::Empty {
            path: path.to_string(),
        });
    }
    Ok(Rendered {
        objects,
        kind,
        from_cache,
    })
}

/// A directory name for a repository URL: a hash only, so that nothing of the URL (user-info a
/// repoURL may carry) is written into a path; the directory lives as long as the process.
fn cache_name(url: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

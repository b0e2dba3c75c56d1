//! `bosun version`: the command-line front end over [`crate::release::compute`].

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::bump::Channel;
use crate::changelog::{self, Links};
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::github_output;
use crate::profile::ProfileName;
use crate::release::{self, Release, Target};
use crate::repo::Repo;

/// Next semantic version, changelog and tag from Conventional Commits.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VersionArgs {
    /// Print the last released version instead of the next one.
    #[arg(long)]
    pub current: bool,
    /// Print version, previous version, bump level and the commits by type as JSON.
    #[arg(long)]
    pub json: bool,
    /// Append version=, previous=, bump=, released=, tag= to the file named by $GITHUB_OUTPUT.
    #[arg(long)]
    pub github_output: bool,
    /// Print the release notes (Markdown) instead of the version.
    #[arg(long)]
    pub changelog: bool,
    /// With --changelog: prepend the notes to this file instead of printing them.
    #[arg(long, value_name = "FILE", requires = "changelog")]
    pub output: Option<PathBuf>,
    /// Create the annotated tag for the new version (nothing happens when nothing is released).
    #[arg(long)]
    pub tag: bool,
    /// With --tag: push the tag.
    #[arg(long, requires = "tag")]
    pub push: bool,
    /// The remote --push pushes to.
    #[arg(long, default_value = "origin", value_name = "NAME")]
    pub remote: String,
    /// Only commits touching this directory (relative to the repository root) count.
    #[arg(long, value_name = "DIR")]
    pub path: Option<String>,
    /// Release tags are <prefix><version> (default `v`, or `<component>-v` for components).
    #[arg(long, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,
    /// Version only this component of the config file.
    #[arg(long, value_name = "NAME", conflicts_with = "path")]
    pub component: Option<String>,
    /// Prerelease channel: `--pre rc` gives 1.3.0-rc.1, then rc.2 on the next call.
    #[arg(long, value_name = "ID")]
    pub pre: Option<String>,
    /// Branch for the config's branch→channel mapping (default: the checked-out branch, else
    /// $GITHUB_REF_NAME).
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// Rules of an established tool (default: semantic-release, or the config's `profile`).
    #[arg(long, value_enum)]
    pub profile: Option<ProfileName>,
    /// Config file (default: <repository root>/.bosun/release.yaml, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run in this directory instead of the current one.
    #[arg(short = 'C', long = "repo", value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Changelog commit links: `{hash}` and `{short}` are substituted.
    #[arg(long, value_name = "TEMPLATE")]
    pub commit_url: Option<String>,
    /// Run in a shallow clone anyway (its missing history and tags can give a wrong version).
    #[arg(long)]
    pub allow_shallow: bool,
}

/// Runs `bosun version`. On error it prints the error with its causes and exits with status 2
/// (the documented contract; "nothing to release" is not an error and exits 0).
pub fn run(args: VersionArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match execute(&args, &mut stdout) {
        Ok(()) => Ok(()),
        Err(err) => {
            let _ = stdout.flush();
            let mut message = format!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            std::process::exit(2);
        }
    }
}

/// Everything `run` does, writing what it prints to `out` (so tests can call it in-process).
pub fn execute(args: &VersionArgs, out: &mut dyn Write) -> Result<()> {
    if args.changelog && args.output.is_none() && args.json {
        return Err(Error::Usage(
            "--changelog prints the notes and --json the analysis: choose one, or give --output"
                .into(),
        ));
    }
    let repo = Repo::discover(&args.repo)?;
    // A shallow clone (GitHub Actions' default `fetch-depth: 1`) has neither the release tags nor
    // the commits since them: the answer would be the initial version, confidently wrong.
    if !args.allow_shallow && repo.is_shallow()? {
        return Err(Error::Shallow {
            root: repo.root().to_path_buf(),
        });
    }
    let config = Config::load(repo.root(), args.config.as_deref())?;
    let profile = config.profile(args.profile)?;
    let channel = match &args.pre {
        Some(id) => {
            config::validate_prerelease_id(id).map_err(|m| Error::Usage(format!("--pre: {m}")))?;
            Channel::Prerelease(id.clone())
        }
        None => {
            let branch = args
                .branch
                .clone()
                .or_else(|| repo.current_branch())
                .or_else(|| std::env::var("GITHUB_REF_NAME").ok());
            config.channel(branch.as_deref())
        }
    };
    let targets = targets(args, &config)?;

    let mut releases = Vec::with_capacity(targets.len());
    for target in &targets {
        releases.push(release::compute(&repo, target, &profile, &channel)?);
    }

    let links = Links::new(
        args.commit_url
            .clone()
            .or_else(|| config.data.commit_url.clone())
            .or_else(github_commit_url),
        config.data.changelog.issue_url.clone(),
    );
    let types = config.changelog_types();
    if args.github_output {
        let path = std::env::var_os("GITHUB_OUTPUT")
            .ok_or_else(|| Error::Usage("--github-output: $GITHUB_OUTPUT is not set".into()))?;
        github_output::append(Path::new(&path), &releases)?;
    }
    let write = |out: &mut dyn Write, text: &str| {
        out.write_all(text.as_bytes()).map_err(|source| Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
    };
    let mut printed_notes = false;
    if args.changelog {
        let [release] = releases.as_slice() else {
            return Err(Error::Usage(
                "--changelog renders one release: choose a component with --component".into(),
            ));
        };
        match (release.notes(&links, &types), &args.output) {
            (None, _) => eprintln!("bosun version: nothing to release, no release notes"),
            (Some(notes), None) => {
                write(out, &notes)?;
                printed_notes = true;
            }
            (Some(notes), Some(file)) => write_changelog(file, &notes)?,
        }
    }
    if args.tag {
        for release in releases.iter().filter(|r| r.released) {
            let (Some(tag), Some(head)) = (&release.tag, release.head) else {
                continue;
            };
            let notes = release.notes(&links, &types).unwrap_or_default();
            repo.create_tag(tag, &format!("{tag}\n\n{notes}"), head)?;
            if args.push {
                repo.push_tag(&args.remote, tag)?;
            }
        }
    }

    if args.json {
        let json = if releases.len() == 1 {
            serde_json::to_string_pretty(&releases[0])
        } else {
            serde_json::to_string_pretty(&releases)
        }
        .expect("release serializes");
        write(out, &format!("{json}\n"))?;
    } else if !printed_notes {
        write(out, &text(&releases, args.current))?;
    }
    Ok(())
}

/// The text output: the version alone for one target; `name version` per component (`-` for a
/// component never released with nothing to release) when the call reports several.
fn text(releases: &[Release], current: bool) -> String {
    let mut out = String::new();
    let single = releases.len() == 1;
    for r in releases {
        let version = if current { &r.previous } else { &r.version };
        match (&r.component, version) {
            (Some(name), v) if !single => {
                out.push_str(&format!("{name} {}\n", v.as_deref().unwrap_or("-")))
            }
            (_, Some(v)) => out.push_str(&format!("{v}\n")),
            (_, None) => eprintln!("bosun version: no release yet and nothing to release"),
        }
    }
    out
}

/// The targets of one call: `--component`, an ad-hoc `--path`/`--tag-prefix`, every configured
/// component, or the whole repository.
fn targets(args: &VersionArgs, config: &Config) -> Result<Vec<Target>> {
    let components = &config.data.components;
    let repository_prefix = config.data.tag_prefix.clone().unwrap_or_else(|| "v".into());
    let configured_prefix = |c: &config::ComponentConfig| {
        c.tag_prefix
            .clone()
            .unwrap_or_else(|| format!("{}-v", c.name))
    };
    // Tags of the other series the config declares do not make a prefix suspicious.
    let component_prefixes: Vec<String> = components.iter().map(configured_prefix).collect();
    let component_target = |c: &config::ComponentConfig| {
        let tag_prefix = args
            .tag_prefix
            .clone()
            .unwrap_or_else(|| configured_prefix(c));
        let mut sibling_prefixes = component_prefixes.clone();
        sibling_prefixes.push(repository_prefix.clone());
        sibling_prefixes.retain(|p| *p != tag_prefix);
        Target {
            component: Some(c.name.clone()),
            path: config::normalize_path(&c.path).filter(|p| !p.is_empty()),
            tag_prefix,
            sibling_prefixes,
        }
    };
    if let Some(name) = &args.component {
        let c = components.iter().find(|c| &c.name == name).ok_or_else(|| {
            let known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
            Error::Usage(format!(
                "--component {name}: no such component in the config (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        return Ok(vec![component_target(c)]);
    }
    if args.path.is_some() || args.tag_prefix.is_some() || components.is_empty() {
        let path = match &args.path {
            Some(p) => Some(config::normalize_path(p).ok_or_else(|| {
                Error::Usage(format!(
                    "--path {p}: must be a directory inside the repository"
                ))
            })?),
            None => None,
        }
        .filter(|p| !p.is_empty());
        let tag_prefix = args
            .tag_prefix
            .clone()
            .unwrap_or_else(|| repository_prefix.clone());
        let mut sibling_prefixes = component_prefixes.clone();
        sibling_prefixes.retain(|p| *p != tag_prefix);
        return Ok(vec![Target {
            component: None,
            path,
            tag_prefix,
            sibling_prefixes,
        }]);
    }
    Ok(components.iter().map(component_target).collect())
}

/// In GitHub Actions, link commits to the repository being built.
fn github_commit_url() -> Option<String> {
    let server = std::env::var("GITHUB_SERVER_URL").ok()?;
    let repository = std::env::var("GITHUB_REPOSITORY").ok()?;
    Some(format!("{server}/{repository}/commit/{{hash}}"))
}

fn write_changelog(file: &Path, notes: &str) -> Result<()> {
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: file.to_path_buf(),
                source,
            });
        }
    };
    std::fs::write(file, changelog::prepend(&existing, notes)).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })
}

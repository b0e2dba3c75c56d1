//! `bosun image`: set an image in a values file or kustomization byte-exact, commit and push it
//! (the seeds' "workflow 2" in one command).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use bosun_api::{ImageApplication, ImageApplicationList};
use bosun_images::edit::{self, Edit};
use bosun_images::write_back::{Expected, WriteBack};
use bosun_source::{Author, Pushed, Writer};
use clap::{Args, Subcommand};
use reqwest::Method;

use crate::client::{ApiArgs, Client, table};

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Set values in a Helm values file or a kustomization, changing only those scalars
    /// (`image.tag=1.3.0`, `images[name=nginx].newTag=1.3.0`); optionally commit and push.
    Set(SetArgs),
    /// Every Application whose images `bosun serve` watches, with each image's tag in Git and
    /// the tag its policy picks.
    List(ApiOnly),
    /// One Application's watched images and its write-back history.
    Get(Named),
    /// Check an Application's images now (and write back a new tag).
    Check(Named),
}

#[derive(Args)]
pub struct ApiOnly {
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Args)]
pub struct Named {
    pub name: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Args)]
pub struct SetArgs {
    /// The YAML file to edit.
    pub file: PathBuf,
    /// KEY=VALUE: a dotted path with list steps (`containers[1].image.tag`,
    /// `images[name=ghcr.io/acme/api].newTag`) and its new value.
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub edits: Vec<String>,
    /// Commit the file (only it) on the current branch.
    #[arg(long)]
    pub commit: bool,
    /// Commit message (default: `build: set KEY to VALUE in FILE`).
    #[arg(long, short, requires = "commit")]
    pub message: Option<String>,
    /// Commit author as `Name <email>` (default: the repository's user.name and user.email, else
    /// `bosun <bosun@localhost>`).
    #[arg(long, requires = "commit")]
    pub author: Option<String>,
    /// Push the commit; when the branch moved on the remote, make the same edit on its new head
    /// and push again (never a force-push).
    #[arg(long, requires = "commit")]
    pub push: bool,
    /// The remote to push to.
    #[arg(long, default_value = "origin", requires = "push")]
    pub remote: String,
    /// The remote branch to push to (default: the current branch's name). Another branch than
    /// the current one (a pull request's) gets the edit on its remote head — or, when it does
    /// not exist yet, on the remote's head of the current branch — and nothing local changes.
    #[arg(long, requires = "push")]
    pub branch: Option<String>,
}

pub fn run(command: ImageCommand) -> anyhow::Result<i32> {
    match command {
        ImageCommand::Set(args) => set(args),
        ImageCommand::List(args) => remote(&args.api, |client| async move {
            let list: ImageApplicationList =
                client.call(Method::GET, "/api/v1/images", None).await?;
            Ok(Shown::List(list))
        }),
        ImageCommand::Get(args) => {
            let path = format!("/api/v1/images/{}", args.name);
            remote(&args.api, |client| async move {
                Ok(Shown::One(client.call(Method::GET, &path, None).await?))
            })
        }
        ImageCommand::Check(args) => {
            let path = format!("/api/v1/images/{}/check", args.name);
            remote(&args.api, |client| async move {
                Ok(Shown::One(client.call(Method::POST, &path, None).await?))
            })
        }
    }
}

enum Shown {
    List(ImageApplicationList),
    One(ImageApplication),
}

fn remote<F, Fut>(api: &ApiArgs, call: F) -> anyhow::Result<i32>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Shown>>,
{
    let json = api.json()?;
    let client = api.client()?;
    let shown = crate::apps::runtime().block_on(call(client))?;
    match (&shown, json) {
        (Shown::List(list), true) => println!("{}", serde_json::to_string_pretty(list)?),
        (Shown::One(one), true) => println!("{}", serde_json::to_string_pretty(one)?),
        (Shown::List(list), false) => {
            let rows = list
                .items
                .iter()
                .flat_map(|app| {
                    app.images.iter().map(|image| {
                        vec![
                            app.app.clone(),
                            image.image.clone(),
                            image.strategy.clone(),
                            image.current.clone().unwrap_or_default(),
                            image.latest.clone().unwrap_or_default(),
                            image
                                .message
                                .clone()
                                .or_else(|| app.error.clone())
                                .unwrap_or_default(),
                        ]
                    })
                })
                .collect();
            print!(
                "{}",
                table(
                    &["APP", "IMAGE", "STRATEGY", "IN GIT", "LATEST", "MESSAGE"],
                    rows
                )
            );
        }
        (Shown::One(app), false) => print_app(app),
    }
    Ok(0)
}

fn print_app(app: &ImageApplication) {
    println!("Application:  {}", app.app);
    println!(
        "Writes to:    {} {} {}",
        app.repository, app.branch, app.file
    );
    if let Some(at) = &app.checked_at {
        println!("Checked:      {at}");
    }
    if let Some(error) = &app.error {
        println!("Error:        {error}");
    }
    let rows = app
        .images
        .iter()
        .map(|image| {
            vec![
                image.alias.clone().unwrap_or_default(),
                image.image.clone(),
                format!(
                    "{}{}",
                    image.strategy,
                    image
                        .constraint
                        .as_deref()
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default()
                ),
                image.key.clone(),
                image.current.clone().unwrap_or_default(),
                image.latest.clone().unwrap_or_default(),
                image.tags_seen.to_string(),
                image.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!();
    print!(
        "{}",
        table(
            &[
                "ALIAS", "IMAGE", "POLICY", "KEY", "IN GIT", "LATEST", "TAGS", "MESSAGE"
            ],
            rows
        )
    );
    if !app.history.is_empty() {
        println!();
        let rows = app
            .history
            .iter()
            .map(|entry| {
                vec![
                    entry.id.to_string(),
                    entry.at.clone(),
                    entry.outcome.clone(),
                    entry
                        .changes
                        .iter()
                        .map(|c| format!("{} {} → {}", c.image, c.old_tag, c.new_tag))
                        .collect::<Vec<_>>()
                        .join(", "),
                    entry.revision.chars().take(12).collect(),
                    entry.message.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &["ID", "AT", "OUTCOME", "CHANGES", "COMMIT", "MESSAGE"],
                rows
            )
        );
    }
}

fn set(args: SetArgs) -> anyhow::Result<i32> {
    let file = args.file.display().to_string();
    let edits = args
        .edits
        .iter()
        .map(|e| e.parse::<Edit>().map_err(|m| anyhow!("{m}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("{file}: cannot read"))?;
    let edited = edit::apply(&text, &edits).map_err(|e| anyhow!("{file}: {e}"))?;
    if !edited.changed() {
        for change in &edited.changes {
            println!("{file}: {} is already {}", change.path, change.new);
        }
        return Ok(0);
    }
    let expected: Vec<Expected> = edits
        .iter()
        .zip(&edited.changes)
        .map(|(edit, change)| Expected {
            edit: edit.clone(),
            old: change.old.clone(),
        })
        .collect();
    // Before anything is written: a commit must not carry someone's unfinished edits of the file.
    let clone = if args.commit {
        Some(Clone::of(&args.file)?)
    } else {
        None
    };
    if let (Some(clone), Some(branch)) = (&clone, &args.branch) {
        let current = clone.git(&["symbolic-ref", "--short", "HEAD"]).ok();
        if current.as_deref() != Some(branch.as_str()) {
            return push_elsewhere(&args, clone, current, branch, &edited, &expected);
        }
    }
    std::fs::write(&args.file, &edited.text).with_context(|| format!("{file}: cannot write"))?;
    for change in &edited.changes {
        println!(
            "{file}: {} {} → {}",
            change.path,
            change.old.as_deref().unwrap_or("(added)"),
            change.new
        );
    }
    let Some(clone) = clone else { return Ok(0) };
    let message = commit_message(&args, &edited, &clone.path);
    let author = match &args.author {
        Some(author) => parse_author(author)?,
        None => clone.author(),
    };
    let writer = Writer::clone_at(&clone.root, &args.remote)?;
    let head = clone.git(&["rev-parse", "HEAD"])?;
    let commit = writer.commit(
        &head,
        &clone.path,
        edited.text.as_bytes(),
        &message,
        &author,
    )?;
    clone.advance(&head, &commit)?;
    println!("committed {}", short(&commit));
    if !args.push {
        return Ok(0);
    }
    let branch = match &args.branch {
        Some(branch) => branch.clone(),
        None => clone
            .git(&["symbolic-ref", "--short", "HEAD"])
            .context("HEAD is detached: name the branch to push to with --branch")?,
    };
    let write_back = WriteBack {
        path: &clone.path,
        edits: &expected,
        message: &message,
        author: &author,
    };
    let pushed = write_back.push(&writer, &branch, &branch, Some((&commit, &head)))?;
    match pushed {
        Pushed::Commit { id, attempts } if id == commit => {
            println!("pushed {} to {} {branch}", short(&id), args.remote);
            let _ = attempts;
        }
        Pushed::Commit { id, attempts } => {
            println!(
                "{} {branch} had moved: made the edit again on its head and pushed {} (attempt {attempts})",
                args.remote,
                short(&id)
            );
            // The local branch follows what was pushed; files someone else changed are updated
            // unless they hold local edits, in which case git says so and nothing moves.
            if let Err(e) = clone.git(&["reset", "--quiet", "--keep", &id]) {
                eprintln!(
                    "warning: the local branch stays at {}: {e:#}; run `git pull --rebase`",
                    short(&commit)
                );
            }
        }
        Pushed::Unchanged { head } => {
            println!(
                "{} {branch} already has these values (at {}); nothing pushed",
                args.remote,
                short(&head)
            );
        }
    }
    Ok(0)
}

/// `--branch` names another branch than the one checked out (a pull request's): the edit is
/// made on the remote's branch (or, when it does not exist yet, on the remote's head of the
/// current branch) and pushed there. Nothing local moves — not the current branch, not the
/// work tree — so a later push of the current branch cannot carry this change along.
fn push_elsewhere(
    args: &SetArgs,
    clone: &Clone,
    current: Option<String>,
    branch: &str,
    edited: &edit::Edited,
    expected: &[Expected],
) -> anyhow::Result<i32> {
    let file = args.file.display();
    let message = commit_message(args, edited, &clone.path);
    let author = match &args.author {
        Some(author) => parse_author(author)?,
        None => clone.author(),
    };
    let writer = Writer::clone_at(&clone.root, &args.remote)?;
    let base = match current {
        Some(current) => current,
        None => writer.default_branch()?,
    };
    let write_back = WriteBack {
        path: &clone.path,
        edits: expected,
        message: &message,
        author: &author,
    };
    match write_back.push(&writer, &base, branch, None)? {
        Pushed::Commit { id, .. } => {
            for change in &edited.changes {
                println!(
                    "{file}: {} {} → {} on {} {branch}",
                    change.path,
                    change.old.as_deref().unwrap_or("(added)"),
                    change.new,
                    args.remote
                );
            }
            println!(
                "pushed {} to {} {branch} (from {base}); your work tree and {base} are unchanged",
                short(&id),
                args.remote
            );
        }
        Pushed::Unchanged { head } => println!(
            "{} {branch} already has these values (at {}); nothing pushed",
            args.remote,
            short(&head)
        ),
    }
    Ok(0)
}

fn commit_message(args: &SetArgs, edited: &edit::Edited, path: &str) -> String {
    args.message.clone().unwrap_or_else(|| {
        let what: Vec<String> = edited
            .changes
            .iter()
            .map(|c| format!("{} to {}", c.path, c.new))
            .collect();
        format!("build: set {} in {path}", what.join(", "))
    })
}

/// The user's clone around the edited file.
struct Clone {
    root: PathBuf,
    /// The file's path from the repository's root, `/`-separated.
    path: String,
}

impl Clone {
    fn of(file: &Path) -> anyhow::Result<Clone> {
        let absolute = std::fs::canonicalize(file)
            .with_context(|| format!("{}: cannot read", file.display()))?;
        let dir = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
        let probe = Clone {
            root: dir.clone(),
            path: String::new(),
        };
        let root = PathBuf::from(
            probe
                .git(&["rev-parse", "--show-toplevel"])
                .with_context(|| format!("{}: not in a Git repository", file.display()))?,
        );
        let path = absolute
            .strip_prefix(&root)
            .map_err(|_| {
                anyhow!(
                    "{}: outside the repository {}",
                    file.display(),
                    root.display()
                )
            })?
            .to_string_lossy()
            .replace('\\', "/");
        let clone = Clone { root, path };
        let status = clone.git(&["status", "--porcelain", "--", &clone.path])?;
        if !status.is_empty() {
            bail!(
                "{}: has uncommitted changes; commit or stash them first (nothing was changed)",
                file.display()
            );
        }
        Ok(clone)
    }

    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("git")
            .current_dir(&self.root)
            .args(args)
            .output()
            .context("cannot run git")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn author(&self) -> Author {
        let name = self.git(&["config", "user.name"]).ok();
        let email = self.git(&["config", "user.email"]).ok();
        match (name, email) {
            (Some(name), Some(email)) if !name.is_empty() && !email.is_empty() => {
                Author { name, email }
            }
            _ => Author::default(),
        }
    }

    /// Moves the current branch from `head` to `commit` (which only changes the edited file, as
    /// it already is in the work tree) and refreshes the file's index entry.
    fn advance(&self, head: &str, commit: &str) -> anyhow::Result<()> {
        self.git(&["update-ref", "-m", "bosun image set", "HEAD", commit, head])?;
        self.git(&["reset", "--quiet", "--", &self.path])?;
        Ok(())
    }
}

fn parse_author(text: &str) -> anyhow::Result<Author> {
    let (name, rest) = text
        .split_once('<')
        .ok_or_else(|| anyhow!("--author {text:?}: expected `Name <email>`"))?;
    let email = rest
        .strip_suffix('>')
        .ok_or_else(|| anyhow!("--author {text:?}: expected `Name <email>`"))?;
    Ok(Author {
        name: name.trim().to_string(),
        email: email.trim().to_string(),
    })
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

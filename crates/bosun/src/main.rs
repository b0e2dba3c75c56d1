//! The `bosun` command line: a thin front end over the stage libraries.

mod apps;
mod client;
mod images;
mod playground;
mod rollout_client;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bosun",
    version,
    about = "GitOps continuous delivery for Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The local Kubernetes-compatible cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Next semantic version, changelog and tag from Conventional Commits.
    Version(bosun_release::cli::VersionArgs),
    /// Print an Application's rendered objects as a YAML stream.
    Render(apps::AppArgs),
    /// Diff an Application against its cluster (exit 0 in sync, 1 different, 2 error).
    Diff(apps::DiffArgs),
    /// Sync an Application to its cluster.
    Sync(apps::SyncArgs),
    /// Run the controller and its API: keep Applications equal to Git, continuously.
    Serve(serve::ServeArgs),
    /// Talk to a running `bosun serve`: list, get, diff, sync, refresh, history, rollback.
    App(client::AppCommand),
    /// Argo Rollouts' Rollouts that bosun drives: list, get, watch, promote, abort, retry,
    /// pause, resume, undo.
    Rollout(rollout_client::RolloutCommand),
    /// Image automation: set an image tag in a values file or kustomization byte-exact, commit
    /// and push it.
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// The playground: a local cluster, an example repository and `bosun serve`, in one command.
    Up(playground::UpArgs),
}

impl Command {
    /// Servers keep running when a client hangs up; the rest print and exit.
    fn is_long_running(&self) -> bool {
        matches!(
            self,
            Command::Serve(_) | Command::Up(_) | Command::Cluster(ClusterCommand::Up(_))
        )
    }
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`bosun app list | head`) is an error, and
/// `print!` panics on it (exit 101). A command that only prints should end quietly instead, as
/// every Unix tool does when its reader has gone: by SIGPIPE. SIGPIPE stays ignored for the rest
/// of the process, though: gix talks to `git-upload-pack` over pipes (file:// and ssh
/// repositories) and may write after it has exited, which with the default action killed a
/// `bosun render` on its first fetch. So only a print that fails on a broken pipe ends the
/// process by SIGPIPE. Servers do not do this: a closed socket is an error they handle.
fn end_by_sigpipe_when_the_reader_goes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or_default();
        let printing = message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr");
        if printing && message.contains("Broken pipe") {
            // SAFETY: setting a signal's disposition to SIG_DFL installs no handler code; the
            // raised signal then ends the process.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        default(info);
    }));
}

/// glibc's malloc gives each thread that meets contention an arena of its own, up to eight per
/// core, and keeps what is freed in each for reuse. A server whose tokio workers and blocking
/// threads all allocate ends up holding several times its live heap: `bosun serve` with 1,000
/// Applications had a 43 MB peak heap and a 137 MiB RSS; with one arena per core, 92 MiB and no
/// slower (docs/benchmarks.md). Set before any thread starts; a no-op on other C libraries.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a tunable of the allocator; called before other threads
        // exist, so no allocation is in progress.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Run a local cluster in the foreground until interrupted.
    Up(bosun_cluster::cli::UpArgs),
}

fn main() {
    let cli = Cli::parse();
    if cli.command.is_long_running() {
        limit_malloc_arenas();
    } else {
        end_by_sigpipe_when_the_reader_goes();
    }
    let done = |result: anyhow::Result<()>| result.map(|()| 0);
    let code = match cli.command {
        Command::Cluster(ClusterCommand::Up(args)) => done(bosun_cluster::cli::up(args)),
        Command::Version(args) => done(bosun_release::cli::run(args)),
        Command::Render(args) => apps::render(args),
        Command::Diff(args) => apps::diff(args),
        Command::Sync(args) => apps::sync(args),
        Command::Serve(args) => done(serve::serve(args)),
        Command::Up(args) => done(playground::up(args)),
        Command::App(args) => client::run(args),
        Command::Rollout(args) => rollout_client::run(args),
        Command::Image(args) => images::run(args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line, each cause once: bosun's errors carry their cause in their message, and
            // `describe_chain` adds what contexts and other crates' errors keep in the chain.
            eprintln!("error: {}", bosun_model::describe_chain(e.as_ref()));
            std::process::exit(apps::EXIT_ERROR);
        }
    }
}

//! The `bosun` command line: a thin front end over the stage libraries.

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
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Run a local cluster in the foreground until interrupted.
    Up(bosun_cluster::cli::UpArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Cluster(ClusterCommand::Up(args)) => bosun_cluster::cli::up(args),
        Command::Version(args) => bosun_release::cli::run(args),
    }
}

//! `bosun cluster up`: runs a local cluster in the foreground until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::faults::FaultConfig;
use crate::server::{self, ClusterConfig};

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Port to listen on (loopback only); 0 picks a free port.
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Keep objects in SQLite under this directory so they survive a restart (default: memory only).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where to write the kubeconfig for kubectl and bosun.
    #[arg(long, default_value = ".bosun/kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Number of simulated nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Name of the cluster and context in the kubeconfig.
    #[arg(long, default_value = "bosun-local")]
    pub name: String,
    /// Share of API requests answered 500 (fault injection; changeable at /admin/faults).
    #[arg(long, default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Share of API requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    pub fault_throttle_rate: f64,
    /// Milliseconds added to every API request.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Close every watch stream after this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub fault_drop_watch_after: u64,
    /// Simulated requests per second to each Service with ready endpoints, served at /metrics
    /// (a Service's annotation bosun.dev/simulated-requests-per-second overrides it; 0: none).
    #[arg(long, default_value_t = 10.0)]
    pub requests_per_second: f64,
}

pub fn up(args: UpArgs) -> anyhow::Result<()> {
    let faults = FaultConfig {
        error_rate: args.fault_error_rate,
        throttle_rate: args.fault_throttle_rate,
        latency_ms: args.fault_latency_ms,
        drop_watch_after_seconds: args.fault_drop_watch_after,
    };
    faults
        .validate()
        .map_err(|e| anyhow::anyhow!("--fault-*: {e}"))?;
    let config = ClusterConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        data_dir: args.data.clone(),
        nodes: args.nodes.max(1),
        faults,
        requests_per_second: args.requests_per_second.max(0.0),
        ..ClusterConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let cluster = server::start(config).await?;
        let url = cluster.url();
        crate::kubeconfig::write(&args.kubeconfig, &args.name, &url, "admin")?;
        println!("bosun local cluster listening on {url}");
        println!("kubeconfig: {}", args.kubeconfig.display());
        println!(
            "try: KUBECONFIG={} kubectl get nodes",
            args.kubeconfig.display()
        );
        match &args.data {
            Some(d) => println!("data: {} (objects persist across restarts)", d.display()),
            None => println!("data: memory only (use --data DIR to persist)"),
        }
        tokio::signal::ctrl_c().await?;
        println!("shutting down");
        cluster.shutdown().await;
        Ok(())
    })
}

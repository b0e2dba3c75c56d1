//! `bosun cluster up`.

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Port to listen on (loopback).
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
}

pub fn up(_args: UpArgs) -> anyhow::Result<()> {
    anyhow::bail!("the local cluster server is not built yet")
}

//! OCI registry hosts, shared by the image updater and chart pulls from OCI registries.

/// Whether `registry` (`host[:port]`) is on this machine: such a registry is spoken to in plain
/// HTTP, as Docker allows for `127.0.0.0/8` and `localhost`.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

//! OCI image layouts of placeholder images: what the playground and the tests push to a real
//! registry (with `skopeo copy oci:DIR:TAG docker://…`). bosun runs no containers — the local
//! cluster simulates pods — so an image here is an empty layer and a config that carries its
//! build time and its tag (each tag is a distinct image with its own digest).

use std::path::Path;

use sha2::Digest as _;

/// `sha256:<hex>` of `bytes`: an OCI digest.
pub fn digest(bytes: &[u8]) -> String {
    let hex: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn blob(layout: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let digest = digest(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(&digest["sha256:".len()..]), bytes)?;
    Ok(digest)
}

/// Writes (or rewrites) the layout at `dir` holding one image per `(tag, created)`, `created`
/// in RFC 3339.
pub fn write(dir: &Path, images: &[(&str, &str)]) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let layer = vec![0u8; 1024];
    let layer_digest = blob(dir, &layer)?;
    let mut manifests = Vec::new();
    for (tag, created) in images {
        let config = serde_json::json!({
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"dev.bosun.placeholder.tag": tag}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        })
        .to_string();
        let config_digest = blob(dir, config.as_bytes())?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer.len(),
            }],
        })
        .to_string();
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": blob(dir, manifest.as_bytes())?,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests}).to_string();
    std::fs::write(dir.join("index.json"), index)
}

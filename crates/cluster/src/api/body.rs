//! Request bodies: size limit, media types, and JSON, YAML or protobuf decoding, with the
//! apiserver's errors.

use axum::body::Body;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::status::ApiError;

/// The apiserver's default limit on a request body (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The media types a write can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Json,
    Yaml,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
    /// `application/vnd.kubernetes.protobuf`: what kubectl's typed clients send.
    Protobuf,
}

pub fn media_type(headers: &HeaderMap) -> Result<MediaType, ApiError> {
    let raw = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match essence.as_str() {
        "application/json" | "" | "*/*" => MediaType::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => MediaType::Yaml,
        "application/json-patch+json" => MediaType::JsonPatch,
        "application/merge-patch+json" => MediaType::MergePatch,
        "application/strategic-merge-patch+json" => MediaType::StrategicMergePatch,
        "application/apply-patch+yaml" | "application/apply-patch+json" => MediaType::ApplyPatch,
        super::protobuf::MEDIA_TYPE => MediaType::Protobuf,
        _ => return Err(ApiError::unsupported_media_type(raw)),
    })
}

/// How much of a too-large body is read (and dropped) before the 413 is sent: answering while
/// the client still writes closes the connection under it, and it sees a broken pipe instead
/// of the 413.
const DRAINED_AT_MOST: usize = 64 * 1024 * 1024;

/// Reads at most [`MAX_BODY_BYTES`]; a larger body is refused with 413 before it is parsed.
pub async fn read(body: Body) -> Result<Vec<u8>, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        seen += chunk.len();
        if seen <= MAX_BODY_BYTES {
            bytes.extend_from_slice(&chunk);
        } else if seen > DRAINED_AT_MOST {
            break;
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    Ok(bytes)
}

/// Decodes a body as JSON, or YAML for the YAML media types (apply patches are YAML, of which
/// JSON is a subset), or protobuf.
pub fn decode(bytes: &[u8], media: MediaType) -> Result<Value, ApiError> {
    match media {
        MediaType::Protobuf => super::protobuf::decode(bytes),
        MediaType::Yaml | MediaType::ApplyPatch => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                ApiError::bad_request(format!("the request body is not UTF-8: {e}"))
            })?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
        }
        _ => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
    }
}

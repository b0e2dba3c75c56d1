//! A token server for the distribution registry's `auth: token` mode, written for the tests: the
//! registry only verifies tokens (a JWT whose `x5c` certificate chains to its `rootcertbundle`),
//! so something must issue them. This one speaks the distribution token protocol
//! (`GET <realm>?service=…&scope=repository:<name>:<actions>` with Basic credentials →
//! `{"token", "access_token", "expires_in"}`), grants [`USER`] what it asks, refuses everyone
//! else with 401, and signs RS256 with a key the `openssl` CLI made. It records each request so a
//! test can see the dance happened.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::registry::{PASSWORD, USER};

/// The registry's `auth.token.service` and `issuer`.
pub const SERVICE: &str = "bosun-test-registry";
pub const ISSUER: &str = "bosun-test-issuer";

/// One token request as the issuer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The Basic user, when the credentials were right.
    pub user: Option<String>,
    pub service: String,
    pub scopes: Vec<String>,
}

pub struct TokenIssuer {
    pub realm: String,
    dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Issuer {
    key: PathBuf,
    /// The certificate's DER, standard base64 (the JWT header's `x5c`).
    x5c: String,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenIssuer {
    /// A key and self-signed certificate (`openssl req -x509`), and the issuer on a free
    /// loopback port, served from its own thread so a blocking `skopeo` in the test cannot stall it.
    pub fn start() -> TokenIssuer {
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=bosun-test-issuer", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl (Debian package openssl)");
        assert!(out.status.success(), "openssl req: {out:?}");
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(der.status.success(), "openssl x509: {der:?}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let issuer = Arc::new(Issuer {
            key,
            x5c: base64(&der.stdout, STANDARD, true),
            requests: requests.clone(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new()
                    .route("/token", axum::routing::get(token))
                    .with_state(issuer);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        TokenIssuer {
            realm: format!("http://{address}/token"),
            dir,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The certificate the registry trusts (`auth.token.rootcertbundle`).
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut service = String::new();
    let mut scopes = Vec::new();
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "service" => service = percent_decode(value),
            "scope" => scopes.push(percent_decode(value)),
            _ => {}
        }
    }
    let expected = format!(
        "Basic {}",
        base64(format!("{USER}:{PASSWORD}").as_bytes(), STANDARD, true)
    );
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    issuer.requests.lock().unwrap().push(TokenRequest {
        user: authorized.then(|| USER.to_string()),
        service: service.clone(),
        scopes: scopes.clone(),
    });
    if !authorized || service != SERVICE {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})),
        )
            .into_response();
    }
    let access: Vec<_> = scopes
        .iter()
        .filter_map(|scope| {
            // `repository:acme/api:pull,push` (a name may hold a `:port`, not here).
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [issuer.x5c]});
    let claims = json!({
        "iss": ISSUER, "sub": USER, "aud": service, "exp": now + 300, "nbf": now - 10,
        "iat": now, "jti": format!("{now}-{}", issuer.requests.lock().unwrap().len()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        base64(header.to_string().as_bytes(), URL_SAFE, false),
        base64(claims.to_string().as_bytes(), URL_SAFE, false)
    );
    let key = issuer.key.clone();
    let signing = input.clone();
    let signature = tokio::task::spawn_blocking(move || sign(&key, signing.as_bytes()))
        .await
        .unwrap();
    let token = format!("{input}.{}", base64(&signature, URL_SAFE, false));
    axum::Json(json!({"token": token, "access_token": token, "expires_in": 300})).into_response()
}

/// RS256: `openssl dgst -sha256 -sign` is RSASSA-PKCS1-v1_5 over SHA-256.
fn sign(key: &Path, input: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst: {out:?}");
    out.stdout
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn base64_matches_the_rfc_vectors() {
    for (text, padded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(text.as_bytes(), STANDARD, true), padded);
        assert_eq!(
            base64(text.as_bytes(), URL_SAFE, false),
            padded.trim_end_matches('=')
        );
    }
    assert_eq!(
        percent_decode("repository%3Aacme%2Fapi%3Apull%2Cpush"),
        "repository:acme/api:pull,push"
    );
}

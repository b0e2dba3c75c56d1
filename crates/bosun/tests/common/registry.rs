//! A real CNCF distribution registry (Debian's `docker-registry`) on a free loopback port, and
//! images pushed to it by `skopeo copy` from OCI layouts the tests build (no Docker engine).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of [`USER`] in the registry's htpasswd (bcrypt, cost 5).
pub const USER: &str = "ci";
pub const PASSWORD: &str = "registry-password-1";
const HTPASSWD: &str = "ci:$2b$05$IY3BDsdUTr0fz./rY/cwwu64xLrErVRP61tuCSPn6rtw.pQwFHcXi\n";

pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:<port>`.
    pub address: String,
    dir: tempfile::TempDir,
    auth: Auth,
}

/// Who may read or push.
#[derive(Clone)]
enum Auth {
    Anyone,
    /// htpasswd: [`USER`] / [`PASSWORD`].
    Htpasswd,
    /// `auth: token`: a bearer token from `realm`, signed by the key of `certificate`.
    Token {
        realm: String,
        certificate: PathBuf,
    },
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// A registry; with `auth`, only [`USER`] / [`PASSWORD`] may read or push.
    pub fn start(auth: bool) -> Registry {
        Registry::start_with(if auth { Auth::Htpasswd } else { Auth::Anyone })
    }

    /// A registry in `auth: token` mode trusting `issuer`'s tokens (which it gives [`USER`]).
    pub fn start_with_tokens(issuer: &super::token_issuer::TokenIssuer) -> Registry {
        Registry::start_with(Auth::Token {
            realm: issuer.realm.clone(),
            certificate: issuer.certificate(),
        })
    }

    fn start_with(auth: Auth) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let mut registry = Registry {
            child: None,
            address,
            dir,
            auth,
        };
        registry.run();
        registry
    }

    fn run(&mut self) {
        let root = self.dir.path();
        let auth = match &self.auth {
            Auth::Anyone => String::new(),
            Auth::Htpasswd => {
                std::fs::write(root.join("htpasswd"), HTPASSWD).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    root.join("htpasswd").display()
                )
            }
            Auth::Token { realm, certificate } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                super::token_issuer::SERVICE,
                super::token_issuer::ISSUER,
                certificate.display()
            ),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n{auth}",
            root.join("data").display(),
            self.address
        );
        std::fs::write(root.join("config.yml"), config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("registry.log"))
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(root.join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry; scripts/install-tools)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&self.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the registry (it is down until [`Registry::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many tags-list requests for `repository` the registry answered (its access log).
    pub fn tag_list_requests(&self, repository: &str) -> usize {
        let needle = format!("\"GET /v2/{repository}/tags/list");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    /// Pushes `repository:tag`, an image built `created` (RFC 3339). Each tag is a distinct
    /// image (its config names the tag). Returns the manifest's digest as the registry has it
    /// (skopeo may re-encode the manifest on the way).
    pub fn push(&self, repository: &str, tag: &str, created: &str) -> String {
        let layout = self
            .dir
            .path()
            .join(format!("layouts/{}-{tag}", repository.replace('/', "_")));
        bosun_images::layout::write(&layout, &[(tag, created)]).unwrap();
        let mut command = Command::new("skopeo");
        command.args([
            "copy",
            "--insecure-policy",
            "--quiet",
            "--dest-tls-verify=false",
        ]);
        if !matches!(self.auth, Auth::Anyone) {
            command.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        let out = command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repository}:{tag}", self.address))
            .output()
            .expect("skopeo (Debian package skopeo; scripts/install-tools)");
        assert!(
            out.status.success(),
            "skopeo copy {repository}:{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut command = Command::new("skopeo");
        // `--raw`: the manifest only (a plain inspect also lists the tags, which the tests count).
        command.args(["inspect", "--tls-verify=false", "--raw"]);
        if !matches!(self.auth, Auth::Anyone) {
            command.arg(format!("--creds={USER}:{PASSWORD}"));
        }
        let out = command
            .arg(format!("docker://{}/{repository}:{tag}", self.address))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo inspect: {out:?}");
        bosun_images::layout::digest(&out.stdout)
    }
}

//! A real headless Chromium driven over WebDriver (Debian's chromium and chromedriver), for the
//! web UI's tests. chromedriver runs in a process group of its own, so the browser it started
//! goes with it when the test ends, however it ends.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub async fn start() -> Browser {
        use std::os::unix::process::CommandExt as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/install-test-deps)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let client = builder
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with Chromium");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Saves a screenshot as `<target tmp>/ui-screenshots/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// The text of the first element `css` selects, or "" when there is none.
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(fantoccini::Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Submits the sign-in form on the page with `token` (the page is the sign-in page, or
    /// becomes it).
    pub async fn submit_token(&self, token: &str) {
        let field = self
            .client
            .wait()
            .for_element(fantoccini::Locator::Id("token"))
            .await
            .expect("the sign-in form");
        field.send_keys(token).await.unwrap();
        self.click("form.login button").await;
    }

    /// Clicks the first element `css` selects. A live page re-renders parts of itself (its
    /// event stream said something changed), which can replace the element between finding
    /// and clicking it: then it is found again.
    pub async fn click(&self, css: &str) {
        for _ in 0..20 {
            match self.client.find(fantoccini::Locator::Css(css)).await {
                Ok(element) => match element.click().await {
                    Ok(()) => return,
                    Err(e) if e.to_string().contains("stale element") => {}
                    Err(e) => panic!("clicking {css}: {e}"),
                },
                Err(e) if e.is_no_such_element() => {}
                Err(e) => panic!("finding {css}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not click {css}");
    }

    /// Waits up to `secs` for `check` on the page, polling; panics with `what` and the page.
    pub async fn until(&self, secs: u64, what: &str, mut check: impl AsyncFnMut(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let url = self.client.current_url().await;
        let source = self.client.source().await;
        panic!("gave up waiting for {what}; at {url:?}, page:\n{source:?}");
    }
}

//! hello: a small HTTP service for bosun's playground. Standard library only, so it builds
//! anywhere: `/` greets, `/healthz` (liveness), `/readyz` (readiness) and `/metrics`
//! (Prometheus text format: requests served by path).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

fn respond(mut stream: TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(stream: TcpStream, counts: &Counts, greeting: &str) {
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
    match path.as_str() {
        "/healthz" | "/readyz" => respond(stream, "200 OK", "text/plain", "ok\n"),
        "/metrics" => {
            let mut body = String::from(
                "# HELP hello_requests_total Requests served by path.\n# TYPE hello_requests_total counter\n",
            );
            for (path, n) in counts.lock().unwrap().iter() {
                body.push_str(&format!("hello_requests_total{{path=\"{path}\"}} {n}\n"));
            }
            respond(stream, "200 OK", "text/plain; version=0.0.4", &body)
        }
        "/" => respond(stream, "200 OK", "text/plain", &format!("{greeting}\n")),
        _ => respond(stream, "404 Not Found", "text/plain", "not found\n"),
    }
}

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello from bosun".into());
    let listener = TcpListener::bind(format!("0.0.0.0:{port}")).expect("bind");
    let counts: Counts = Arc::default();
    eprintln!("hello: listening on :{port}");
    for stream in listener.incoming().flatten() {
        let (counts, greeting) = (counts.clone(), greeting.clone());
        std::thread::spawn(move || handle(stream, &counts, &greeting));
    }
}

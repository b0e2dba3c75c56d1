//! The `web` provider: one HTTP request (`url`, `method` GET/POST/PUT, `headers`, `body` or
//! `jsonBody`, `timeoutSeconds` default 10, `insecure`), its JSON answer narrowed by `jsonPath`
//! (default `{$}`) and judged by the metric's conditions; a body that is not JSON is judged as
//! a string. A non-2xx answer or a path that matches nothing is an Error.
//!
//! `jsonPath` is Kubernetes' JSONPath as far as Argo's examples use it: `{$}`, and fields and
//! indices from the root (`{$.data.ok}`, `{.items[0].value}`, `{$['a-b']}`); filters, wildcards
//! and ranges are refused by name.

use std::time::Duration;

use serde_json::Value;

use super::{Http, error, finished};
use crate::assess::Measurement;
use crate::condition::judge;
use crate::phase::Phase;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The steps of a JSONPath: field names and indices.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let inner = path
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path.trim())
        .trim();
    let rest = inner.strip_prefix('$').unwrap_or(inner);
    let unsupported = || format!("jsonPath {path:?}: only fields and indices are supported");
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if name.is_empty() || name == "*" || name.starts_with('.') {
                    return Err(unsupported());
                }
                steps.push(Step::Field(name));
            }
            '[' => {
                let mut inside = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    inside.push(n);
                }
                let inside = inside.trim();
                if let Some(quoted) = inside
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    steps.push(Step::Field(quoted.to_string()));
                } else {
                    steps.push(Step::Index(inside.parse().map_err(|_| unsupported())?));
                }
            }
            _ => return Err(unsupported()),
        }
    }
    Ok(steps)
}

/// The value at `path` in `body`, or None when nothing matches.
pub fn find<'a>(body: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let mut at = body;
    for step in parse_path(path)? {
        let next = match step {
            Step::Field(name) => at.get(&name),
            Step::Index(i) => at.as_array().and_then(|a| {
                let i = if i < 0 { a.len() as i64 + i } else { i };
                usize::try_from(i).ok().and_then(|i| a.get(i))
            }),
        };
        match next {
            Some(v) => at = v,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

pub async fn measure(
    http: &Http,
    config: &Value,
    success: Option<&str>,
    failure: Option<&str>,
) -> Measurement {
    let Some(url) = config["url"].as_str().filter(|u| !u.is_empty()) else {
        return error("web metric: url is empty");
    };
    if config.get("authentication").is_some_and(|a| !a.is_null()) {
        return error("web metric authentication (OAuth2) is not supported by bosun; use headers");
    }
    let method = config["method"].as_str().unwrap_or("GET").to_uppercase();
    let body = config["body"].as_str().filter(|b| !b.is_empty());
    let json_body = config.get("jsonBody").filter(|b| !b.is_null());
    if body.is_some() && json_body.is_some() {
        return error("use either Body or JSONBody; both cannot exists for WebMetric payload");
    }
    if (body.is_some() || json_body.is_some()) && method == "GET" {
        return error("Body/JSONBody can only be used with POST or PUT WebMetric Method types");
    }
    let method = match method.as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        other => {
            return error(format!(
                "web metric: method {other} is not GET, POST or PUT"
            ));
        }
    };
    let timeout = match config["timeoutSeconds"].as_i64() {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => DEFAULT_TIMEOUT,
    };
    let client = http.client(config["insecure"].as_bool().unwrap_or(false));
    let mut request = client.request(method, url).timeout(timeout);
    for header in config["headers"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (header["key"].as_str(), header["value"].as_str()) {
            request = request.header(k, v);
        }
    }
    if let Some(b) = body {
        request = request.body(b.to_string());
    } else if let Some(j) = json_body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(j.to_string());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return error(format!("web metric request to {url}: {e}")),
    };
    let status = response.status();
    if !status.is_success() {
        return error(format!(
            "received non 2xx response code: {}",
            status.as_u16()
        ));
    }
    let text = match response.text().await {
        Ok(t) => t,
        Err(e) => return error(format!("reading the answer of {url}: {e}")),
    };
    let Ok(answer) = serde_json::from_str::<Value>(&text) else {
        // Not JSON (a plain `OK`): the body itself is the result, judged by the conditions, as
        // Argo's newer releases do (v1.9 passed it without looking).
        let result = expr::Value::String(text.clone());
        let (phase, message) = judge(&result, success, failure);
        return finished(phase, text, message);
    };
    let path = config["jsonPath"].as_str().unwrap_or("{$}");
    let found = match find(&answer, path) {
        Ok(Some(v)) => v.clone(),
        Ok(None) => return error("result of web metric produced no value"),
        Err(e) => return error(format!("Could not find JSONPath in body: {e}")),
    };
    let result: expr::Value = match serde_json::from_value(found.clone()) {
        Ok(v) => v,
        Err(e) => return error(format!("web metric result: {e}")),
    };
    let (phase, message) = judge(&result, success, failure);
    let value = if phase == Phase::Error {
        String::new()
    } else {
        found.to_string()
    };
    finished(phase, value, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_paths_as_argo_examples_write_them() {
        let body = json!({"data": {"ok": true, "items": [{"v": 3}, {"v": 4}]}, "a-b": 1});
        assert_eq!(find(&body, "{$}").unwrap(), Some(&body));
        assert_eq!(find(&body, "{$.data.ok}").unwrap(), Some(&json!(true)));
        assert_eq!(find(&body, "{.data.items[1].v}").unwrap(), Some(&json!(4)));
        assert_eq!(
            find(&body, "{$.data.items[-1].v}").unwrap(),
            Some(&json!(4))
        );
        assert_eq!(find(&body, "{$['a-b']}").unwrap(), Some(&json!(1)));
        assert_eq!(find(&body, "{$.data.missing}").unwrap(), None);
        assert!(find(&body, "{$.data.items[*].v}").is_err());
        assert!(find(&body, "{$..v}").is_err());
    }
}

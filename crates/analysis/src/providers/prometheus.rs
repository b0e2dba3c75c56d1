//! The `prometheus` provider: an instant query against Prometheus' HTTP API
//! (`GET {address}/api/v1/query`). A vector is the list of its sample values (`result[0]`), a
//! scalar is a number, a matrix the values of all its series; an empty vector is an empty list,
//! which a condition such as `result[0] >= 0.99` cannot pass.

use std::time::Duration;

use expr::Value as ExprValue;
use serde_json::Value;

use super::{Http, error, finished, format_float};
use crate::assess::Measurement;
use crate::condition::judge;
use crate::phase::Phase;

/// Argo's default query timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn sample(v: &Value) -> Option<f64> {
    let text = v.get(1)?.as_str()?;
    Some(match text {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        t => t.parse().ok()?,
    })
}

/// The `result` of a query's `data`, and its value as Argo writes it.
pub fn result_of(data: &Value) -> Result<(ExprValue, String), String> {
    let list = |values: Vec<f64>| {
        let text = format!(
            "[{}]",
            values
                .iter()
                .map(|v| format_float(*v))
                .collect::<Vec<_>>()
                .join(",")
        );
        (ExprValue::from(values), text)
    };
    match data["resultType"].as_str() {
        Some("scalar") => {
            let v =
                sample(&data["result"]).ok_or("Prometheus answered a scalar without a value")?;
            Ok((ExprValue::Float(v), format_float(v)))
        }
        Some("vector") => Ok(list(
            data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| sample(&s["value"]))
                .collect(),
        )),
        Some("matrix") => Ok(list(
            data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["values"].as_array().into_iter().flatten())
                .filter_map(sample)
                .collect(),
        )),
        _ => Err("Prometheus metric type not supported".into()),
    }
}

/// Runs the query of `config` (`address`, `query`, `timeout` in seconds, `headers`, `insecure`)
/// and judges its result by the metric's conditions.
pub async fn measure(
    http: &Http,
    config: &Value,
    success: Option<&str>,
    failure: Option<&str>,
) -> Measurement {
    let address = config["address"]
        .as_str()
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS").ok());
    let Some(address) = address else {
        return error("prometheus address is not configured");
    };
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return error(format!(
            "prometheus address is not in URL format: {address:?}"
        ));
    }
    let Some(query) = config["query"].as_str().filter(|q| !q.trim().is_empty()) else {
        return error("prometheus query is empty");
    };
    if config.get("authentication").is_some_and(|a| !a.is_null()) {
        return error(
            "prometheus authentication (sigv4, oauth2) is not supported by bosun; use headers",
        );
    }
    let timeout = match config["timeout"].as_i64() {
        Some(t) if t < 0 => return error("prometheus timeout should not be negative"),
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => DEFAULT_TIMEOUT,
    };
    let client = http.client(config["insecure"].as_bool().unwrap_or(false));
    let url = match reqwest::Url::parse_with_params(
        &format!("{}/api/v1/query", address.trim_end_matches('/')),
        &[("query", query)],
    ) {
        Ok(u) => u,
        Err(e) => return error(format!("prometheus address {address:?}: {e}")),
    };
    let mut request = client.get(url).timeout(timeout);
    for header in config["headers"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (header["key"].as_str(), header["value"].as_str()) {
            request = request.header(k, v);
        }
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return error(format!("querying Prometheus at {address}: {e}")),
    };
    let status = response.status();
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) => return error(format!("reading Prometheus' answer: {e}")),
    };
    let answer: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => {
            return error(format!(
                "Prometheus answered {status} with a body that is not JSON: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
    };
    if answer["status"] != "success" {
        return error(format!(
            "{}: {}",
            answer["errorType"].as_str().unwrap_or("error"),
            answer["error"]
                .as_str()
                .unwrap_or("Prometheus answered without data")
        ));
    }
    let (result, value) = match result_of(&answer["data"]) {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    let (phase, message) = judge(&result, success, failure);
    let mut m = finished(phase, value, message);
    if phase == Phase::Error {
        m.value.clear();
    }
    if let Some(warnings) = answer["warnings"].as_array().filter(|w| !w.is_empty()) {
        m.metadata.insert(
            "warnings".into(),
            warnings
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_read_as_argo_reads_them() {
        let vector = json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1.0, "0.995"]}, {"metric": {}, "value": [1.0, "NaN"]}]});
        let (_, text) = result_of(&vector).unwrap();
        assert_eq!(text, "[0.995,NaN]");
        let empty = json!({"resultType": "vector", "result": []});
        assert_eq!(result_of(&empty).unwrap().1, "[]");
        let scalar = json!({"resultType": "scalar", "result": [1.0, "1"]});
        assert_eq!(result_of(&scalar).unwrap().1, "1");
        let matrix =
            json!({"resultType": "matrix", "result": [{"values": [[1, "1"], [2, "+Inf"]]}]});
        assert_eq!(result_of(&matrix).unwrap().1, "[1,+Inf]");
        assert!(result_of(&json!({"resultType": "string"})).is_err());
    }
}

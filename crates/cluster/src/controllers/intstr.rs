//! `IntOrString` values such as `maxSurge: 25%`, resolved against a replica count as
//! `intstr.GetScaledValueFromIntOrPercent` does: surge rounds up, unavailability rounds down.

use serde_json::Value;

/// `value` as a count out of `total`; a percentage rounds up or down as asked. Unparseable
/// values count as 0 (the apiserver's validation keeps them out of real clusters).
pub fn scaled_value(value: &Value, total: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let Some(percent) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return s.parse().unwrap_or(0);
            };
            let scaled = percent * total;
            if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            }
        }
        _ => 0,
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas, never both zero.
pub fn resolve_fenceposts(max_surge: &Value, max_unavailable: &Value, desired: i64) -> (i64, i64) {
    let surge = scaled_value(max_surge, desired, true);
    let mut unavailable = scaled_value(max_unavailable, desired, false);
    if surge == 0 && unavailable == 0 {
        // Both zero would stall a rollout; Kubernetes allows one unavailable Pod.
        unavailable = 1;
    }
    (surge, unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Kubernetes rounds maxSurge up and maxUnavailable down, so 25% of 10 allows 3 extra Pods
    // but only 2 unavailable ones.
    #[test]
    fn percentages_round_as_kubernetes_does() {
        assert_eq!(scaled_value(&json!("25%"), 10, true), 3);
        assert_eq!(scaled_value(&json!("25%"), 10, false), 2);
        assert_eq!(scaled_value(&json!("25%"), 1, true), 1);
        assert_eq!(scaled_value(&json!("25%"), 1, false), 0);
        assert_eq!(scaled_value(&json!("100%"), 7, false), 7);
        assert_eq!(scaled_value(&json!(2), 10, true), 2);
        assert_eq!(scaled_value(&json!("3"), 10, true), 3);
    }

    #[test]
    fn fenceposts_never_both_zero() {
        assert_eq!(resolve_fenceposts(&json!(0), &json!(0), 3), (0, 1));
        assert_eq!(resolve_fenceposts(&json!("25%"), &json!("25%"), 1), (1, 0));
        assert_eq!(resolve_fenceposts(&json!("50%"), &json!("0%"), 4), (2, 0));
    }
}

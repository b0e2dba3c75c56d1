//! Job, ported from gitops-engine `health_job.go`.
//!
//! A Job is judged by its terminal conditions. Any of Failed, Complete or Suspended (whatever
//! its status) ends the "still running" state; Failed wins over the others.

use serde_json::Value;

use crate::object::{conditions, str_at};
use crate::status::Health;

pub fn job(job: &Value) -> Health {
    let mut failed = None;
    let mut finished = false;
    let mut suspended = false;
    let mut message = "";
    // Later conditions overwrite earlier ones' messages, as in Argo CD's loop.
    for c in conditions(job) {
        match str_at(c, &["type"]) {
            "Failed" => {
                finished = true;
                failed = Some(str_at(c, &["message"]));
            }
            "Complete" => {
                finished = true;
                message = str_at(c, &["message"]);
            }
            "Suspended" => {
                finished = true;
                message = str_at(c, &["message"]);
                suspended |= str_at(c, &["status"]) == "True";
            }
            _ => {}
        }
    }
    if !finished {
        return Health::progressing(message);
    }
    if let Some(failure) = failed {
        return Health::degraded(failure);
    }
    if suspended {
        // Argo CD reports the (empty) failure message here, not the Suspended condition's
        // "Job suspended": kept, so that bosun and Argo CD print the same thing.
        return Health::suspended("");
    }
    Health::healthy(message)
}

//! The health vocabulary: Argo CD's six status codes and a status with its message.

use std::fmt;

/// A resource's (or an Application's) health, as Argo CD names it.
///
/// The variants are declared from most to least healthy, so `Ord` is Argo CD's `IsWorse`
/// (gitops-engine `pkg/health/health.go`, `healthOrder`): an Application takes the greatest
/// status of its resources. Note that Missing sits between Progressing and Degraded, and that
/// Unknown is the worst of all: a resource bosun cannot judge blocks `--wait` as surely as a
/// broken one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthStatus {
    /// Doing what it was asked to do.
    Healthy,
    /// Paused on purpose (a paused Deployment, a suspended Job).
    Suspended,
    /// Not healthy yet, but still moving towards it.
    Progressing,
    /// Expected from Git but absent from the cluster.
    Missing,
    /// Failed, or gave up (a progress deadline, a crash loop, a failed Job).
    Degraded,
    /// The assessment itself failed (an unsupported version, an unreadable field).
    Unknown,
}

impl HealthStatus {
    /// Argo CD's spelling, as it appears in an Application's status.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }
}

impl HealthStatus {
    /// The status [`HealthStatus::as_str`] spells; `None` for any other word.
    pub fn parse(word: &str) -> Option<HealthStatus> {
        [
            HealthStatus::Healthy,
            HealthStatus::Suspended,
            HealthStatus::Progressing,
            HealthStatus::Missing,
            HealthStatus::Degraded,
            HealthStatus::Unknown,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health status and the reason for it. The message is empty where Argo CD gives none
/// (a healthy Deployment, a Progressing Service), so that bosun's output matches Argo CD's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub status: HealthStatus,
    pub message: String,
}

impl Health {
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        Health {
            status,
            message: message.into(),
        }
    }

    pub fn healthy(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Healthy, message)
    }

    pub fn progressing(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Progressing, message)
    }

    pub fn degraded(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Degraded, message)
    }

    pub fn suspended(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Suspended, message)
    }

    pub fn unknown(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Unknown, message)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HealthStatus::*;

    /// gitops-engine `healthOrder`: Healthy, Suspended, Progressing, Missing, Degraded, Unknown.
    #[test]
    fn severity_order_is_argo_cds_is_worse() {
        let order = [Healthy, Suspended, Progressing, Missing, Degraded, Unknown];
        for pair in order.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} should be better than {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(order.iter().max(), Some(&Unknown));
    }
}

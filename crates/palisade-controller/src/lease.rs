//! Leader election on a coordination.k8s.io/v1 Lease, as client-go's leader election does it:
//! the holder renews `renewTime` every third of `leaseDurationSeconds`; another instance takes
//! the lease over when the record has not changed for a whole lease duration by its own clock
//! (so clocks need not agree), and writes are optimistic (the Lease's `resourceVersion`), so two
//! instances never both win. The decision is [`decide`], pure; [`Elector`] reads and writes.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

/// What to do with the Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is none: create it, held by this instance.
    Create,
    /// This instance holds it: renew.
    Renew,
    /// Nobody holds it, or the holder has not renewed for a lease duration: take it over.
    TakeOver,
    /// Another instance holds it.
    Follow { holder: String },
}

/// The decision for `me`, given the Lease's spec and how long ago, by this instance's clock,
/// it first saw the current record (holder and renew time) unchanged.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, unchanged_for: Duration) -> Decision {
    let Some(spec) = spec else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    let duration = u64::try_from(spec.lease_duration_seconds.unwrap_or_default()).unwrap_or(0);
    if unchanged_for >= Duration::from_secs(duration) {
        return Decision::TakeOver;
    }
    Decision::Follow {
        holder: holder.into(),
    }
}

/// The spec to write for a decision that makes `me` the holder.
pub fn next_spec(
    current: Option<&LeaseSpec>,
    decision: &Decision,
    me: &str,
    duration: Duration,
    now: Timestamp,
) -> LeaseSpec {
    let seconds = i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let mut spec = current.cloned().unwrap_or_default();
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(MicroTime(now));
    match decision {
        Decision::Renew => {}
        Decision::Create => {
            spec.holder_identity = Some(me.into());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(0);
        }
        Decision::TakeOver | Decision::Follow { .. } => {
            spec.holder_identity = Some(me.into());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
    }
    spec
}

/// The outcome of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub leader: bool,
    pub holder: Option<String>,
}

/// Acquires and renews one Lease for one identity.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    /// The record last seen (holder, renew time, transitions) and when it was first seen.
    seen: Option<(String, Instant)>,
}

impl Elector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str, duration: Duration) -> Elector {
        Elector {
            api,
            name: name.into(),
            identity: identity.into(),
            duration,
            seen: None,
        }
    }

    /// One round: read the Lease, then create, renew or take it over when [`decide`] says so.
    /// Losing a race for the write (409) is not an error: another instance won.
    pub async fn try_acquire_or_renew(&mut self) -> Result<LeaseState, kube::Error> {
        let current = self.api.get_opt(&self.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let record = spec.map(record_of).unwrap_or_default();
        let unchanged_for = match &self.seen {
            Some((seen, at)) if *seen == record => at.elapsed(),
            _ => {
                self.seen = Some((record, Instant::now()));
                Duration::ZERO
            }
        };
        let decision = decide(spec, &self.identity, unchanged_for);
        if let Decision::Follow { holder } = decision {
            return Ok(LeaseState {
                leader: false,
                holder: Some(holder),
            });
        }
        let spec = next_spec(
            spec,
            &decision,
            &self.identity,
            self.duration,
            Timestamp::now(),
        );
        let written = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease.spec = Some(spec);
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                if let Some(spec) = &lease.spec {
                    self.seen = Some((record_of(spec), Instant::now()));
                }
                if decision == Decision::TakeOver {
                    tracing::info!(lease = %self.name, identity = %self.identity, "took the lease over");
                }
                Ok(LeaseState {
                    leader: true,
                    holder: Some(self.identity.clone()),
                })
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(LeaseState {
                leader: false,
                holder: None,
            }),
            Err(e) => Err(e),
        }
    }
}

fn record_of(spec: &LeaseSpec) -> String {
    format!(
        "{}|{}|{}",
        spec.holder_identity.as_deref().unwrap_or_default(),
        spec.renew_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        spec.lease_transitions.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(seconds),
            renew_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            lease_transitions: Some(2),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn the_holder_renews_others_follow_until_it_has_not_renewed_for_a_lease_duration() {
        let s = Duration::from_secs;
        assert_eq!(decide(None, "a", s(0)), Decision::Create);
        let lease = held_by("a", 15);
        assert_eq!(decide(Some(&lease), "a", s(100)), Decision::Renew);
        for (unchanged, expected) in [
            (s(0), Decision::Follow { holder: "a".into() }),
            (s(14), Decision::Follow { holder: "a".into() }),
            (s(15), Decision::TakeOver),
            (s(60), Decision::TakeOver),
        ] {
            assert_eq!(
                decide(Some(&lease), "b", unchanged),
                expected,
                "{unchanged:?}"
            );
        }
        let released = LeaseSpec {
            holder_identity: Some(String::new()),
            ..held_by("", 15)
        };
        assert_eq!(decide(Some(&released), "b", s(0)), Decision::TakeOver);
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "b", s(0)),
            Decision::TakeOver
        );
    }

    #[test]
    fn writes_set_the_holder_times_and_transitions() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let d = Duration::from_secs(15);
        let created = next_spec(None, &Decision::Create, "a", d, now);
        assert_eq!(created.holder_identity.as_deref(), Some("a"));
        assert_eq!(created.lease_duration_seconds, Some(15));
        assert_eq!(created.acquire_time, Some(MicroTime(now)));
        assert_eq!(created.renew_time, Some(MicroTime(now)));
        assert_eq!(created.lease_transitions, Some(0));
        let old = held_by("a", 15);
        let renewed = next_spec(Some(&old), &Decision::Renew, "a", d, now);
        assert_eq!(renewed.holder_identity.as_deref(), Some("a"));
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.acquire_time, None);
        assert_eq!(renewed.lease_transitions, Some(2));
        let taken = next_spec(Some(&old), &Decision::TakeOver, "b", d, now);
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        assert_eq!(taken.lease_transitions, Some(3));
        assert_ne!(record_of(&old), record_of(&renewed));
    }
}

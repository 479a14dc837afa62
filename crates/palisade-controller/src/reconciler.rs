//! One reconcile: read every Team and managed object, call palisade-team (read_teams, render,
//! plan), and carry the plan out: server-side apply with field manager `palisade` (forced: the
//! plan only applies objects palisade manages or that do not exist), deletes, Team status and
//! Events (events.k8s.io/v1) for drift repairs, failed writes, kept namespaces and Teams that
//! turn Degraded. A failed read stops the reconcile before anything is written, so that nothing
//! is ever deleted because something could not be read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;
use palisade_policy::config::PlatformConfig;
use palisade_team::reconcile::{
    deletion_candidates, managed_selector, plan, read_teams, status_value, Change, Input, Key,
    Plan, TeamInput, TeamStatus, REASON_APPLY_FAILED,
};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::kinds::{self, Kind};
use crate::metrics::Metrics;
use crate::{Error, FIELD_MANAGER};

/// What one reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub teams: usize,
    pub applied: usize,
    pub drift_repairs: usize,
    pub deleted: usize,
    pub kept: usize,
    pub failed: usize,
}

/// The reconciler and what it remembers between loops.
pub struct Reconciler {
    client: Client,
    platform: PlatformConfig,
    recorder: Recorder,
    /// What was applied last, per object: a change to one of these is drift.
    applied: Mutex<BTreeMap<Key, Value>>,
    /// Kept namespaces already announced by an Event.
    announced: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn api(client: &Client, kind: &Kind, namespace: &str) -> Api<DynamicObject> {
    if kind.namespaced && !namespace.is_empty() {
        Api::namespaced_with(client.clone(), namespace, &kind.resource())
    } else {
        Api::all_with(client.clone(), &kind.resource())
    }
}

/// An object as JSON, with its kind and apiVersion (list items may omit them).
fn to_value(object: DynamicObject, kind: &Kind) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    value["apiVersion"] = json!(kind.api_version());
    value["kind"] = json!(kind.kind);
    value
}

fn team_reference(team: &TeamInput) -> ObjectReference {
    ObjectReference {
        api_version: Some(kinds::TEAM.api_version()),
        kind: Some(kinds::TEAM.kind.into()),
        name: Some(team.name.clone()),
        uid: Some(team.uid.clone()).filter(|u| !u.is_empty()),
        ..ObjectReference::default()
    }
}

fn object_reference(key: &Key) -> ObjectReference {
    ObjectReference {
        api_version: kinds::managed(&key.kind).map(Kind::api_version),
        kind: Some(key.kind.clone()),
        name: Some(key.name.clone()),
        namespace: Some(key.namespace.clone()).filter(|n| !n.is_empty()),
        ..ObjectReference::default()
    }
}

impl Reconciler {
    pub fn new(client: Client, platform: PlatformConfig, identity: &str) -> Reconciler {
        let reporter = Reporter {
            controller: "palisade-controller".into(),
            instance: Some(identity.into()),
        };
        Reconciler {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            platform,
            applied: Mutex::default(),
            announced: Mutex::default(),
        }
    }

    /// One reconcile. `leader` is asked before anything is written.
    pub async fn reconcile(
        &self,
        metrics: &Metrics,
        leader: &(dyn Fn() -> bool + Sync),
    ) -> Result<Summary, Error> {
        let (teams, plan) = match self.decide().await {
            Ok(decided) => decided,
            Err(e) => {
                metrics.error("list");
                return Err(e);
            }
        };
        if !leader() {
            return Err(Error::NotLeader);
        }
        let mut summary = Summary {
            teams: teams.len(),
            kept: plan.kept.len(),
            ..Summary::default()
        };
        let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let by_name: BTreeMap<&str, (&TeamInput, &Value)> = teams
            .iter()
            .map(|(t, v)| (t.name.as_str(), (t, v)))
            .collect();
        for apply in &plan.applies {
            let span = tracing::info_span!("team", team = %apply.team);
            let result = self.apply(apply).instrument(span.clone()).await;
            let _entered = span.enter();
            match result {
                Ok(()) => {
                    summary.applied += 1;
                    metrics.applied.inc();
                    lock(&self.applied).insert(apply.key.clone(), apply.value.clone());
                    if apply.drift {
                        summary.drift_repairs += 1;
                        metrics.drift(&apply.key.kind);
                        let how = match apply.change {
                            Change::Missing => "deleted",
                            Change::Differs => "edited",
                        };
                        let note = format!(
                            "{} was {how} behind palisade's back: restored as rendered",
                            apply.key
                        );
                        tracing::warn!("{note}");
                        if let Some((team, _)) = by_name.get(apply.team.as_str()) {
                            self.event(
                                metrics,
                                team_reference(team),
                                EventType::Warning,
                                "DriftRepaired",
                                "Apply",
                                note,
                                Some(object_reference(&apply.key)),
                            )
                            .await;
                        }
                    } else {
                        tracing::info!(object = %apply.key, "applied");
                    }
                }
                Err(e) => {
                    summary.failed += 1;
                    metrics.error("apply");
                    let message = format!("{}: {e}", apply.key);
                    tracing::warn!("apply failed: {message}");
                    if let Some((team, _)) = by_name.get(apply.team.as_str()) {
                        self.event(
                            metrics,
                            team_reference(team),
                            EventType::Warning,
                            "ApplyFailed",
                            "Apply",
                            message.clone(),
                            Some(object_reference(&apply.key)),
                        )
                        .await;
                    }
                    failures
                        .entry(apply.team.clone())
                        .or_default()
                        .push(message);
                }
            }
        }
        for delete in &plan.deletes {
            if !leader() {
                return Err(Error::NotLeader);
            }
            let span = tracing::info_span!("team", team = %delete.team);
            let Some(kind) = kinds::managed(&delete.key.kind) else {
                continue;
            };
            let result = api(&self.client, kind, &delete.key.namespace)
                .delete(&delete.key.name, &DeleteParams::background())
                .instrument(span.clone())
                .await;
            let _entered = span.enter();
            match result {
                Ok(_) => {
                    summary.deleted += 1;
                    metrics.deleted.inc();
                    tracing::info!(object = %delete.key, "deleted: no Team wants it");
                    lock(&self.applied).remove(&delete.key);
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    lock(&self.applied).remove(&delete.key);
                }
                Err(e) => {
                    summary.failed += 1;
                    metrics.error("delete");
                    tracing::warn!("delete of {} failed: {e}", delete.key);
                    failures
                        .entry(delete.team.clone())
                        .or_default()
                        .push(format!("{}: {e}", delete.key));
                }
            }
        }
        self.announce_kept(metrics, &plan, &by_name).await;
        for (name, status) in &plan.status {
            let Some((team, object)) = by_name.get(name.as_str()) else {
                continue;
            };
            let status = match failures.get(name) {
                Some(errors) => {
                    TeamStatus::degraded(status.generation, REASON_APPLY_FAILED, errors.join("; "))
                }
                None => status.clone(),
            };
            self.write_status(metrics, team, object, &status)
                .instrument(tracing::info_span!("team", team = %name))
                .await;
        }
        Ok(summary)
    }

    /// Reads the cluster and makes the plan.
    async fn decide(&self) -> Result<(Vec<(TeamInput, Value)>, Plan), Error> {
        let team_objects: Vec<Value> = api(&self.client, &kinds::TEAM, "")
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|o| to_value(o, &kinds::TEAM))
            .collect();
        let (set, inputs) = read_teams(&self.platform, &team_objects);
        let desired = palisade_team::render(&set);
        let selector = managed_selector();
        let mut observed = Vec::new();
        for kind in &kinds::MANAGED {
            let list = api(&self.client, kind, "")
                .list(&ListParams::default().labels(&selector))
                .await?;
            observed.extend(list.items.into_iter().map(|o| to_value(o, kind)));
        }
        // An object with a desired name that palisade does not manage: never written over.
        let known: BTreeSet<Key> = observed.iter().map(Key::of).collect();
        for object in &desired {
            let key = Key::new(&object.kind, &object.namespace, &object.name);
            let Some(kind) = kinds::managed(&key.kind) else {
                continue;
            };
            if !known.contains(&key) {
                if let Some(found) = api(&self.client, kind, &key.namespace)
                    .get_opt(&key.name)
                    .await?
                {
                    observed.push(to_value(found, kind));
                }
            }
        }
        let mut workloads = BTreeMap::new();
        for namespace in deletion_candidates(&desired, &inputs, &observed) {
            let found = self.workloads_in(&namespace).await?;
            workloads.insert(namespace, found);
        }
        let applied = lock(&self.applied).clone();
        let plan = plan(&Input {
            desired: &desired,
            teams: &inputs,
            observed: &observed,
            workloads: &workloads,
            applied: &applied,
        });
        let teams = inputs.into_iter().zip(team_objects).collect();
        Ok((teams, plan))
    }

    /// The workloads in a namespace, as `Kind name` (a few per kind).
    async fn workloads_in(&self, namespace: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for kind in &kinds::WORKLOADS {
            match api(&self.client, kind, namespace)
                .list(&ListParams::default().limit(5))
                .await
            {
                Ok(list) => out.extend(list.items.iter().map(|o| {
                    format!(
                        "{} {}",
                        kind.kind,
                        o.metadata.name.as_deref().unwrap_or_default()
                    )
                })),
                // The cluster does not serve this kind (KServe is not installed).
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    async fn apply(&self, apply: &palisade_team::reconcile::Apply) -> Result<(), kube::Error> {
        let Some(kind) = kinds::managed(&apply.key.kind) else {
            return Ok(());
        };
        let api = api(&self.client, kind, &apply.key.namespace);
        if let Some(removals) = &apply.removals {
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            api.patch(&apply.key.name, &params, &Patch::Merge(removals))
                .await?;
        }
        api.patch(
            &apply.key.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&apply.value),
        )
        .await?;
        Ok(())
    }

    /// One Event per kept namespace (again when it is kept for another reason).
    async fn announce_kept(
        &self,
        metrics: &Metrics,
        plan: &Plan,
        teams: &BTreeMap<&str, (&TeamInput, &Value)>,
    ) {
        metrics
            .kept_namespaces
            .set(i64::try_from(plan.kept.len()).unwrap_or(i64::MAX));
        let now: BTreeSet<String> = plan.kept.iter().map(ToString::to_string).collect();
        let new: Vec<_> = {
            let mut announced = lock(&self.announced);
            announced.retain(|k| now.contains(k));
            plan.kept
                .iter()
                .filter(|k| announced.insert(k.to_string()))
                .collect()
        };
        for kept in new {
            let note = kept.to_string();
            tracing::warn!(team = %kept.team, "{note}");
            let namespace = object_reference(&Key::new("Namespace", "", &kept.namespace));
            let (regarding, related) = match teams.get(kept.team.as_str()) {
                Some((team, _)) => (team_reference(team), Some(namespace)),
                None => (namespace, None),
            };
            self.event(
                metrics,
                regarding,
                EventType::Warning,
                "NamespaceKept",
                "Delete",
                note,
                related,
            )
            .await;
        }
    }

    /// Patches the Team's status when it changed; an Event when the Team turns Degraded or its
    /// reason changes.
    async fn write_status(
        &self,
        metrics: &Metrics,
        team: &TeamInput,
        object: &Value,
        status: &TeamStatus,
    ) {
        let current = &object["status"];
        let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let value = status_value(status, &current["conditions"], &now);
        if &value == current {
            return;
        }
        let before = current["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| {
                (
                    c["status"] == "True",
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                )
            });
        let result = api(&self.client, &kinds::TEAM, "")
            .patch_status(
                &team.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": value})),
            )
            .await;
        if let Err(e) = result {
            metrics.error("status");
            tracing::warn!("status of team {}: {e}", team.name);
            return;
        }
        let changed = before.as_ref() != Some(&(status.ready, status.reason.clone()));
        if changed && !status.ready {
            tracing::warn!(reason = %status.reason, "team degraded: {}", status.message);
            self.event(
                metrics,
                team_reference(team),
                EventType::Warning,
                &status.reason,
                "Reconcile",
                status.message.clone(),
                None,
            )
            .await;
        } else if changed {
            tracing::info!("team ready");
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn event(
        &self,
        metrics: &Metrics,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
        related: Option<ObjectReference>,
    ) {
        // An Event note holds at most 1 kB.
        let mut note = note;
        if note.len() > 1000 {
            let mut end = 1000;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: related,
        };
        if let Err(e) = self.recorder.publish(&event, &regarding).await {
            metrics.error("event");
            tracing::warn!("event {reason}: {e}");
        }
    }
}

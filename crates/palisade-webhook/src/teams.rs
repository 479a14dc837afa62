//! The Teams the webhook enforces: read once from files, or kept current from the cluster's Team
//! objects by a watch. Either way the requests see one immutable index, swapped whole when a Team
//! changes, so a decision never sees half an update.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};

use palisade_policy::teams::TeamIndex;
use palisade_team::Team;

/// Where the Teams come from.
#[derive(Clone)]
pub enum TeamSource {
    /// A fixed set (files, or none).
    Fixed(Arc<TeamIndex>),
    /// The cluster's `palisade.dev/v1alpha1` Teams.
    Cluster {
        current: Arc<RwLock<Arc<TeamIndex>>>,
        synced: Arc<AtomicBool>,
    },
}

impl std::fmt::Debug for TeamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeamSource::Fixed(index) => write!(f, "Fixed({} teams)", index.teams()),
            TeamSource::Cluster { synced, .. } => {
                write!(f, "Cluster(synced: {})", synced.load(Ordering::Relaxed))
            }
        }
    }
}

impl Default for TeamSource {
    fn default() -> Self {
        TeamSource::Fixed(Arc::new(TeamIndex::default()))
    }
}

impl TeamSource {
    /// The given Teams, for good.
    pub fn fixed(teams: &[Team]) -> Self {
        let (index, warnings) = palisade_team::admission::index(teams);
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        TeamSource::Fixed(Arc::new(index))
    }

    /// Starts watching Teams with `client`; `ready()` turns true after the first complete list.
    /// A Team object that does not validate is left out, with a warning: its namespaces are then
    /// guarded only by their labels, as any managed object is.
    pub fn watch(client: Client) -> Self {
        let gvk = GroupVersionKind::gvk("palisade.dev", "v1alpha1", "Team");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "teams");
        let api: Api<DynamicObject> = Api::all_with(client, &resource);
        let writer = reflector::store::Writer::new(resource.clone());
        let store = writer.as_reader();
        let current = Arc::new(RwLock::new(Arc::new(TeamIndex::default())));
        let synced = Arc::new(AtomicBool::new(false));
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        let (rebuild_store, rebuild_into, flag) = (store.clone(), current.clone(), synced.clone());
        tokio::spawn(async move {
            stream
                .for_each(|event| {
                    if let Err(e) = &event {
                        tracing::warn!("team watch: {e}");
                    } else if flag.load(Ordering::Acquire) {
                        rebuild(&rebuild_store, &rebuild_into);
                    }
                    async {}
                })
                .await;
        });
        let (ready_store, ready_into, flag) = (store, current.clone(), synced.clone());
        tokio::spawn(async move {
            if ready_store.wait_until_ready().await.is_ok() {
                rebuild(&ready_store, &ready_into);
                flag.store(true, Ordering::Release);
            }
        });
        TeamSource::Cluster { current, synced }
    }

    /// True once decisions can be made: always for a fixed set, after the first list from a
    /// cluster (before it, every team namespace would look unclaimed).
    pub fn ready(&self) -> bool {
        match self {
            TeamSource::Fixed(_) => true,
            TeamSource::Cluster { synced, .. } => synced.load(Ordering::Acquire),
        }
    }

    /// The index now.
    pub fn index(&self) -> Arc<TeamIndex> {
        match self {
            TeamSource::Fixed(index) => Arc::clone(index),
            TeamSource::Cluster { current, .. } => match current.read() {
                Ok(index) => Arc::clone(&index),
                Err(poisoned) => Arc::clone(&poisoned.into_inner()),
            },
        }
    }
}

/// Reads every Team in the store and swaps in the new index.
fn rebuild(store: &Store<DynamicObject>, into: &RwLock<Arc<TeamIndex>>) {
    let mut teams: Vec<Team> = Vec::new();
    for object in store.state() {
        let name = object.metadata.name.clone().unwrap_or_default();
        let file: Arc<str> = Arc::from(format!("cluster:teams/{name}"));
        let parsed = serde_json::to_string(object.as_ref())
            .map_err(|e| e.to_string())
            .and_then(|text| palisade_team::parse_teams(file, &text).map_err(|e| e.to_string()));
        match parsed {
            Ok(mut parsed) => teams.append(&mut parsed),
            Err(e) => tracing::warn!(team = %name, "Team left out: {e}"),
        }
    }
    let (index, warnings) = palisade_team::admission::index(&teams);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(teams = index.teams(), "team index rebuilt");
    match into.write() {
        Ok(mut slot) => *slot = Arc::new(index),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(index),
    }
}

//! Namespace labels for the policy: from a watch cache of the cluster's Namespaces (kube-rs
//! reflector), or, outside a cluster, from the configuration file alone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};

/// Where namespace labels come from.
#[derive(Clone)]
pub enum NamespaceSource {
    /// The configuration file's `podSecurity.namespaces`, then the defaults.
    Config,
    /// A watch cache of the cluster's Namespaces.
    Cluster {
        store: Store<Namespace>,
        synced: Arc<AtomicBool>,
    },
}

impl std::fmt::Debug for NamespaceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamespaceSource::Config => f.write_str("Config"),
            NamespaceSource::Cluster { synced, .. } => {
                write!(f, "Cluster(synced: {})", synced.load(Ordering::Relaxed))
            }
        }
    }
}

impl NamespaceSource {
    /// Starts watching Namespaces with `client`. The cache fills in the background; `ready()`
    /// turns true after the first complete list.
    pub fn watch(client: Client) -> Self {
        let api: Api<Namespace> = Api::all(client);
        let (store, writer) = reflector::store();
        let synced = Arc::new(AtomicBool::new(false));
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        tokio::spawn(async move {
            stream
                .for_each(|event| async move {
                    if let Err(e) = event {
                        tracing::warn!("namespace watch: {e}");
                    }
                })
                .await;
        });
        let ready_store = store.clone();
        let flag = synced.clone();
        tokio::spawn(async move {
            if ready_store.wait_until_ready().await.is_ok() {
                flag.store(true, Ordering::Release);
                tracing::info!(
                    namespaces = ready_store.state().len(),
                    "namespace cache synced"
                );
            }
        });
        NamespaceSource::Cluster { store, synced }
    }

    /// True when policy decisions can be made: always from the file, after the first list from a cluster.
    pub fn ready(&self) -> bool {
        match self {
            NamespaceSource::Config => true,
            NamespaceSource::Cluster { synced, .. } => synced.load(Ordering::Acquire),
        }
    }

    /// The labels of `namespace`, when the cluster cache knows it.
    pub fn labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        match self {
            NamespaceSource::Config => None,
            NamespaceSource::Cluster { store, .. } => store
                .get(&ObjectRef::new(namespace))
                .map(|ns| ns.metadata.labels.clone().unwrap_or_default()),
        }
    }
}

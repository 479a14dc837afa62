//! The teams' network as a palisade-netpol [`Intent`], so that `team render` writes its
//! NetworkPolicies with the generator `netpol generate` uses and `team verify` checks them with the
//! analysis `netpol verify` uses: one code path for both.
//!
//! Each team namespace is a service selecting every pod of the namespace (named after the
//! namespace, so its policy is `allow-NAMESPACE`). It accepts, besides its own team on every port,
//! the teams whose connection both sides declared (on the ports both name), the gateway and CIDR
//! clients its ingress names, and monitoring on the platform's ports; it reaches its own team, the
//! teams it has a connection to, and the CIDRs and platform components its egress names. Every pod
//! reaches the cluster DNS. Nothing else: no internet.

use std::collections::BTreeMap;
use std::sync::Arc;

use palisade_netpol::intent::{
    Accept, Client, ClusterDns, Intent, Namespace, Peer as IntentPeer, PortRange, Reach, Service,
};
use palisade_netpol::mesh::ANY_SERVICE_ACCOUNT;
use palisade_policy::config::PlatformComponent;

use crate::set::{Connection, TeamSet};
use crate::spec::{Component, Peer};

/// What names the intent in messages.
pub const SOURCE: &str = "teams";

/// The intent name of a platform component as a client (never a namespace name: those have no
/// dots).
fn component_name(c: Component) -> String {
    format!("platform.{}", c.as_str())
}

/// The intent name of a platform component as `team` reaches it (with that team's ports).
fn component_for(c: Component, team: &str) -> String {
    format!("platform.{}.{team}", c.as_str())
}

fn peer(name: String, c: &PlatformComponent, ports: Vec<PortRange>) -> IntentPeer {
    IntentPeer {
        name,
        namespace: c.namespace.clone(),
        pod_labels: c.pod_labels.clone(),
        service_account: ANY_SERVICE_ACCOUNT.into(),
        ports,
    }
}

/// The intent for `set`.
pub fn intent(set: &TeamSet) -> Intent {
    let platform = &set.platform;
    let component = |c: Component| match c {
        Component::Gateway => platform.gateway.as_ref(),
        Component::Monitoring => platform.monitoring.as_ref(),
    };
    let mut peers = BTreeMap::new();
    for c in [Component::Gateway, Component::Monitoring] {
        if let Some(config) = component(c) {
            peers.insert(
                component_name(c),
                peer(component_name(c), config, Vec::new()),
            );
        }
    }
    let mut namespaces = BTreeMap::new();
    let mut services = BTreeMap::new();
    // Each team's connections, found once rather than by a scan of all of them per team.
    let mut as_server: BTreeMap<&str, Vec<&Connection>> = BTreeMap::new();
    let mut as_client: BTreeMap<&str, Vec<&Connection>> = BTreeMap::new();
    for c in &set.connections {
        as_server.entry(c.server.as_str()).or_default().push(c);
        as_client.entry(c.client.as_str()).or_default().push(c);
    }
    for team in &set.teams {
        let own: Vec<Client> = team
            .namespaces
            .iter()
            .map(|ns| Client::Workload(ns.clone()))
            .collect();
        let mut accepts = vec![Accept {
            from: own.clone(),
            ports: Vec::new(),
            http: Vec::new(),
            cross_team: false,
        }];
        let mut reaches: Vec<Reach> = team
            .namespaces
            .iter()
            .map(|ns| Reach::Workload(ns.clone()))
            .collect();
        for c in as_server.get(team.name.as_str()).into_iter().flatten() {
            let Some(client) = set.team(&c.client) else {
                continue;
            };
            accepts.push(Accept {
                from: client
                    .namespaces
                    .iter()
                    .map(|ns| Client::Workload(ns.clone()))
                    .collect(),
                ports: c.ports.clone(),
                http: Vec::new(),
                cross_team: true,
            });
        }
        for c in as_client.get(team.name.as_str()).into_iter().flatten() {
            if let Some(server) = set.team(&c.server) {
                reaches.extend(
                    server
                        .namespaces
                        .iter()
                        .map(|ns| Reach::Workload(ns.clone())),
                );
            }
        }
        for rule in &team.ingress {
            let from = match &rule.peer {
                Peer::Platform(c) => Client::Workload(component_name(*c)),
                Peer::Cidr(block) => Client::Cidr(block.clone()),
                Peer::Team(_) => continue,
            };
            accepts.push(Accept {
                from: vec![from],
                ports: rule.ports.clone(),
                http: Vec::new(),
                cross_team: true,
            });
        }
        if let Some(m) = &platform.monitoring {
            accepts.push(Accept {
                from: vec![Client::Workload(component_name(Component::Monitoring))],
                ports: m
                    .ports
                    .iter()
                    .map(|&p| PortRange::single(palisade_netpol::intent::Protocol::Tcp, p))
                    .collect(),
                http: Vec::new(),
                cross_team: true,
            });
        }
        let mut to_platform: BTreeMap<Component, Vec<PortRange>> = BTreeMap::new();
        for rule in &team.egress {
            match &rule.peer {
                Peer::Platform(c) => to_platform
                    .entry(*c)
                    .or_default()
                    .extend(rule.ports.iter().copied()),
                Peer::Cidr(block) => reaches.push(Reach::Cidr {
                    block: block.clone(),
                    ports: rule.ports.clone(),
                }),
                Peer::Team(_) => {}
            }
        }
        for (c, mut ports) in to_platform {
            let Some(config) = component(c) else { continue };
            ports.sort();
            ports.dedup();
            let name = component_for(c, &team.name);
            reaches.push(Reach::Workload(name.clone()));
            peers.insert(name.clone(), peer(name, config, ports));
        }
        for ns in &team.namespaces {
            namespaces.insert(
                ns.clone(),
                Namespace {
                    team: team.name.clone(),
                    shared: false,
                },
            );
            services.insert(
                ns.clone(),
                Service {
                    name: ns.clone(),
                    namespace: ns.clone(),
                    pod_labels: BTreeMap::new(),
                    service_account: ANY_SERVICE_ACCOUNT.into(),
                    accepts: accepts.clone(),
                    reaches: reaches.clone(),
                    internet_egress: false,
                    probes: Vec::new(),
                },
            );
        }
    }
    Intent {
        file: Arc::from(SOURCE),
        team_isolation: true,
        dns_for_all: true,
        cluster_dns: ClusterDns {
            namespace: platform.dns.namespace.clone(),
            pod_labels: platform.dns.pod_labels.clone(),
            ports: platform.dns.ports.clone(),
        },
        namespaces,
        peers,
        services,
    }
}

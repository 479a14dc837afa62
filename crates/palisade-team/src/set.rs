//! Every Team with the platform: what no single Team can check alone (a name or namespace claimed
//! twice, the Pod Security floor, references to platform components), and the connections between
//! teams, each of which exists only when both teams declare it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use palisade_core::path::FieldPath;
use palisade_core::InputError;
use palisade_netpol::intent::PortRange;
use palisade_policy::config::PlatformConfig;
use palisade_pss::Level;

use crate::spec::{Component, Peer, Team};

/// Why teams could not be rendered or verified.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Teams that are invalid together, each error with its file, line and key.
    #[error("{}", join(.0))]
    Invalid(Vec<InputError>),
    /// The manifests could not be analysed.
    #[error(transparent)]
    Verify(#[from] palisade_netpol::verify::VerifyError),
}

fn join(errors: &[InputError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A connection both teams declared: `client`'s pods may open connections to `server`'s on
/// `ports` (the ports both rules name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connection {
    pub client: String,
    pub server: String,
    pub ports: Vec<PortRange>,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} -> {} [{}]",
            self.client,
            self.server,
            ports.join(",")
        )
    }
}

/// Validated teams, in name order, with the platform they run on.
#[derive(Debug, Clone)]
pub struct TeamSet {
    pub platform: PlatformConfig,
    pub teams: Vec<Team>,
    /// The connections between teams that both sides declared, sorted.
    pub connections: Vec<Connection>,
    /// Declarations that make no connection (one-sided, an unknown team, no common port), with
    /// their file and line.
    pub warnings: Vec<String>,
    /// Which team (index into `teams`) owns each namespace: looked up once per generated object,
    /// so a scan of every team would make a platform's render quadratic.
    owners: HashMap<String, usize>,
}

impl TeamSet {
    /// Checks the teams against each other and the platform; every error is returned.
    pub fn new(platform: &PlatformConfig, mut teams: Vec<Team>) -> Result<TeamSet, Error> {
        teams.sort_by(|a, b| a.name.cmp(&b.name));
        let mut errors = Vec::new();
        let mut names: BTreeMap<&str, &Team> = BTreeMap::new();
        let mut owners: BTreeMap<&str, (&Team, usize)> = BTreeMap::new();
        let platform_ns: BTreeMap<&str, &str> = [
            ("gateway", platform.gateway.as_ref()),
            ("dns", Some(&platform.dns)),
            ("monitoring", platform.monitoring.as_ref()),
        ]
        .into_iter()
        .filter_map(|(what, c)| c.map(|c| (c.namespace.as_str(), what)))
        .collect();
        for team in &teams {
            let root = FieldPath::root();
            if let Some(first) = names.insert(&team.name, team) {
                errors.push(team.source.error(
                    &root.clone().field("metadata").field("name"),
                    format!(
                        "team {} is also defined in {}",
                        team.name, first.source.file
                    ),
                ));
            }
            for (i, ns) in team.namespaces.iter().enumerate() {
                let at = root.clone().field("spec").field("namespaces").index(i);
                if let Some(what) = platform_ns.get(ns.as_str()) {
                    errors.push(team.source.error(
                        &at,
                        format!(
                            "{ns} is where the platform's {what} runs (platform.{what}.namespace)"
                        ),
                    ));
                } else if let Some((other, j)) = owners.insert(ns, (team, i)) {
                    if other.name != team.name {
                        let line = other
                            .source
                            .line(&FieldPath::root().field("spec").field("namespaces").index(j));
                        errors.push(team.source.error(
                            &at,
                            format!(
                                "namespace {ns} is already claimed by team {} ({}:{line})",
                                other.name, other.source.file
                            ),
                        ));
                    }
                }
            }
            if let Some(level) = team.level {
                if level < platform.floor {
                    errors.push(
                        team.source.error(
                            &root
                                .clone()
                                .field("spec")
                                .field("podSecurity")
                                .field("level"),
                            format!(
                                "{level} is looser than the platform's floor, {} (platform.floor)",
                                platform.floor
                            ),
                        ),
                    );
                }
            }
            for (rules, side) in [(&team.ingress, "from"), (&team.egress, "to")] {
                for rule in rules {
                    let Peer::Platform(c) = &rule.peer else {
                        continue;
                    };
                    let configured = match c {
                        Component::Gateway => platform.gateway.is_some(),
                        Component::Monitoring => platform.monitoring.is_some(),
                    };
                    if !configured {
                        errors.push(team.source.error(
                            &rule.at.clone().field(side).field("platform"),
                            format!(
                                "the platform has no {0}: configure platform.{0} in the configuration file",
                                c.as_str()
                            ),
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let (connections, warnings) = connections(&teams);
        let owners = teams
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.namespaces.iter().map(move |ns| (ns.clone(), i)))
            .collect();
        Ok(TeamSet {
            platform: platform.clone(),
            teams,
            connections,
            warnings,
            owners,
        })
    }

    /// The team called `name`.
    pub fn team(&self, name: &str) -> Option<&Team> {
        // Sorted by name in `new`.
        self.teams
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.teams[i])
    }

    /// The team owning namespace `ns`.
    pub fn owner_of(&self, ns: &str) -> Option<&Team> {
        self.owners.get(ns).map(|&i| &self.teams[i])
    }

    /// The level a team's namespaces enforce: its own, or the floor.
    pub fn level(&self, team: &Team) -> Level {
        team.level.unwrap_or(self.platform.floor)
    }
}

/// The two-sided connections, and a warning for every declaration that makes none.
fn connections(teams: &[Team]) -> (Vec<Connection>, Vec<String>) {
    let by_name: BTreeMap<&str, &Team> = teams.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    // Server side: each ingress rule from a team, matched against that team's egress rules.
    for server in teams {
        for rule in &server.ingress {
            let Peer::Team(client_name) = &rule.peer else {
                continue;
            };
            let at = rule.at.clone().field("from").field("team");
            let Some(client) = by_name.get(client_name.as_str()) else {
                warnings.push(
                    server
                        .source
                        .error(
                            &at,
                            format!("no team {client_name} among the teams given: no connection"),
                        )
                        .to_string(),
                );
                continue;
            };
            let mut declared = false;
            let mut ports = Vec::new();
            for back in &client.egress {
                if back.peer == Peer::Team(server.name.clone()) {
                    declared = true;
                    ports.extend(intersect(&rule.ports, &back.ports));
                }
            }
            let message = if !declared {
                format!(
                    "{} accepts team {client_name}, but team {client_name} declares no egress to {}: no connection (both teams must declare it)",
                    server.name, server.name
                )
            } else if ports.is_empty() {
                format!(
                    "{} accepts team {client_name} on ports that team {client_name}'s egress to {} does not name: no connection",
                    server.name, server.name
                )
            } else {
                ports.sort();
                ports.dedup();
                out.push(Connection {
                    client: client.name.clone(),
                    server: server.name.clone(),
                    ports,
                });
                continue;
            };
            warnings.push(server.source.error(&at, message).to_string());
        }
    }
    // Client side: egress rules to a team that accepts nothing from this one.
    for client in teams {
        for rule in &client.egress {
            let Peer::Team(server_name) = &rule.peer else {
                continue;
            };
            let at = rule.at.clone().field("to").field("team");
            let message = match by_name.get(server_name.as_str()) {
                None => format!("no team {server_name} among the teams given: no connection"),
                Some(server)
                    if !server
                        .ingress
                        .iter()
                        .any(|r| r.peer == Peer::Team(client.name.clone())) =>
                {
                    format!(
                        "{} reaches team {server_name}, but team {server_name} declares no ingress from {}: no connection (both teams must declare it)",
                        client.name, client.name
                    )
                }
                Some(_) => continue,
            };
            warnings.push(client.source.error(&at, message).to_string());
        }
    }
    out.sort();
    merge(&mut out);
    (out, warnings)
}

/// One connection per pair of teams, with the union of its ports.
fn merge(connections: &mut Vec<Connection>) {
    let mut merged: Vec<Connection> = Vec::new();
    for c in connections.drain(..) {
        match merged.last_mut() {
            Some(last) if last.client == c.client && last.server == c.server => {
                last.ports.extend(c.ports);
                last.ports.sort();
                last.ports.dedup();
            }
            _ => merged.push(c),
        }
    }
    *connections = merged;
}

/// The ports both lists name: per protocol, the overlap of every pair of ranges.
pub fn intersect(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if x.protocol != y.protocol {
                continue;
            }
            let (start, end) = (x.start.max(y.start), x.end.min(y.end));
            if start <= end {
                out.push(PortRange {
                    protocol: x.protocol,
                    start,
                    end,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use palisade_netpol::intent::Protocol;

    use super::*;
    use crate::spec::parse_teams;

    /// A team with these namespaces and network rules (YAML flow sequences).
    pub(crate) fn team(name: &str, namespaces: &str, ingress: &str, egress: &str) -> Team {
        let text = format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata:\n  name: {name}\nspec:\n  namespaces: {namespaces}\n  owners: [{{kind: Group, name: {name}-ds}}]\n  network:\n    ingress: {ingress}\n    egress: {egress}\n"
        );
        parse_teams(Arc::from(format!("{name}.yaml")), &text)
            .unwrap()
            .remove(0)
    }

    pub(crate) fn platform() -> PlatformConfig {
        palisade_policy::Config::parse(
            Arc::from("palisade.yaml"),
            "platform:\n  gateway: {namespace: ingress, podSelector: {matchLabels: {app: gateway}}}\n  monitoring: {namespace: monitoring, podSelector: {matchLabels: {app: prometheus}}, ports: [9090]}\n",
        )
        .unwrap()
        .platform
    }

    fn tcp(p: u16) -> PortRange {
        PortRange::single(Protocol::Tcp, p)
    }

    #[test]
    fn a_connection_needs_both_sides() {
        let fraud = team(
            "fraud",
            "[fraud]",
            "[{from: {team: recsys}, ports: [8080, 9000-9100]}]",
            "[{to: {team: cache}, ports: [6379]}]",
        );
        let recsys = team(
            "recsys",
            "[recsys]",
            "[]",
            "[{to: {team: fraud}, ports: [8080, 9050/TCP]}]",
        );
        let cache = team("cache", "[cache]", "[]", "[]");
        let set = TeamSet::new(&platform(), vec![fraud, recsys, cache]).unwrap();
        assert_eq!(
            set.connections,
            vec![Connection {
                client: "recsys".into(),
                server: "fraud".into(),
                ports: vec![tcp(8080), tcp(9050)],
            }]
        );
        assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
        assert!(
            set.warnings[0].starts_with("fraud.yaml:10: spec.network.egress[0].to.team: fraud reaches team cache, but team cache declares no ingress from fraud"),
            "{:?}",
            set.warnings
        );
    }

    #[test]
    fn one_sided_ingress_and_unknown_teams_are_warned_about() {
        let fraud = team(
            "fraud",
            "[fraud]",
            "[{from: {team: recsys}, ports: [8080]}, {from: {team: ghost}, ports: [80]}]",
            "[]",
        );
        let recsys = team("recsys", "[recsys]", "[]", "[]");
        let set = TeamSet::new(&platform(), vec![fraud, recsys]).unwrap();
        assert!(set.connections.is_empty());
        assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
        assert!(
            set.warnings[0]
                .contains("fraud accepts team recsys, but team recsys declares no egress to fraud"),
            "{:?}",
            set.warnings
        );
        assert!(
            set.warnings[1].contains("no team ghost"),
            "{:?}",
            set.warnings
        );
    }

    #[test]
    fn ports_must_overlap() {
        let fraud = team(
            "fraud",
            "[fraud]",
            "[{from: {team: recsys}, ports: [8080]}]",
            "[]",
        );
        let recsys = team(
            "recsys",
            "[recsys]",
            "[]",
            "[{to: {team: fraud}, ports: [8081, 8080/UDP]}]",
        );
        let set = TeamSet::new(&platform(), vec![fraud, recsys]).unwrap();
        assert!(set.connections.is_empty());
        assert!(
            set.warnings[0].contains("on ports that team recsys's egress to fraud does not name"),
            "{:?}",
            set.warnings
        );
    }

    #[test]
    fn teams_are_checked_together() {
        let a = team("a", "[shared, a2]", "[]", "[]");
        let b = team("b", "[b1, shared]", "[]", "[]");
        let Err(Error::Invalid(errors)) = TeamSet::new(&platform(), vec![a.clone(), b]) else {
            panic!("accepted")
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), "b.yaml:6: spec.namespaces[1]: namespace shared is already claimed by team a (a.yaml:6)");

        let again = team("a", "[other]", "[]", "[]");
        let Err(Error::Invalid(errors)) = TeamSet::new(&platform(), vec![a.clone(), again]) else {
            panic!("accepted")
        };
        assert!(
            errors[0]
                .message
                .contains("team a is also defined in a.yaml"),
            "{errors:?}"
        );

        let on_platform = team("m", "[monitoring]", "[]", "[]");
        let Err(Error::Invalid(errors)) = TeamSet::new(&platform(), vec![on_platform]) else {
            panic!("accepted")
        };
        assert!(
            errors[0]
                .message
                .contains("monitoring is where the platform's monitoring runs"),
            "{errors:?}"
        );

        let gw = team(
            "g",
            "[g]",
            "[{from: {platform: gateway}, ports: [80]}]",
            "[]",
        );
        let Err(Error::Invalid(errors)) = TeamSet::new(&PlatformConfig::default(), vec![gw]) else {
            panic!("accepted")
        };
        assert_eq!(errors[0].line, Some(9));
        assert!(
            errors[0]
                .message
                .starts_with("spec.network.ingress[0].from.platform: the platform has no gateway"),
            "{errors:?}"
        );
    }

    #[test]
    fn no_team_goes_below_the_floor() {
        let text = "apiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata: {name: loose}\nspec:\n  namespaces: [loose]\n  podSecurity: {level: baseline}\n";
        let loose = parse_teams(Arc::from("loose.yaml"), text).unwrap();
        let Err(Error::Invalid(errors)) = TeamSet::new(&platform(), loose.clone()) else {
            panic!("accepted")
        };
        assert_eq!(errors[0].to_string(), "loose.yaml:6: spec.podSecurity.level: baseline is looser than the platform's floor, restricted (platform.floor)");
        let mut lower = platform();
        lower.floor = Level::Baseline;
        let set = TeamSet::new(&lower, loose).unwrap();
        assert_eq!(set.level(&set.teams[0]), Level::Baseline);
    }

    #[test]
    fn intersection_of_ranges() {
        let r = |s: &str| PortRange::parse(s).unwrap();
        assert_eq!(
            intersect(
                &[r("8000-8100/TCP"), r("53/UDP")],
                &[r("8050-9000/TCP"), r("53/TCP")]
            ),
            vec![r("8050-8100/TCP")]
        );
    }
}

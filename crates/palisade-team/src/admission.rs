//! The Teams as the admission webhook enforces them: which namespaces each owns and its image
//! rules (palisade-policy's [`TeamIndex`], on which the guard and the image checks run).

use std::collections::BTreeSet;

use palisade_policy::image_verification::ScanPolicy;
use palisade_policy::teams::{TeamImages, TeamIndex, TeamRules};

use crate::spec::Team;

/// One Team's rules at admission.
pub fn team_rules(team: &Team) -> TeamRules {
    TeamRules {
        name: team.name.clone(),
        namespaces: team.namespaces.clone(),
        images: team.images.as_ref().map(|images| TeamImages {
            registries: images.registries.clone(),
            keys: images.keys.clone(),
            scan: images.require_scan.map(|scan| ScanPolicy {
                max_severity: scan.max_severity,
                max_age: scan.max_age,
            }),
        }),
    }
}

/// The index of `teams`, and a warning for each namespace two Teams claim (the Team whose name
/// sorts first keeps it, so that the answer does not depend on the order they were read in).
/// `TeamSet` refuses such a pair outright; the webhook has to go on guarding the rest.
pub fn index(teams: &[Team]) -> (TeamIndex, Vec<String>) {
    let mut sorted: Vec<&Team> = teams.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut warnings = Vec::new();
    let mut rules = Vec::new();
    for team in sorted {
        let mut own = team_rules(team);
        own.namespaces.retain(|namespace| {
            let first = claimed.insert(namespace.clone());
            if !first {
                warnings.push(format!(
                    "namespace {namespace} is claimed by more than one Team; team {} does not get it",
                    team.name
                ));
            }
            first
        });
        rules.push(own);
    }
    (TeamIndex::new(rules), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_teams;

    #[test]
    fn namespaces_and_image_rules_reach_the_index() {
        let teams = parse_teams(
            "teams.yaml".into(),
            "apiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata: {name: fraud}\nspec:\n  namespaces: [fraud, shared]\n  owners: [{kind: Group, name: fraud-ds}]\n  images: {registries: [registry.example.com/fraud/], requireScan: {maxSeverity: high, maxAge: 7d}}\n---\napiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata: {name: ads}\nspec:\n  namespaces: [ads, shared]\n  owners: [{kind: Group, name: ads}]\n",
        )
        .unwrap();
        let (index, warnings) = index(&teams);
        assert_eq!(index.teams(), 2);
        assert_eq!(
            index.team_of("shared").map(|t| t.name.as_str()),
            Some("ads")
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let fraud = index.team_of("fraud").unwrap();
        let images = fraud.images.as_ref().unwrap();
        assert_eq!(images.registries, vec!["registry.example.com/fraud/"]);
        assert_eq!(images.scan.as_ref().unwrap().max_age.as_secs(), 7 * 86_400);
        assert!(index.team_of("scratch").is_none());
    }
}

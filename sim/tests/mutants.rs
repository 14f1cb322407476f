//! The one list of mutants (`redsim_client::Mutant`, re-exported as `redsim::Mutant`): every name parses back,
//! and a scenario carrying any of them survives its text and JSON forms unchanged, with the JSON naming it in
//! kebab-case as before the list moved into the client.

use redsim::{Mutant, Scenario};

#[test]
fn every_name_parses_back_to_its_mutant() {
    for (m, name) in Mutant::ALL {
        assert_eq!(m.name(), name);
        assert_eq!(name.parse::<Mutant>(), Ok(m), "{name}");
    }
    let mut names: Vec<&str> = Mutant::ALL.iter().map(|(_, n)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Mutant::ALL.len(), "a name is used twice: {names:?}");
}

#[test]
fn an_unknown_name_is_refused_with_the_known_ones() {
    let known: Vec<&str> = Mutant::ALL.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        "nope".parse::<Mutant>(),
        Err(format!("unknown mutant 'nope' (known: {})", known.join(", ")))
    );
}

#[test]
fn every_mutant_round_trips_through_the_scenario_text_and_json() {
    for (m, name) in Mutant::ALL {
        let s = Scenario {
            mutant: Some(m),
            ..Scenario::default()
        };
        let text = s.to_string();
        assert!(text.lines().any(|l| l == format!("mutant {name}")), "{text}");
        assert_eq!(text.parse::<Scenario>().unwrap(), s, "{name}, text");
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(&format!("\"mutant\":\"{name}\"")), "{json}");
        assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s, "{name}, json");
    }
}

#[test]
fn a_scenario_without_a_mutant_keeps_its_json_form() {
    let s = Scenario::default();
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"mutant\":null"), "{json}");
    assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
    // An older file may leave the field out.
    let without = json.replace(",\"mutant\":null", "");
    assert!(!without.contains("mutant"), "{without}");
    assert_eq!(serde_json::from_str::<Scenario>(&without).unwrap(), s);
    // A misspelt mutant is an error, not silently no mutant.
    let bad = json.replace("\"mutant\":null", "\"mutant\":\"no-ejections\"");
    let e = serde_json::from_str::<Scenario>(&bad).unwrap_err().to_string();
    assert!(e.contains("unknown mutant 'no-ejections'"), "{e}");
}

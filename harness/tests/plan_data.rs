//! A plan is plain data: equal plans run the same, and a plan survives a
//! round trip through its serialized form unchanged (what a fuzz target, a
//! live run or another process will read).

use payfault::explore::generate::generate;
use payfault::node::{Bug, Bugs};
use payfault::plan::{HostId, LinkId, Plan};
use payfault::run::{run, RunOptions};

#[test]
fn generated_plans_round_trip_through_json_and_compare_equal() {
    for seed in 0..60 {
        let plan = generate(seed, &Bugs::none());
        let text = serde_json::to_string(&plan).expect("a plan serializes");
        let back: Plan = serde_json::from_str(&text).expect("and deserializes");
        assert_eq!(back, plan, "seed {seed}");
        assert_ne!(
            generate(seed + 1, &Bugs::none()),
            plan,
            "seeds {seed} and {} differ",
            seed + 1
        );
    }
}

#[test]
fn host_and_link_ids_are_written_with_their_kind() {
    let plan = (0..50)
        .map(|seed| generate(seed, &Bugs::none()))
        .find(|plan| !plan.faults.links.is_empty())
        .expect("some seed has message faults");
    let json = serde_json::to_value(&plan).unwrap();
    let links = json["faults"]["links"].as_object().unwrap();
    assert_eq!(links.len(), plan.faults.links.len());
    for link in links.keys() {
        let parsed: LinkId = link.parse().expect("a link key parses");
        assert!(
            link.starts_with("terminal:") || link.starts_with("bank:"),
            "{link}"
        );
        assert_eq!(String::from(parsed), *link);
    }
    assert_eq!(serde_json::to_value(HostId::Switch).unwrap(), "switch");
}

#[test]
fn a_deserialized_plan_runs_to_the_same_trace() {
    let plan = generate(11, &Bugs::of([Bug::SwitchNoDedupe]));
    let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    let options = RunOptions::hashed(&Bugs::none());
    assert_eq!(
        run(&plan, &options).unwrap().trace_hash,
        run(&back, &options).unwrap().trace_hash
    );
}

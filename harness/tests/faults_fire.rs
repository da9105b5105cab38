//! Faults that provably fire: a run counts how often each fault of its plan
//! fired, a scenario's report lists every fault with its count, and
//! `payfault run` warns about each one that never fired. (That every fault
//! of the library fires is checked per scenario by `tests/scenarios.rs`.)

use std::collections::BTreeMap;
use std::process::Command;

use payfault::run::ScenarioOptions;
use payfault::scenario;

/// One sale on TERM0001 during the fault phase; TERM0002 does nothing
/// until the end-of-day close after healing. Every fault marked "never"
/// cannot fire; the others must.
const SCENARIO: &str = r#"
name = "faults-that-cannot-fire"
incident = "C"
description = "One sale on TERM0001, and faults that cannot fire next to faults that do."
seed = 5

[[operations]]
at = "100ms"
op = "sale"
id = "s1"
card = "4111110000000001"
amount = "10.00 EUR"

# never: the only crash finds nothing unsynced to tear
[faults]
torn_writes = 16

# fires: the sale's 0200
[[faults.messages]]
link = "TERM0001"
direction = "request"
mti = "0200"
action = "delay"
delay = "10ms"

# never: the rule before it decides every 0200
[[faults.messages]]
link = "TERM0001"
mti = "0200"
action = "drop"

# never: TERM0002 reverses nothing
[[faults.messages]]
link = "TERM0002"
mti = "0420"
action = "drop"

# never: TERM0002 sends nothing during the fault phase
[[faults.partitions]]
link = "TERM0002"
from = "1s"
until = "5s"

# fires: the switch's connection to the bank for the sale is cut
[[faults.partitions]]
link = "bank-a"
from = "50ms"
until = "3s"

# fires: TERM0002 is up at 1 s
[[faults.crashes]]
host = "TERM0002"
at = "1s"

# never: TERM0002 is still down at 2 s
[[faults.crashes]]
host = "TERM0002"
at = "2s"

# never: TERM0002 sends its only request after healing, when nothing crashes
[[faults.crashes]]
host = "TERM0002"
point = "terminal.request.after_sync_before_send"

# fires: the bank reads its clock for every message
[[faults.clocks]]
host = "bank-a"
offset = "-2s"

# never: 1 ppm of drift is less than a millisecond in a run this short
[[faults.clocks]]
host = "TERM0002"
drift_ppm = 1

# never: nothing on TERM0002's link to drop
[[faults.random]]
link = "TERM0002"
drop = "50%"

# never: no request seen on TERM0002's link to replay
[[faults.injections]]
link = "TERM0002"
at = "3s"
kind = "replay"
"#;

const NEVER: &[&str] = &[
    "drop 0200 on TERM0001<>switch (rule 2)",
    "drop 0420 on TERM0002<>switch (rule 1)",
    "partition TERM0002 1000..5000 ms",
    "crash TERM0002 at 2000 ms",
    "crash TERM0002 at terminal.request.after_sync_before_send #1",
    "torn writes on crash (16-byte blocks)",
    "clock of TERM0002 off by 0 ms, drift 1 ppm",
    "random drop 50% on TERM0002<>switch",
    "replay request #1 on TERM0002>switch at 3000 ms",
];

const FIRED: &[&str] = &[
    "delay 0200 by 10 ms on TERM0001>switch (rule 1)",
    "partition bank-a 50..3000 ms",
    "crash TERM0002 at 1000 ms",
    "clock of bank-a off by -2000 ms, drift 0 ppm",
];

#[test]
fn a_fault_that_cannot_fire_is_reported_as_never_fired() {
    let loaded = scenario::parse("faults-that-cannot-fire.toml", SCENARIO).expect("the scenario parses");
    let report = payfault::run::scenario(&loaded, &ScenarioOptions::default()).expect("it runs");
    let counts: BTreeMap<&str, u64> = report
        .faults
        .iter()
        .map(|fault| (fault.fault.as_str(), fault.fired))
        .collect();
    assert_eq!(
        counts.len(),
        NEVER.len() + FIRED.len(),
        "one line per fault: {counts:#?}"
    );
    for fault in NEVER {
        assert_eq!(counts.get(fault), Some(&0), "{fault}: {counts:#?}");
    }
    for fault in FIRED {
        assert!(
            counts.get(fault).is_some_and(|fired| *fired > 0),
            "{fault}: {counts:#?}"
        );
    }
    let never: Vec<&str> = report.never_fired().map(|fault| fault.fault.as_str()).collect();
    assert_eq!(never.len(), NEVER.len(), "{never:?}");
    let markdown = report.markdown(false);
    assert!(
        markdown.contains("| crash TERM0002 at 2000 ms | 0 (never fired) | crashes |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| crash TERM0002 at 1000 ms | 1 | crashes |"),
        "{markdown}"
    );
}

#[test]
fn payfault_run_warns_about_each_fault_that_never_fired() {
    let dir = std::env::temp_dir().join(format!("payfault-faults-fire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("faults-that-cannot-fire.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let reports = dir.join("reports");
    let output = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["run", file.to_str().unwrap(), "--report-dir"])
        .arg(&reports)
        .output()
        .expect("payfault runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "a warning is no failure: {stdout}{stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), NEVER.len(), "{stderr}");
    for fault in NEVER {
        let line = format!("warning: scenario faults-that-cannot-fire: fault never fired: {fault}");
        assert!(warnings.contains(&line.as_str()), "{line} missing from {stderr}");
    }
    assert!(
        stdout.contains(&format!("warning: {} faults never fired", NEVER.len())),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("faults-that-cannot-fire").join("summary.json")).unwrap(),
    )
    .unwrap();
    let faults = json["faults"]
        .as_array()
        .expect("the JSON report lists the faults");
    assert_eq!(faults.len(), NEVER.len() + FIRED.len());
    assert!(faults
        .iter()
        .any(|fault| fault["fault"] == "crash TERM0002 at 1000 ms" && fault["fired"] == 1));

    // A scenario whose faults all fire prints no warning.
    let library =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/c/reversal-duplicated.toml");
    let clean = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(["run", library.to_str().unwrap(), "--report-dir"])
        .arg(&reports)
        .output()
        .expect("payfault runs");
    assert!(clean.status.success());
    let stderr = String::from_utf8_lossy(&clean.stderr);
    assert!(!stderr.contains("warning:"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_partition_counts_the_answer_the_server_sends_into_it() {
    // The sale's 0200 crosses TERM0001's link before the partition (at the
    // switch at 160 ms, 20 ms ticks); the switch's 0210 (about 240 ms) goes
    // back into it, and nothing else
    // crosses it before it ends: the terminal waits 5 s before reversing.
    let text = r#"
name = "answer-into-a-partition"
incident = "C"
description = "The approval goes back into a partition of the terminal's link."
seed = 9

[[operations]]
at = "100ms"
op = "sale"
id = "s1"
card = "4111110000000001"
amount = "10.00 EUR"

[[faults.partitions]]
link = "TERM0001"
from = "200ms"
until = "1s"

[[expect]]
operation = "s1"
shows = "failed_reversed"
"#;
    let loaded = scenario::parse("answer-into-a-partition.toml", text).expect("the scenario parses");
    let report = payfault::run::scenario(&loaded, &ScenarioOptions::default()).expect("it runs");
    assert!(report.passed, "{}", report.failure_text());
    let partition = &report.faults[0];
    assert_eq!(partition.fault, "partition TERM0001 200..1000 ms");
    assert_eq!(partition.fired, 1, "the one 0210: {:?}", report.events);
}

//! The `payfault` command line as a user calls it: `wire decode` / `encode`,
//! `run`, `bugs`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn payfault(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("payfault starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn first_protocol_vector() -> Value {
    let vectors: Value = serde_json::from_str(include_str!("vectors/pyiso8583.json")).unwrap();
    vectors["valid"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vector| vector["fields"]["t"] == "0200" && vector["fields"].get("64").is_some())
        .expect("a signed 0200 vector")
        .clone()
}

#[test]
fn decode_hex_prints_pyiso8583_fields_and_encode_reproduces_the_bytes() {
    let vector = first_protocol_vector();
    let hex_text = vector["hex"].as_str().unwrap();
    let decoded = payfault(&["wire", "decode", "--hex"], hex_text.as_bytes());
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let printed: Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(printed, vector["fields"]);
    let text = String::from_utf8(decoded.stdout.clone()).unwrap();
    assert!(text.starts_with("{\"t\":\"0200\""), "MTI first: {text}");

    let encoded = payfault(&["wire", "encode", "--hex"], &decoded.stdout);
    assert!(
        encoded.status.success(),
        "{}",
        String::from_utf8_lossy(&encoded.stderr)
    );
    assert_eq!(String::from_utf8(encoded.stdout).unwrap().trim(), hex_text);

    let raw = payfault(&["wire", "encode"], &decoded.stdout);
    assert_eq!(raw.stdout, hex::decode(hex_text).unwrap());
    let back = payfault(&["wire", "decode"], &raw.stdout);
    assert_eq!(
        serde_json::from_slice::<Value>(&back.stdout).unwrap(),
        vector["fields"]
    );
}

#[test]
fn framed_round_trip() {
    let input = br#"{"t":"0800","7":"1122093000","11":"000001","70":"301"}"#;
    let framed = payfault(&["wire", "encode", "--framed"], input);
    assert!(framed.status.success());
    assert_eq!(
        usize::from(u16::from_be_bytes([framed.stdout[0], framed.stdout[1]])),
        framed.stdout.len() - 2
    );
    let decoded = payfault(&["wire", "decode", "--framed"], &framed.stdout);
    assert_eq!(
        serde_json::from_slice::<Value>(&decoded.stdout).unwrap(),
        serde_json::from_slice::<Value>(input).unwrap()
    );
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    let cases: [(&[&str], &[u8], &str); 5] = [
        (&["wire", "decode", "--hex"], b"0200ZZ", "not hex"),
        (&["wire", "decode", "--hex"], b"30324130", "MTI"),
        (
            &["wire", "decode", "--hex"],
            b"303230304000000000000000313233",
            "DE2",
        ),
        (&["wire", "encode"], br#"{"t":"0200","4":"12"}"#, "DE4"),
        (&["wire", "encode"], br#"{"t":"0200","65":"00"}"#, "\"65\""),
    ];
    for (args, stdin, needle) in cases {
        let output = payfault(args, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr:?} lacks {needle:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn run_on_an_empty_folder_says_so_and_passes() {
    let dir = std::env::temp_dir().join(format!("payfault-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = payfault(&["run", dir.to_str().unwrap()], b"");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("no scenarios"));
    let missing = payfault(&["run", "/nonexistent/payfault"], b"");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn bugs_lists_the_whole_catalogue_with_incident_classes() {
    let output = payfault(&["bugs"], b"");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for bug in payfault::node::Bug::ALL {
        let line = text
            .lines()
            .find(|line| line.starts_with(bug.name()))
            .unwrap_or_else(|| panic!("{} missing", bug.name()));
        assert!(line.contains(bug.summary()), "{line}");
    }
    let json = payfault(&["bugs", "--json"], b"");
    let lines: Vec<Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), payfault::node::Bug::ALL.len());
    assert!(lines
        .iter()
        .all(|line| ["A", "B", "C", "D", "E"].contains(&line["incident"].as_str().unwrap())));
}

#[test]
fn crash_points_lists_every_node_s_points_once() {
    let output = payfault(&["crash-points"], b"");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let listed: Vec<&str> = text
        .lines()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    let expected: Vec<&str> = payfault::node::all_crash_points()
        .into_iter()
        .map(|(_, point)| point)
        .collect();
    assert_eq!(listed, expected);
    for required in [
        "bank.post.after_sync_before_reply",
        "switch.forward.after_sync_before_send",
        "terminal.request.after_sync_before_send",
    ] {
        assert!(listed.contains(&required), "{required} missing");
    }
    let unique: std::collections::BTreeSet<&&str> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len());
}

#[test]
fn explore_prints_a_summary_and_refuses_bad_shards_and_durations() {
    let output = payfault(&["explore", "--seeds", "12", "--jobs", "2", "--shrink", "0"], b"");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("12 seeds, 0 failed"), "{stdout}");
    for bad in [["--shard", "0/4"], ["--shard", "5/4"], ["--time", "soon"]] {
        let output = payfault(&["explore", bad[0], bad[1]], b"");
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
    }
}

#[test]
fn explore_with_a_planted_bug_fails_prints_the_replay_command_and_writes_a_shrunk_scenario() {
    let out = std::env::temp_dir().join(format!("payfault-cli-found-{}", std::process::id()));
    let args = [
        "explore",
        "--seeds",
        "40",
        "--bug",
        "refund-bound-unchecked",
        "--first-failure",
        "--out",
        out.to_str().unwrap(),
        "--report-dir",
        out.to_str().unwrap(),
    ];
    let output = payfault(&args, b"");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("replay: payfault replay "), "{stdout}");
    assert!(stdout.contains("--bug refund-bound-unchecked"), "{stdout}");
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    assert_eq!(written.len(), 1, "{stdout}");
    let rerun = payfault(
        &[
            "run",
            written[0].to_str().unwrap(),
            "--report-dir",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(rerun.status.code(), Some(1), "the shrunk scenario fails again");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn replay_prints_the_report_of_a_seed_and_its_verdict() {
    let out = std::env::temp_dir().join(format!("payfault-cli-replay-{}", std::process::id()));
    let scenario = out.join("seed-3.toml");
    std::fs::create_dir_all(&out).unwrap();
    let output = payfault(
        &[
            "replay",
            "3",
            "--report-dir",
            out.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for part in [
        "## Customer view",
        "## Balances before and after",
        "## What happened",
        "seed 3 trace",
        "PASS",
    ] {
        assert!(stdout.contains(part), "{part} missing:\n{stdout}");
    }
    for file in payfault::report::FILES {
        assert!(out.join("seed-3").join(file).exists(), "seed-3/{file} missing");
    }
    assert!(
        stdout.contains(&format!(
            "report: {}",
            out.join("seed-3").join("index.html").display()
        )),
        "{stdout}"
    );
    let rerun = payfault(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--report-dir",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert!(rerun.status.success());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_misspelt_bug_name_gets_a_suggestion_in_every_subcommand() {
    let commands: [&[&str]; 4] = [
        &["run", "--bug", "switch-no-dedup"],
        &["explore", "--seeds", "1", "--bug", "switch-no-dedup"],
        &["replay", "1", "--bug", "switch-no-dedup"],
        &["mutants", "--bug", "switch-no-dedup"],
    ];
    for args in commands {
        let output = payfault(args, b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("unknown bug `switch-no-dedup` (did you mean `switch-no-dedupe`?)"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_shard_runs_its_share_of_the_seeds_which_the_progress_total_counts() {
    // Shard 1/4 of 10 seeds runs seeds 0, 4 and 8: three, not 10 / 4 = 2
    // (the progress bar's total is `shard_len`).
    let output = payfault(
        &["explore", "--seeds", "10", "--shard", "1/4", "--shrink", "0"],
        b"",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("\n3 seeds, 0 failed"), "{stdout}");
    // The total the progress bar counts to, as the binary asks for it.
    let options = payfault::explore::ExploreOptions {
        shard: "1/4".parse().unwrap(),
        ..payfault::explore::ExploreOptions::seeds(0, 10)
    };
    assert_eq!(options.seeds_to_run(), Some(3));
    assert_eq!(options.position_of(8), 3);
}

#[test]
fn bench_prints_every_figure_as_json() {
    let output = payfault(
        &[
            "bench",
            "--seeds",
            "8",
            "--jobs",
            "2",
            "--library",
            "../scenarios/c",
            "--json",
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    for key in [
        "seeds_per_s_all",
        "seeds_per_s_one",
        "simulated_s_per_wall_s_one",
        "sim_transactions_per_s_one",
        "direct_transactions_per_s",
        "overhead_ratio",
    ] {
        let figure = figures[key].as_f64().unwrap_or(0.0);
        assert!(figure > 0.0, "{key} = {figure}: {figures}");
    }
    assert_eq!(figures["seeds"], 8);
    let library = std::fs::read_dir("../scenarios/c").unwrap().count() as u64;
    assert_eq!(figures["library_scenarios"], library);
}

//! Every scenario under `scenarios/` as its own test case (libtest-mimic),
//! named `<incident>::<file stem>` so `cargo test` and nextest list and
//! filter them. Each must pass on the correct system, every fault it
//! configures must fire at least once (a fault that never fires tests
//! nothing), and the stable part of its report (customer view, final
//! balances, faults, verdict, what happened) is an insta snapshot under
//! `tests/snapshots/`.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use payfault::run::ScenarioOptions;
use payfault::scenario;

fn scenario_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn run_one(path: &Path) -> Result<(), Failed> {
    let loaded = scenario::load(path).map_err(|error| Failed::from(error.to_string()))?;
    let report = payfault::run::scenario(&loaded, &ScenarioOptions::default()).map_err(Failed::from)?;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(loaded.description.clone());
    // The checkout's location is not part of the report: show paths from
    // the repository root, as a user in it would type them.
    let root = scenario_root().display().to_string();
    let snapshot = report.markdown(false).replace(&root, "scenarios");
    let name = format!("scenario__{}", loaded.name);
    let snapshot_result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, snapshot));
    }));
    if !report.passed {
        return Err(format!("{}\n{}", report.line(false), report.failure_text()).into());
    }
    let never_fired: Vec<&str> = report.never_fired().map(|fault| fault.fault.as_str()).collect();
    if !never_fired.is_empty() {
        return Err(format!(
            "{}: faults that never fired (the file does not test what it says):\n  {}",
            loaded.name,
            never_fired.join("\n  ")
        )
        .into());
    }
    snapshot_result.map_err(|_| Failed::from("the report differs from its snapshot (cargo insta review)"))
}

fn main() {
    let arguments = Arguments::from_args();
    let root = scenario_root();
    let files = scenario::find_files(std::slice::from_ref(&root)).expect("scenarios/ exists");
    let trials = files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
            let group = relative
                .parent()
                .map(|parent| parent.to_string_lossy().replace(['/', '\\'], "::"))
                .filter(|group| !group.is_empty())
                .unwrap_or_else(|| "scenarios".to_string());
            let stem = relative
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            Trial::test(format!("{group}::{stem}"), move || run_one(&path))
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit();
}

//! `payfault from-fuzz` and `payfault fuzz-corpus`: the bridge between the
//! cargo-fuzz targets in `fuzz/` and the rest of the harness.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use payfault::explore::found::{default_out_dir, shrink_plan, Origin};
use payfault::explore::shrink::Budget;
use payfault::fuzz::schedule::{self, Schedule};
use payfault::fuzz::{bugs_from_env, BUGS_VAR};
use payfault::node::{Bug, Bugs};
use payfault::scenario::write::{write, Header};

#[derive(Debug, clap::Args)]
pub struct FromFuzzArgs {
    /// A file the `sim_schedule` target wrote (fuzz/artifacts/sim_schedule/crash-...) or any input of it.
    artifact: PathBuf,
    /// The planted bugs the fuzzer ran with (repeatable; default: what PAYFAULT_BUGS names).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<Bug>,
    /// Where the scenario file goes (default: scenarios/found, or reports/found with a bug on).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where its report goes.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Most candidate runs while shrinking.
    #[arg(long, default_value_t = 600)]
    shrink_runs: usize,
}

pub fn from_fuzz(args: &FromFuzzArgs) -> Result<ExitCode> {
    let bytes =
        std::fs::read(&args.artifact).with_context(|| format!("reading {}", args.artifact.display()))?;
    let bugs = if args.bugs.is_empty() {
        bugs_from_env().map_err(anyhow::Error::msg)?.iter().collect()
    } else {
        Bug::unique(&args.bugs)
    };
    let case = Schedule::from_bytes(&bytes);
    let finding = match schedule::check(&case, &Bugs::of(bugs.iter().copied())) {
        Ok(run) => {
            println!(
                "{}: seed {} trace {} PASS: this input does not fail{}",
                args.artifact.display(),
                run.seed,
                run.trace_hash,
                if bugs.is_empty() {
                    format!(" (no planted bug on: give the fuzzer's --bug or {BUGS_VAR})")
                } else {
                    String::new()
                }
            );
            return Ok(ExitCode::from(1));
        }
        Err(finding) => finding,
    };
    println!("{}: {finding}", args.artifact.display());
    let out_dir = args.out.clone().unwrap_or_else(|| default_out_dir(&bugs));
    let file_name = args
        .artifact
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let replay = format!(
        "Found by fuzzing: rerun the input with: payfault from-fuzz {}{}.",
        args.artifact.display(),
        bugs.iter()
            .map(|bug| format!(" --bug {}", bug.name()))
            .collect::<String>()
    );
    let plan = case.plan(&Bugs::of(bugs.iter().copied()));
    let Some(invariant) = finding.invariant() else {
        // A panic has no invariant to shrink on: keep the whole run.
        let name = format!("fuzz-{}-panic", case.seed);
        let header = Header {
            name: name.clone(),
            incident: 'C',
            description: format!(
                "The sim_schedule input {file_name} makes the harness fail: {finding}. {replay}"
            ),
            bugs: bugs.clone(),
        };
        let text = write(&plan, &header).map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
        let path = out_dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "not shrunk (no invariant to shrink on); scenario: {}",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let origin = Origin {
        name: format!(
            "fuzz-{}-{}{}",
            case.seed,
            invariant.name(),
            bugs.iter()
                .map(|bug| format!("-with-{}", bug.name()))
                .collect::<String>()
        ),
        found_by: format!(
            "payfault fuzz (sim_schedule, input {file_name}, seed {})",
            case.seed
        ),
        replay,
    };
    let budget = Budget {
        runs_max: args.shrink_runs,
        ..Budget::default()
    };
    let found = shrink_plan(
        &plan,
        &origin,
        &bugs,
        invariant,
        budget,
        &out_dir,
        &args.report_dir,
    )
    .map_err(anyhow::Error::msg)?;
    println!(
        "shrunk from {} to {} in {} runs; scenario: {} (trace {}); report: {}",
        found.before,
        found.after,
        found.shrink_runs,
        found.path.display(),
        found.trace_hash,
        found.report_path.display()
    );
    println!("replay: payfault run {}", found.path.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct FuzzCorpusArgs {
    /// Where the corpora go: one folder per target.
    #[arg(long, default_value = "fuzz/corpus")]
    out: PathBuf,
    /// Exploration seeds to turn into sim_schedule inputs.
    #[arg(long, default_value_t = 200)]
    seeds: u64,
    /// The scenario library, for scenario_parse.
    #[arg(long, default_value = "scenarios")]
    library: Vec<PathBuf>,
}

pub fn fuzz_corpus(args: &FuzzCorpusArgs) -> Result<ExitCode> {
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let schedules = args.out.join("sim_schedule");
    for seed in 0..args.seeds {
        write_input(
            &schedules,
            &format!("seed-{seed:06}"),
            &Schedule::of_seed(seed).to_bytes(),
        )?;
    }
    let texts = args.out.join("scenario_parse");
    let files = payfault::scenario::find_files(&args.library).map_err(anyhow::Error::msg)?;
    for file in &files {
        let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let stem = file
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        write_input(&texts, &stem, &text)?;
    }
    println!(
        "{} sim_schedule inputs, {} scenario_parse inputs under {}",
        args.seeds,
        files.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_input(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

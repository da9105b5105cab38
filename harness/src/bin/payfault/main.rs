//! The `payfault` command line: a thin layer over the library.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use payfault::node::Bug;
use payfault::{report, scenario, wire};
use progress::Progress;

mod coverage;
mod fuzz;
mod progress;

/// Deterministic fault-injection harness for card payments.
///
/// payfault runs a POS terminal, a payment switch and a bank together on a
/// simulated network, breaks things on purpose, and proves that no money was
/// lost or moved twice.
#[derive(Debug, Parser)]
#[command(name = "payfault", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  payfault run                      run every scenario under scenarios/\n  payfault wire decode --hex < msg.hex\n  echo '{\"t\":\"0800\",\"7\":\"1122093000\",\"11\":\"000001\",\"70\":\"301\"}' | payfault wire encode --hex"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files (default: every *.toml under scenarios/).
    #[command(
        after_help = "Exit status: 0 when every scenario passes, 1 when any fails, 2 on bad input.\n\nExamples:\n  payfault run\n  payfault run scenarios/c --bug switch-no-dedupe\n  payfault run scenarios/a/refund-retry.toml --seed 7 --json"
    )]
    Run(RunArgs),
    /// Encode and decode ISO 8583 messages (pyiso8583's default layout).
    #[command(subcommand)]
    Wire(WireCommand),
    /// List every named crash point a fault plan can crash a host at.
    CrashPoints,
    /// List the coverage marks, or count how often seeds and the library hit each.
    #[command(
        after_help = "A mark names a situation in node code, the world or the checker (docs/coverage.md). Without
--seeds or --library: the catalogue. Exit status: 0, or 1 with --require when a mark was never hit (those listed as not reached yet, with
their reasons, excepted).

Examples:
  payfault coverage
  payfault coverage --seeds 4000 --library scenarios
  payfault coverage --seeds 500 --require"
    )]
    Coverage(coverage::CoverageArgs),
    /// Run each generated seed twice and compare the trace hashes.
    Determinism {
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
    /// Rerun one generated seed and print its report and verdict.
    #[command(
        after_help = "Prints the seed's report (verdict, customer view, balances, faults, what happened) and writes its\nfolder REPORT_DIR/seed-SEED/ (index.html, report.md, summary.json, trace.jsonl).\nExit status: 0 when the seed passes, 1 when it fails.\n\nExamples:\n  payfault replay 157\n  payfault replay 203 --bug void-after-settlement --scenario seed-203.toml"
    )]
    Replay {
        /// The seed.
        seed: u64,
        /// Switch a planted bug on (repeatable).
        #[arg(long = "bug")]
        bugs: Vec<Bug>,
        /// Also write the seed's whole run (not shrunk) as a scenario file.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Where the report goes.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
    },
    /// Run generated seeds (random topology, workload and swarm faults) and check each.
    #[command(
        after_help = "Each failing seed is printed with the command that replays it; the first --shrink failures are shrunk\nto a scenario file that replays the failure exactly. Exit status: 0 when no seed fails, 1 when any does,\n2 on bad input.\n\nExamples:\n  payfault explore --seeds 1000\n  payfault explore --time 60s --jobs 2\n  payfault explore --seeds 100000 --shard 2/4\n  payfault explore --seeds 500 --bug refund-bound-unchecked"
    )]
    Explore(ExploreArgs),
    /// Measure how well the harness catches bugs: each planted bug against the library and exploration.
    #[command(
        after_help = "For each planted bug: the library scenarios that fail with it on, then exploration until its first\nfailure or the budget, shrunk to a scenario file; then the correct system on the same library and\nseeds (the false-alarm check). Exit status: 0 when every bug is caught by both and nothing fails\nwithout a bug, 1 otherwise, 2 on bad input.\n\nExamples:\n  payfault mutants\n  payfault mutants --budget 10s --json\n  payfault mutants --bug void-after-settlement"
    )]
    Mutants(MutantsArgs),
    /// Turn a sim_schedule fuzz input into a shrunk scenario file and its report.
    #[command(
        after_help = "Reruns the input (planted bugs from --bug or PAYFAULT_BUGS), shrinks its first violated invariant as\nexploration does, and writes a scenario file that replays it and its report. Exit status: 0 when the\ninput fails and its scenario was written, 1 when it does not fail, 2 on bad input.\n\nExamples:\n  payfault from-fuzz fuzz/artifacts/sim_schedule/crash-3f2a...\n  payfault from-fuzz crash-3f2a --bug switch-no-dedupe --out scenarios/found"
    )]
    FromFuzz(fuzz::FromFuzzArgs),
    /// Write seed corpora for the fuzz targets (from exploration seeds and the scenario library).
    #[command(
        after_help = "Examples:\n  payfault fuzz-corpus\n  payfault fuzz-corpus --seeds 1000 --out /tmp/corpus"
    )]
    FuzzCorpus(fuzz::FuzzCorpusArgs),
    /// List the planted bugs that `--bug NAME` can switch on.
    Bugs {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure the harness's speed on this machine (seeds/s, simulated time, overhead, memory).
    #[command(
        after_help = "Runs the library once, the default exploration profile on every core and on one, and a stream of\nsales through the nodes stepped directly (the protocol's own cost). Figures depend on the machine;\ndocs/performance.md records them.\n\nExamples:\n  payfault bench\n  payfault bench --seeds 2000 --json"
    )]
    Bench {
        /// Seeds of the default profile for each exploration figure.
        #[arg(long, default_value_t = 1_000)]
        seeds: u64,
        /// Workers for the all-core figure (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// The scenario library to time.
        #[arg(long, default_value = "scenarios")]
        library: Vec<PathBuf>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct ExploreArgs {
    /// How many seeds (default 100 unless --time is given).
    #[arg(long)]
    seeds: Option<u64>,
    /// Stop starting seeds after this long ("60s", "10m"); with --seeds, whichever ends first.
    #[arg(long, value_parser = parse_duration)]
    time: Option<std::time::Duration>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Worker threads, each running one seed at a time (default: every core). Results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N of the seed range (seeds start+K-1, start+K-1+N, ...), for CI matrices.
    #[arg(long, value_name = "K/N")]
    shard: Option<payfault::explore::Shard>,
    /// Switch a planted bug on (repeatable; `payfault bugs`).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<Bug>,
    /// Shrink the first N failures to scenario files (0: none).
    #[arg(long, default_value_t = 1, value_name = "N")]
    shrink: usize,
    /// Most candidate runs per shrink.
    #[arg(long, default_value_t = 600)]
    shrink_runs: usize,
    /// Where shrunk scenarios go (default scenarios/found/, or reports/found/ when a planted bug is on:
    /// a planted bug's failure is a measurement, not a regression to keep).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the reports of shrunk scenarios go (a folder each, and index.html listing them).
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Stop at the first failing seed.
    #[arg(long)]
    first_failure: bool,
    /// Print how often each coverage mark was hit (the never-hit ones are printed anyway).
    #[arg(long)]
    coverage: bool,
    /// Exit 1 naming every coverage mark the seeds never hit (but those listed as not reached yet).
    #[arg(long)]
    require_coverage: bool,
}

#[derive(Debug, clap::Args)]
struct MutantsArgs {
    /// Exploration wall time per bug before it counts as escaped ("30s").
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    budget: std::time::Duration,
    /// Only these bugs (repeatable; default: the whole catalogue).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<Bug>,
    /// The scenario library.
    #[arg(long, default_value = "scenarios")]
    library: Vec<PathBuf>,
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Most candidate runs per shrink.
    #[arg(long, default_value_t = 600)]
    shrink_runs: usize,
    /// Where the shrunk first failures go.
    #[arg(long, default_value = "reports/mutants")]
    out: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    payfault::scenario::parse::parse_duration_ms(text).map(std::time::Duration::from_millis)
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files or folders (folders are searched for *.toml).
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Run with this seed instead of each file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Switch a planted bug on in every node (repeatable; `payfault bugs`).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<Bug>,
    /// Where to write the reports: a folder per scenario (index.html, report.md, summary.json,
    /// trace.jsonl) and index.html listing them all.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Print one JSON object per scenario on stdout instead of lines.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum WireCommand {
    /// Read one raw message on stdin, print its fields as one JSON object.
    #[command(after_help = "Example:\n  printf '%s' 08002220000000000000... | payfault wire decode --hex")]
    Decode {
        /// Read hex text instead of raw bytes (whitespace is ignored).
        #[arg(long)]
        hex: bool,
        /// The input is a frame with a 2-byte length header.
        #[arg(long)]
        framed: bool,
    },
    /// Read one JSON object on stdin, write the encoded message on stdout.
    #[command(
        after_help = "Example:\n  echo '{\"t\":\"0800\",\"7\":\"1122093000\",\"11\":\"000001\",\"70\":\"301\"}' | payfault wire encode --hex"
    )]
    Encode {
        /// Write uppercase hex text instead of raw bytes.
        #[arg(long)]
        hex: bool,
        /// Prefix the message with its 2-byte length header.
        #[arg(long)]
        framed: bool,
    },
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Wire(WireCommand::Decode { hex, framed }) => wire_decode(hex, framed),
        Command::Wire(WireCommand::Encode { hex, framed }) => wire_encode(hex, framed),
        Command::Bugs { json } => list_bugs(json),
        Command::Bench {
            seeds,
            jobs,
            library,
            json,
        } => bench(seeds, jobs, library, json),
        Command::Explore(args) => explore(&args),
        Command::Mutants(args) => mutants(&args),
        Command::Replay {
            seed,
            bugs,
            scenario,
            report_dir,
        } => replay(seed, &bugs, scenario.as_deref(), &report_dir),
        Command::Determinism { seeds, start } => determinism(start, seeds),
        Command::Coverage(args) => coverage::coverage(&args),
        Command::FromFuzz(args) => fuzz::from_fuzz(&args),
        Command::FuzzCorpus(args) => fuzz::fuzz_corpus(&args),
        Command::CrashPoints => {
            for (kind, point) in payfault::node::all_crash_points() {
                println!("{point:<45} {kind}");
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Die quietly when the reader of our output goes away (`payfault replay 7 |
/// head`), as command-line tools do, instead of panicking on a closed pipe.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn color_stream(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn run(args: &RunArgs) -> Result<ExitCode> {
    let library = scenario::Library::load(&args.paths).map_err(anyhow::Error::msg)?;
    if library.scenarios.is_empty() && library.invalid.is_empty() {
        println!(
            "no scenarios found under {}; nothing to run",
            display_paths(&args.paths)
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Nothing runs unless every file validates.
    if !library.invalid.is_empty() {
        let mut invalid = Vec::new();
        for (file, error) in &library.invalid {
            match error {
                scenario::LoadError::Invalid(errors) => {
                    eprint!("{}", errors.render(color_stream(&std::io::stderr())))
                }
                other => eprintln!("error: {other}"),
            }
            invalid.push((file.display().to_string(), error.to_string()));
        }
        eprintln!(
            "{} of {} scenario files do not validate; nothing was run",
            invalid.len(),
            library.scenarios.len() + invalid.len()
        );
        if let Some(path) = &args.junit {
            std::fs::write(path, report::junit(&[], &invalid))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(ExitCode::from(2));
    }
    let scenarios = library.scenarios;
    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| format!("creating {}", args.report_dir.display()))?;
    let options = payfault::run::ScenarioOptions {
        seed: args.seed,
        bugs: Bug::unique(&args.bugs),
    };
    let color = color_stream(&std::io::stdout());
    let started = std::time::Instant::now();
    let mut reports = Vec::new();
    let mut never_fired = 0;
    let mut stdout = std::io::stdout().lock();
    for loaded in &scenarios {
        let report = payfault::run::scenario(loaded, &options)?;
        report::write_folder(&args.report_dir, &report)?;
        if args.json {
            writeln!(stdout, "{}", report.json())?;
        } else {
            writeln!(stdout, "{}", report.line(color))?;
            if !report.passed {
                write!(stdout, "{}", report.failure_text())?;
            }
        }
        stdout.flush()?;
        // A fault that never fired tested nothing: the file does not do
        // what it says (docs/scenarios.md).
        for fault in report.never_fired() {
            never_fired += 1;
            eprintln!(
                "warning: scenario {}: fault never fired: {}",
                report.name, fault.fault
            );
        }
        reports.push(report);
    }
    let listed: Vec<&report::ScenarioReport> = reports.iter().collect();
    report::write_index(&args.report_dir, "payfault run", &listed)?;
    let failed = reports.iter().filter(|report| !report.passed).count();
    if !args.json {
        let warned = match never_fired {
            0 => String::new(),
            1 => "; warning: 1 fault never fired".to_string(),
            n => format!("; warning: {n} faults never fired"),
        };
        writeln!(
            stdout,
            "{} scenarios: {} passed, {} failed in {:.1}s; reports in {}{warned}",
            reports.len(),
            reports.len() - failed,
            failed,
            started.elapsed().as_secs_f64(),
            args.report_dir.display()
        )?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&reports, &[]))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_bugs(json: bool) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    if !json {
        writeln!(stdout, "{:<30} {:<8} WHAT GOES WRONG", "BUG", "INCIDENT")?;
    }
    for bug in Bug::ALL {
        if json {
            let line = serde_json::json!({
                "name": bug.name(),
                "incident": bug.incident().to_string(),
                "summary": bug.summary(),
            });
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(
                stdout,
                "{:<30} {:<8} {}",
                bug.name(),
                bug.incident(),
                bug.summary()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn explore(args: &ExploreArgs) -> Result<ExitCode> {
    use payfault::explore::{self, found, shrink, ExploreOptions, Shard};
    let bugs = Bug::unique(&args.bugs);
    let options = ExploreOptions {
        start: args.start,
        seeds: ExploreOptions::seed_count(args.seeds, args.time),
        time_limit: args.time,
        jobs: args.jobs.unwrap_or_else(explore::default_jobs),
        shard: args.shard.unwrap_or(Shard::ALL),
        bugs: payfault::node::Bugs::of(bugs.iter().copied()),
        stop_at_first_failure: args.first_failure,
    };
    let shard_text = args
        .shard
        .map(|shard| format!(", shard {}/{}", shard.index + 1, shard.count))
        .unwrap_or_default();
    let bug_text: String = bugs.iter().map(|bug| format!(" --bug {}", bug.name())).collect();
    println!(
        "exploring from seed {}{}{shard_text} on {} workers{}",
        options.start,
        options
            .seeds
            .map(|seeds| format!(", {seeds} seeds"))
            .unwrap_or_default(),
        options.jobs,
        if bugs.is_empty() {
            String::new()
        } else {
            format!(", with{bug_text}")
        },
    );
    let progress = Progress::new(options.seeds_to_run());
    let summary = explore::explore(&options, |outcome| {
        progress.seed(outcome.verdict.passed());
        if let Some(invariant) = outcome.first_violation() {
            let violated: Vec<String> = outcome.verdict.violated().iter().map(|v| v.to_string()).collect();
            progress.println(format!(
                "FAIL seed {} trace {} violates {}\n  replay: {}",
                outcome.seed,
                outcome.trace_hash,
                violated.join(", "),
                found::replay_command(outcome.seed, &bugs)
            ));
            for violation in outcome
                .verdict
                .violations
                .iter()
                .filter(|v| v.invariant == invariant)
                .take(2)
            {
                progress.println(format!("  {violation}"));
            }
        }
    })?;
    progress.finish();
    println!(
        "{} seeds, {} failed, {} operations, {:.1} simulated s in {:.1} s wall: {:.1} seeds/s, {:.0} operations/s{}",
        summary.seeds,
        summary.failures.len(),
        summary.operations,
        summary.simulated_ms as f64 / 1000.0,
        summary.wall.as_secs_f64(),
        summary.seeds_per_second(),
        summary.operations as f64 / summary.wall.as_secs_f64().max(1e-9),
        if summary.timed_out { " (time limit)" } else { "" }
    );
    let covered = coverage::explored(&summary, args.coverage, args.require_coverage);
    if let Some(first) = summary.failures.first() {
        println!(
            "first failure: seed {} after {} seeds",
            first.seed,
            options.position_of(first.seed)
        );
    }
    let out = args.out.clone().unwrap_or_else(|| found::default_out_dir(&bugs));
    let budget = shrink::Budget {
        runs_max: args.shrink_runs,
        ..shrink::Budget::default()
    };
    let mut shrunk = Vec::new();
    for failure in summary.failures.iter().take(args.shrink) {
        let Some(invariant) = failure.first_violation() else {
            continue;
        };
        let began = std::time::Instant::now();
        match found::shrink_seed(failure.seed, &bugs, invariant, budget, &out, &args.report_dir) {
            Ok(found) => {
                println!(
                "shrunk seed {} ({invariant}): {} -> {} in {} runs, {:.1} s\n  scenario: {}\n  report:   {}\n  replay:   payfault run {}",
                found.seed,
                found.before,
                found.after,
                found.shrink_runs,
                began.elapsed().as_secs_f64(),
                found.path.display(),
                    found.report_path.display(),
                    found.path.display()
                );
                shrunk.push(found.report);
            }
            Err(error) => println!("could not shrink seed {}: {error}", failure.seed),
        }
    }
    if !shrunk.is_empty() {
        let listed: Vec<&report::ScenarioReport> = shrunk.iter().collect();
        let index = report::write_index(&args.report_dir, "payfault explore: shrunk failures", &listed)?;
        println!("reports of the shrunk failures: {}", index.display());
    }
    Ok(if summary.failures.is_empty() {
        covered
    } else {
        ExitCode::from(1)
    })
}

fn mutants(args: &MutantsArgs) -> Result<ExitCode> {
    use payfault::mutants::{self, MutantsOptions};
    let library = mutants::load_library(&args.library).map_err(anyhow::Error::msg)?;
    let bugs = if args.bugs.is_empty() {
        Bug::ALL.to_vec()
    } else {
        Bug::unique(&args.bugs)
    };
    let options = MutantsOptions {
        bugs,
        budget: args.budget,
        jobs: args.jobs.unwrap_or_else(payfault::explore::default_jobs).max(1),
        library,
        shrink_runs: args.shrink_runs,
        out_dir: args.out.clone(),
        report_dir: args.out.clone(),
    };
    if !args.json {
        println!(
            "{} planted bugs against {} library scenarios and up to {:.0} s of exploration each, on {} workers",
            options.bugs.len(),
            options.library.len(),
            options.budget.as_secs_f64(),
            options.jobs
        );
    }
    let report = mutants::measure(&options, |result| {
        if !args.json {
            let explored = match &result.first_failure {
                Some(first) => format!(
                    "seed {} after {} seeds, {:.1} s ({})",
                    first.seed,
                    first.seeds_to_failure,
                    first.wall_ms as f64 / 1000.0,
                    first.invariant
                ),
                None => format!("ESCAPED {} seeds", result.seeds_run),
            };
            eprintln!(
                "{:<28} library {:>2} failing, exploration {explored}",
                result.bug.name(),
                result.library.len()
            );
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("\n{}", report.table());
        println!(
            "in {:.1} s; shrunk first failures in {}",
            report.wall_ms as f64 / 1000.0,
            args.out.display()
        );
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn bench(seeds: u64, jobs: Option<usize>, library: Vec<PathBuf>, json: bool) -> Result<ExitCode> {
    use payfault::bench::{measure, BenchOptions};
    if seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let options = BenchOptions {
        seeds,
        jobs: jobs.unwrap_or_else(payfault::explore::default_jobs).max(1),
        library,
        ..BenchOptions::default()
    };
    let report = measure(&options)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}

fn determinism(start: u64, seeds: u64) -> Result<ExitCode> {
    let bugs = payfault::node::Bugs::none();
    let mut differing = 0;
    for seed in start..start + seeds {
        let (first, second) = payfault::explore::run_twice(seed, &bugs)?;
        println!("seed {seed} trace {first} {second}");
        if first != second {
            differing += 1;
            eprintln!("NONDETERMINISTIC: seed {seed} gave {first} then {second}");
        }
    }
    println!("{seeds} seeds run twice, {differing} with differing traces");
    Ok(if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn replay(
    seed: u64,
    bugs: &[Bug],
    scenario_out: Option<&std::path::Path>,
    report_dir: &std::path::Path,
) -> Result<ExitCode> {
    use payfault::explore::found::report_seed;
    use payfault::scenario::write::{write, Header};
    let bugs = Bug::unique(bugs);
    let (plan, report) = report_seed(seed, &bugs)?;
    let name = report.name.clone();
    print!("{}", report.markdown(false));
    let report_path = report::write_folder(report_dir, &report)?.join("index.html");
    if let Some(path) = scenario_out {
        let header = Header {
            name: name.clone(),
            incident: payfault::explore::found::SEED_INCIDENT,
            description: report.description.clone(),
            bugs: bugs.clone(),
        };
        let text = write(&plan, &header).map_err(anyhow::Error::msg)?;
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
        println!("\nscenario: {}", path.display());
    }
    println!(
        "\nseed {seed} trace {} {}; report: {}",
        report.trace_hash,
        if report.passed { "PASS" } else { "FAIL" },
        report_path.display()
    );
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading standard input")?;
    Ok(input)
}

fn wire_decode(hex_input: bool, framed: bool) -> Result<ExitCode> {
    let input = read_stdin()?;
    let mut bytes = if hex_input {
        let text: String = String::from_utf8_lossy(&input).split_whitespace().collect();
        hex::decode(&text).context("the input is not hex (use --hex only for hex text)")?
    } else {
        input
    };
    if framed {
        let mut reader = wire::FrameReader::new();
        reader.push(&bytes);
        bytes = match reader.next_frame()? {
            Some(frame) => frame,
            None => {
                reader.finish()?;
                bail!("no frame in the input");
            }
        };
        if reader.buffered() > 0 {
            bail!("{} bytes after the first frame", reader.buffered());
        }
    }
    let message = wire::decode(&bytes)?;
    let json = serde_json::Value::Object(wire::json::to_json(&message));
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn wire_encode(hex_output: bool, framed: bool) -> Result<ExitCode> {
    let input = read_stdin()?;
    let value: serde_json::Value = serde_json::from_slice(&input).context("the input is not JSON")?;
    let message = wire::json::from_json(&value)?;
    let mut bytes = wire::encode(&message)?;
    if framed {
        bytes = wire::encode_frame(&bytes)?;
    }
    let mut stdout = std::io::stdout().lock();
    if hex_output {
        writeln!(stdout, "{}", hex::encode_upper(&bytes))?;
    } else {
        stdout.write_all(&bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}

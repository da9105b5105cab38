//! Reports of runs: plain data ([`ScenarioReport`]) rendered as an HTML
//! page, Markdown, JSON, the trace as JSON lines, and JUnit XML. A report
//! is built from the history, the verdict and the trace
//! ([`ScenarioReport::build`], with the view of [`view`] and the picture of
//! [`timeline`]); rendering reads nothing else. A generated seed is
//! reported the same way as a scenario file, without becoming one first.
//!
//! Each run gets a folder ([`write_folder`]): `index.html` (the page:
//! verdict, sequence diagram, customer view, balances over time),
//! `report.md` (the same story in text), `summary.json` and `trace.jsonl`
//! (every event); [`write_index`] lists the runs of one command in
//! `index.html` beside the folders.

mod folder;
mod html;
mod markdown;
mod svg;
pub mod timeline;
pub mod view;

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::{Verdict, Violation};
use crate::history::History;
use crate::node::Bug;
use crate::sim::trace::{Event, Trace};
use crate::sim::FaultTally;

pub use folder::{folder_name, write_folder, write_index, FILES};
pub use timeline::Timeline;
pub use view::{format_minor, Label, Labels};

/// What a report says about where its run came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The run's name (a scenario's, or `seed-N`).
    pub name: String,
    /// The file it came from, or how it was made.
    pub file: String,
    /// Incident class, `A` to `E`.
    pub incident: char,
    /// What it replays or shows.
    pub description: String,
    /// The command that replays it.
    pub replay: String,
}

/// The evidence of one checked run, as the report reads it.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The run's seed.
    pub seed: u64,
    /// Planted bugs the nodes ran with.
    pub bugs: &'a [Bug],
    /// The history.
    pub history: &'a History,
    /// The checker's verdict on it.
    pub verdict: &'a Verdict,
    /// The trace (its events, if kept).
    pub trace: &'a Trace,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
    /// Whether the run went quiet after healing (else: the time limit).
    pub quiescent: bool,
    /// Every fault of the plan and how often it fired.
    pub faults: &'a FaultTally,
}

/// Everything one scenario run shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Incident class.
    pub incident: String,
    /// What it replays.
    pub description: String,
    /// Invariants held and every expectation met.
    pub passed: bool,
    /// The seed the run used.
    pub seed: u64,
    /// Planted bugs switched on.
    pub bugs: Vec<String>,
    /// The trace hash.
    pub trace_hash: String,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
    /// Wall-clock milliseconds (not stable between runs).
    pub wall_ms: u64,
    /// How the run ended: quiescent or time limit.
    pub ending: String,
    /// What every operation showed the customer.
    pub customer_view: Vec<CustomerLine>,
    /// Every account, opening and closing.
    pub balances: Vec<BalanceLine>,
    /// The expectations of the file and whether each was met.
    pub expectations: Vec<ExpectationResult>,
    /// Every fault of the plan and how often it fired.
    pub faults: Vec<FaultLine>,
    /// Violated invariants with their evidence.
    pub violations: Vec<Violation>,
    /// The command that replays this run.
    pub replay: String,
    /// The trace's events (written to `trace.jsonl`, not to the summary).
    #[serde(skip)]
    pub events: Vec<Event>,
    /// The picture of the run (drawn in `index.html`).
    #[serde(skip)]
    pub timeline: Timeline,
}

/// One operation and what its terminal showed.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerLine {
    /// `op3`.
    pub operation: String,
    /// The id in the file.
    pub name: Option<String>,
    /// The terminal.
    pub terminal: String,
    /// When it was asked for.
    pub at_ms: u64,
    /// What was asked.
    pub request: String,
    /// What was shown (every display, in order).
    pub shown: String,
    /// The transaction the terminal shown it under, once it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The same as an HTML id fragment (`TERM0001-000002`).
    #[serde(skip)]
    pub key_id: Option<String>,
}

/// One account.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceLine {
    /// The bank.
    pub bank: String,
    /// The account.
    pub account: String,
    /// Opening balance.
    pub opening: String,
    /// Closing balance.
    pub closing: String,
    /// Closing minus opening.
    pub change: String,
}

/// One fault of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultLine {
    /// The fault in words, e.g. `partition TERM0001 1000..4000 ms`.
    pub fault: String,
    /// How often it fired (0: it tested nothing).
    pub fired: u64,
    /// What one firing is, e.g. `messages acted on`.
    pub counts: String,
}

/// One expectation.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationResult {
    /// What was expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Whether they agree.
    pub met: bool,
}

impl ScenarioReport {
    /// The report of a run: the header, the customer view and balances
    /// from the history (`labels` name the operations of a file), the
    /// expectations as judged, the verdict and the trace. It passes when
    /// every invariant holds, every expectation is met and the run went
    /// quiet.
    pub fn build(
        header: Header,
        evidence: Evidence<'_>,
        labels: &Labels,
        expectations: Vec<ExpectationResult>,
        wall_ms: u64,
    ) -> ScenarioReport {
        let passed = evidence.verdict.passed()
            && expectations.iter().all(|expectation| expectation.met)
            && evidence.quiescent;
        ScenarioReport {
            name: header.name,
            file: header.file,
            incident: header.incident.to_string(),
            description: header.description,
            passed,
            seed: evidence.seed,
            bugs: evidence.bugs.iter().map(|bug| bug.name().to_string()).collect(),
            trace_hash: evidence.trace.hash().to_string(),
            simulated_ms: evidence.simulated_ms,
            wall_ms,
            ending: if evidence.quiescent {
                "quiescent"
            } else {
                "time limit"
            }
            .to_string(),
            customer_view: view::customer_view(evidence.history, labels),
            balances: view::balances(evidence.history),
            expectations,
            faults: evidence
                .faults
                .faults
                .iter()
                .map(|fault| FaultLine {
                    fault: fault.fault.clone(),
                    fired: fault.fired,
                    counts: fault.kind.counts().to_string(),
                })
                .collect(),
            violations: evidence.verdict.violations.clone(),
            replay: header.replay,
            events: evidence.trace.events().to_vec(),
            timeline: Timeline::build(evidence.history, evidence.trace.events()),
        }
    }

    /// The faults of the plan that never fired: the run did not test them.
    pub fn never_fired(&self) -> impl Iterator<Item = &FaultLine> {
        self.faults.iter().filter(|fault| fault.fired == 0)
    }

    /// One summary line: name, PASS/FAIL, seed, trace hash, times.
    pub fn line(&self, color: bool) -> String {
        let verdict = match (self.passed, color) {
            (true, true) => "\x1b[32mPASS\x1b[0m",
            (false, true) => "\x1b[31mFAIL\x1b[0m",
            (true, false) => "PASS",
            (false, false) => "FAIL",
        };
        format!(
            "{verdict} {:<44} seed {:<6} trace {} sim {:>6.1}s wall {:>6.2}s",
            self.name,
            self.seed,
            self.trace_hash,
            self.simulated_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0
        )
    }

    /// What a failure prints: unmet expectations, violations with evidence,
    /// and the replay command.
    pub fn failure_text(&self) -> String {
        let mut out = String::new();
        for expectation in self.expectations.iter().filter(|e| !e.met) {
            let _ = writeln!(
                out,
                "  expectation not met: {} (got: {})",
                expectation.expected, expectation.actual
            );
        }
        for violation in &self.violations {
            let _ = writeln!(out, "  {}", violation.to_string().replace('\n', "\n  "));
        }
        if self.ending != "quiescent" {
            let _ = writeln!(out, "  the run ended at the time limit, not quiescent");
        }
        let _ = writeln!(out, "  replay: {}", self.replay);
        out
    }

    /// The report as Markdown: the same story as the page, in text. Without
    /// wall time it is stable: the same scenario on the same code gives the
    /// same text.
    pub fn markdown(&self, with_wall_time: bool) -> String {
        markdown::markdown(self, with_wall_time)
    }

    /// The page of the run: self-contained HTML.
    pub fn html(&self) -> String {
        html::page(self)
    }

    /// The trace as JSON lines: one event per line.
    pub fn trace_jsonl(&self) -> serde_json::Result<String> {
        let mut out = String::new();
        for event in &self.events {
            out.push_str(&serde_json::to_string(event)?);
            out.push('\n');
        }
        Ok(out)
    }

    /// The report as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JUnit XML document: one test case per scenario, plus input errors.
pub fn junit(reports: &[ScenarioReport], errors: &[(String, String)]) -> String {
    let failures = reports.iter().filter(|r| !r.passed).count();
    let seconds: f64 = reports.iter().map(|r| r.wall_ms as f64 / 1000.0).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"payfault scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" time=\"{seconds:.3}\">",
        reports.len() + errors.len(),
        errors.len()
    );
    for report in reports {
        let _ = write!(
            out,
            "  <testcase classname=\"incident.{}\" name=\"{}\" time=\"{:.3}\"",
            report.incident,
            xml_escape(&report.name),
            report.wall_ms as f64 / 1000.0
        );
        if report.passed {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(
                out,
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                xml_escape(&format!("seed {} trace {}", report.seed, report.trace_hash)),
                xml_escape(&report.failure_text())
            );
        }
    }
    for (file, message) in errors {
        let _ = writeln!(
            out,
            "  <testcase classname=\"input\" name=\"{}\">\n    <error message=\"invalid scenario\">{}</error>\n  </testcase>",
            xml_escape(file),
            xml_escape(message)
        );
    }
    out.push_str("</testsuite>\n");
    out
}

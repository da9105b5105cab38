//! `report.md`: the story of a run in text, for a terminal, a diff or a
//! ticket: the verdict and its violations, what each terminal showed,
//! balances before and after, the faults applied and whether each fired,
//! and what happened in the order it happened (crashes, restarts,
//! partitions, what the proxies did, requests never answered). Every event
//! is in `trace.jsonl`.

use std::fmt::Write as _;

use super::timeline::{Fate, MarkKind, Timeline};
use super::ScenarioReport;

/// At most this many lines of "what happened"; the rest is in the trace.
const STORY_LINES_MAX: usize = 400;

pub(super) fn markdown(report: &ScenarioReport, with_wall_time: bool) -> String {
    let mut out = String::new();
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(out, "# Scenario `{}`: {verdict}\n", report.name);
    let _ = writeln!(out, "Incident {}. {}\n", report.incident, report.description);
    let _ = writeln!(out, "- file: `{}`", report.file);
    let _ = writeln!(out, "- seed: {}", report.seed);
    if !report.bugs.is_empty() {
        let _ = writeln!(out, "- planted bugs: {}", report.bugs.join(", "));
    }
    let _ = writeln!(out, "- trace hash: `{}`", report.trace_hash);
    let _ = writeln!(
        out,
        "- simulated time: {} ms ({})",
        report.simulated_ms, report.ending
    );
    if with_wall_time {
        let _ = writeln!(out, "- wall time: {} ms", report.wall_ms);
    }
    let _ = writeln!(out, "- the page: `index.html`; every event: `trace.jsonl`");
    verdict_section(&mut out, report);
    customer_section(&mut out, report);
    balances_section(&mut out, report);
    faults_section(&mut out, report);
    let _ = writeln!(out, "\n## What happened\n");
    let story = story(&report.timeline);
    let total = story.len();
    for (at_ms, line) in story.into_iter().take(STORY_LINES_MAX) {
        let _ = writeln!(out, "- {at_ms} ms: {line}");
    }
    if total > STORY_LINES_MAX {
        let _ = writeln!(out, "- ... {} more in `trace.jsonl`", total - STORY_LINES_MAX);
    }
    if report.timeline.messages_left_out > 0 {
        let _ = writeln!(
            out,
            "- (the last {} messages of the run are only in `trace.jsonl`)",
            report.timeline.messages_left_out
        );
    }
    let _ = writeln!(out, "\n## Replay\n\n```sh\n{}\n```", report.replay);
    out
}

fn verdict_section(out: &mut String, report: &ScenarioReport) {
    let _ = writeln!(out, "\n## Verdict\n");
    if report.violations.is_empty() {
        let _ = writeln!(out, "Every invariant holds.");
    } else {
        for violation in &report.violations {
            let _ = writeln!(out, "- **{}**: {}", violation.invariant, violation.message);
            for key in &violation.keys {
                let _ = writeln!(out, "  - key {key}");
            }
            for evidence in &violation.evidence {
                let _ = writeln!(out, "  - {evidence}");
            }
        }
    }
    if report.ending != "quiescent" {
        let _ = writeln!(out, "\nThe run ended at the time limit, not quiescent.");
    }
    if !report.expectations.is_empty() {
        let _ = writeln!(out, "\n### Expectations\n");
        for expectation in &report.expectations {
            let mark = if expectation.met { "x" } else { " " };
            let _ = writeln!(
                out,
                "- [{mark}] {} (got: {})",
                expectation.expected, expectation.actual
            );
        }
    }
}

fn customer_section(out: &mut String, report: &ScenarioReport) {
    let _ = writeln!(out, "\n## Customer view\n");
    let _ = writeln!(out, "| op | id | terminal | at | request | shown |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for line in &report.customer_view {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ms | {} | {} |",
            line.operation,
            line.name.as_deref().unwrap_or(""),
            line.terminal,
            line.at_ms,
            line.request,
            line.shown
        );
    }
}

fn balances_section(out: &mut String, report: &ScenarioReport) {
    let _ = writeln!(out, "\n## Balances before and after\n");
    let _ = writeln!(out, "| bank | account | opening | closing | change |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for line in &report.balances {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            line.bank, line.account, line.opening, line.closing, line.change
        );
    }
}

fn faults_section(out: &mut String, report: &ScenarioReport) {
    let _ = writeln!(out, "\n## Faults applied\n");
    if report.faults.is_empty() {
        let _ = writeln!(out, "None.");
        return;
    }
    let _ = writeln!(out, "| fault | fired | counting |");
    let _ = writeln!(out, "|---|---:|---|");
    for fault in &report.faults {
        let never = if fault.fired == 0 { " (never fired)" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {}{never} | {} |",
            fault.fault, fault.fired, fault.counts
        );
    }
}

/// What happened, in order, in words: phases, what was asked and shown,
/// crashes and restarts, partitions, what the proxies did, messages that
/// never arrived and requests never answered. Ordinary deliveries are left
/// out (they are in the diagram and the trace).
pub(super) fn story(timeline: &Timeline) -> Vec<(u64, String)> {
    let lane = |index: usize| timeline.lanes.get(index).map_or("?", String::as_str);
    let mut lines: Vec<(usize, u64, String)> = Vec::new();
    for phase in &timeline.phases {
        lines.push((phase.row, phase.at_ms, format!("phase {}", phase.name)));
    }
    for mark in &timeline.marks {
        let host = lane(mark.lane);
        let text = match &mark.kind {
            MarkKind::Crash { point: Some(point) } => format!("{host} crashes at {point}"),
            MarkKind::Crash { point: None } => format!("{host} crashes (scheduled)"),
            MarkKind::Restart {
                records,
                discarded_bytes,
            } => format!("{host} restarts: {records} records recovered, {discarded_bytes} bytes discarded"),
            MarkKind::Invoke { what } => format!("{host} is asked {what}"),
            MarkKind::Shown { what, .. } => format!("{host} shows {what}"),
            MarkKind::Operator { what } => format!("operator at {host}: {what}"),
            MarkKind::ConnectionCut => {
                format!(
                    "the connection between {host} and the switch ends: the partition lost a message on it"
                )
            }
        };
        lines.push((mark.row, mark.at_ms, text));
    }
    for band in &timeline.bands {
        lines.push((
            band.from_row,
            band.from_ms,
            format!("{} (until {} ms)", band.label, band.to_ms),
        ));
    }
    for arrow in &timeline.arrows {
        let what = format!(
            "{} from {} to {}",
            arrow.summary.label(),
            lane(arrow.from),
            lane(arrow.to)
        );
        let proxy = arrow.proxy.as_deref().unwrap_or("the proxy");
        for fate in &arrow.fates {
            let text = match fate {
                Fate::Dropped => format!("{proxy} drops {what}"),
                Fate::Duplicated { copies } => format!("{proxy} duplicates {what} ({copies} extra)"),
                Fate::Delayed { delay_ms } => format!("{proxy} delays {what} by {delay_ms} ms"),
                Fate::Corrupted { offset } => format!("{proxy} corrupts byte {offset} of {what}"),
            };
            lines.push((arrow.sent_row, arrow.sent_ms, text));
        }
        if let Some(how) = &arrow.injected {
            lines.push((
                arrow.sent_row,
                arrow.sent_ms,
                format!("{proxy} injects {what} ({how})"),
            ));
        }
        let reversal = matches!(arrow.summary.mti.as_str(), "0420" | "0421");
        let refused_answer = arrow.summary.answer_mti().is_none()
            && arrow.summary.response.as_deref().is_some_and(|code| code != "00");
        if (reversal || refused_answer) && arrow.injected.is_none() {
            let verb = if reversal { "reverses" } else { "answers" };
            let why = arrow
                .summary
                .response_words()
                .and_then(|words| Some(format!(" ({}", words.split_once(" (")?.1)))
                .unwrap_or_default();
            lines.push((
                arrow.sent_row,
                arrow.sent_ms,
                format!("{} {verb}: {what}{why}", lane(arrow.from)),
            ));
        }
        if arrow.send_failed {
            lines.push((
                arrow.sent_row,
                arrow.sent_ms,
                format!("{} cannot send {what}: no connection", lane(arrow.from)),
            ));
        } else if arrow.lost() {
            lines.push((arrow.sent_row, arrow.sent_ms, format!("{what} never arrives")));
        }
        if arrow.no_reply {
            if let Some((row, at_ms)) = arrow.arrivals.first() {
                lines.push((*row, *at_ms, format!("{} never answers {what}", lane(arrow.to))));
            }
        }
    }
    lines.sort_by_key(|(row, _, _)| *row);
    lines.into_iter().map(|(_, at_ms, text)| (at_ms, text)).collect()
}

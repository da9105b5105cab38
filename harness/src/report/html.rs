//! The HTML page of one run (`index.html` of its report folder) and the
//! index of all runs (`reports/index.html`), rendered with maud: one
//! self-contained file each, inline CSS and SVG, a few lines of plain
//! JavaScript to highlight a transaction, nothing fetched from anywhere.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::svg;
use super::timeline::{key_id, MESSAGES_MAX};
use super::ScenarioReport;

const CSS: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;padding:0 1.5em 3em;max-width:1400px;color:#1d232b}
h1{font-size:1.5em;margin:.6em 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}
code,pre{font:12.5px ui-monospace,monospace}pre{background:#f4f5f7;padding:.6em .8em;overflow-x:auto}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f4f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .45em;border-radius:4px;color:#fff;font-weight:700}
.pass .badge,.met{background:#1a7f37}.fail .badge,.unmet{background:#cf222e}.met,.unmet{color:#fff;padding:0 .3em;border-radius:3px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:0 1em;margin:.5em 0}dl.meta dt{color:#57606a}dl.meta dd{margin:0}
.violation{border-left:4px solid #cf222e;padding:.2em .8em;margin:.6em 0;background:#fff5f5}
.violation h3{margin:.2em 0;font-size:1em}.key{font-family:ui-monospace,monospace;margin-right:.6em}
.scroll{overflow:auto;max-height:85vh;border:1px solid #ddd}
.legend span{margin-right:1.2em;white-space:nowrap}.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
svg text{font:10px ui-monospace,monospace;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.lane text{font-weight:700;font-size:12px;text-anchor:middle}.lane line{stroke:#8c959f;stroke-width:1.5}
line.down{stroke:#cf222e;stroke-width:4;stroke-dasharray:3 3;opacity:.7}
text.t{text-anchor:end;fill:#57606a}.phase line{stroke:#8250df;stroke-dasharray:6 4}.phase text{fill:#8250df;font-weight:700}
.idle line{stroke:#afb8c1;stroke-dasharray:1 3;stroke-width:2}.idle text{fill:#6e7781;font-style:italic}
.band rect{fill:#d4a72c;opacity:.16}.band text{fill:#9a6700}
.m line,.m path{stroke:#0969da;stroke-width:1.4;fill:none}.m text.l{text-anchor:middle;fill:#0a3069}
.m text.note,.m text.q{text-anchor:middle;fill:#cf222e;font-style:italic}.m path.x{stroke:#cf222e;stroke-width:2.2}
.m path.proxy{fill:#fff;stroke:#57606a;stroke-width:1.2}.m text.badge{fill:#bc4c00;font-weight:700}
.m.dropped line,.m.lost line,.m.failed line{stroke:#cf222e;stroke-dasharray:4 3}
.m.dup line{stroke:#bc4c00}.m.delayed line{stroke:#9a6700}.m.corrupt line{stroke:#bc4c00;stroke-dasharray:2 2}
.m.hostile line{stroke:#8250df;stroke-width:2}.m.hostile text.l{fill:#8250df}
.m line.stub{stroke:#cf222e;stroke-dasharray:2 2}
.mark circle{fill:#57606a}.mark.shown circle{fill:#1a7f37}.mark.shown text{fill:#116329;font-weight:600}
.mark.crash rect{fill:#fff;stroke:#cf222e;stroke-width:2}.mark.crash path{stroke:#cf222e;stroke-width:2}.mark.crash text{fill:#cf222e;font-weight:700}
.mark.restart path{fill:#1a7f37}.mark.restart text{fill:#1a7f37}.mark.invoke text{fill:#57606a}.mark.operator text{fill:#8250df}
.balance-plot{display:block;margin:.3em 0}.balance-plot path.step{stroke:#0969da;stroke-width:2;fill:none}
.balance-plot circle{fill:#0969da}.balance-plot .title{font-weight:700;font-size:11px}.balance-plot line.axis{stroke:#8c959f}
.crashline line{stroke:#cf222e;stroke-width:2}.crashline text{fill:#cf222e}.restartline line{stroke:#1a7f37;stroke-dasharray:3 2}.restartline text{fill:#1a7f37}
[data-k]{cursor:pointer}body.sel [data-k]:not(.hl){opacity:.22}.hl line,.hl path{stroke-width:3}tr.hl{background:#fff8c5}
"#;

/// Clicking anything that carries a transaction key (`data-k`) highlights
/// every message, posting and display of that transaction; clicking it
/// again clears the highlight.
const JS: &str = r#"document.addEventListener('click',function(e){var t=e.target.closest('[data-k]'),b=document.body;
document.querySelectorAll('.hl').forEach(function(n){n.classList.remove('hl')});
if(!t||b.dataset.k===t.dataset.k){b.classList.remove('sel');delete b.dataset.k;return}
b.dataset.k=t.dataset.k;b.classList.add('sel');document.querySelectorAll('[data-k="'+t.dataset.k+'"]').forEach(function(n){n.classList.add('hl')})});"#;

fn verdict_word(passed: bool) -> &'static str {
    if passed {
        "PASS"
    } else {
        "FAIL"
    }
}

fn legend() -> Markup {
    html! {
        p.legend {
            span { i style="background:#0969da" {} "message (MTI, processing, STAN, amount, rc)" }
            span { i style="background:#cf222e" {} "dropped ✕ / never arrived ? / no reply" }
            span { i style="background:#bc4c00" {} "duplicated / corrupted" }
            span { i style="background:#9a6700" {} "delayed (slants)" }
            span { i style="background:#8250df" {} "hostile injection" }
            span { "◇ the fault proxy acted" }
            span { i style="background:#d4a72c;opacity:.5" {} "partition" }
            span { "▭✕ crash · ▲ restart · ● shown / asked" }
        }
    }
}

/// A transaction key, linked to its first message in the diagram; plain
/// when none of its messages is drawn (a long run past the diagram's cap),
/// so that no link goes nowhere.
fn key_link(report: &ScenarioReport, key: &str, id: &str) -> Markup {
    html! {
        @if report.timeline.arrows_of(id).next().is_some() {
            a.key href=(format!("#k-{id}")) data-k=(id) { (key) }
        } @else {
            span.key data-k=(id) title="no message of it is in the diagram: see trace.jsonl" { (key) }
        }
    }
}

fn header(report: &ScenarioReport) -> Markup {
    html! {
        header #verdict class=(if report.passed { "pass" } else { "fail" }) {
            h1 { span.badge { (verdict_word(report.passed)) } " " (report.name) }
            p { "Incident " (report.incident) ". " (report.description) }
            dl.meta {
                dt { "file" } dd { code { (report.file) } }
                dt { "seed" } dd { (report.seed) }
                dt { "trace hash" } dd { code { (report.trace_hash) } }
                dt { "simulated time" } dd { (report.simulated_ms) " ms (" (report.ending) ")" }
                @if !report.bugs.is_empty() {
                    dt { "planted bugs" } dd { (report.bugs.join(", ")) }
                }
            }
        }
    }
}

fn verdict(report: &ScenarioReport) -> Markup {
    let unmet: Vec<_> = report.expectations.iter().filter(|e| !e.met).collect();
    html! {
        section #violations {
            h2 { "Verdict" }
            @if report.violations.is_empty() {
                p.ok { "Every invariant holds." }
            }
            @for violation in &report.violations {
                div.violation {
                    h3 { (violation.invariant) }
                    p { (violation.message) }
                    @if !violation.keys.is_empty() {
                        p.keys {
                            "transactions: "
                            @for key in &violation.keys {
                                (key_link(report, &key.to_string(), &key_id(key)))
                            }
                        }
                    }
                    ul.evidence { @for evidence in &violation.evidence { li { (evidence) } } }
                }
            }
            @if report.ending != "quiescent" {
                p.violation { "The run ended at the time limit, not quiescent." }
            }
            @if !unmet.is_empty() {
                h3 { "Unmet expectations" }
                ul { @for expectation in &unmet { li { (expectation.expected) " (got: " (expectation.actual) ")" } } }
            }
        }
        section #replay {
            h2 { "Replay" }
            pre { code { (report.replay) } }
        }
    }
}

fn diagram(report: &ScenarioReport) -> Markup {
    let timeline = &report.timeline;
    html! {
        section #diagram {
            h2 { "What crossed the network" }
            (legend())
            @if timeline.messages_left_out > 0 {
                p.note { "The diagram shows the first " (MESSAGES_MAX) " messages; "
                    (timeline.messages_left_out) " more are in " a href="trace.jsonl" { "trace.jsonl" } "." }
            }
            div.scroll { (svg::sequence(timeline)) }
        }
    }
}

fn customer(report: &ScenarioReport) -> Markup {
    html! {
        section #customer {
            h2 { "What each terminal showed" }
            table #customer-view {
                thead { tr { th { "op" } th { "id" } th { "terminal" } th { "at" } th { "request" } th { "shown" } th { "transaction" } } }
                tbody {
                    @for line in &report.customer_view {
                        tr data-k=[line.key_id.as_deref()] {
                            td { (line.operation) } td { (line.name.as_deref().unwrap_or("")) } td { (line.terminal) }
                            td.n { (line.at_ms) " ms" } td { (line.request) } td { (line.shown) }
                            td { @if let (Some(key), Some(id)) = (&line.key, &line.key_id) { (key_link(report, key, id)) } }
                        }
                    }
                }
            }
        }
    }
}

fn balances(report: &ScenarioReport) -> Markup {
    let timeline = &report.timeline;
    html! {
        section #balances {
            h2 { "Balances over simulated time" }
            @if timeline.balances.is_empty() {
                p { "No posting moved any account." }
            }
            @for series in &timeline.balances {
                (svg::balance_plot(series, timeline))
            }
            h3 { "Final ledger" }
            table #ledger {
                thead { tr { th { "bank" } th { "account" } th { "opening" } th { "closing" } th { "change" } } }
                tbody {
                    @for line in &report.balances {
                        tr { td { (line.bank) } td { (line.account) } td.n { (line.opening) } td.n { (line.closing) } td.n { (line.change) } }
                    }
                }
            }
        }
    }
}

fn faults(report: &ScenarioReport) -> Markup {
    html! {
        section #faults {
            h2 { "Faults applied" }
            @if report.faults.is_empty() {
                p { "None: the network and every host behaved." }
            } @else {
                table {
                    thead { tr { th { "fault" } th { "fired" } th { "counting" } } }
                    tbody {
                        @for fault in &report.faults {
                            tr { td { (fault.fault) } td.n { (fault.fired) @if fault.fired == 0 { " (never fired)" } } td { (fault.counts) } }
                        }
                    }
                }
            }
            @if !report.expectations.is_empty() {
                h2 { "Expectations" }
                table #expectations {
                    tbody {
                        @for expectation in &report.expectations {
                            tr {
                                td { @if expectation.met { span.met { "met" } } @else { span.unmet { "unmet" } } }
                                td { (expectation.expected) } td { "got: " (expectation.actual) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The head of every page: charset, viewport, `title · payfault`, the
/// inline style sheet.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · payfault" }
            style { (PreEscaped(CSS)) }
        }
    }
}

/// The page of one run: verdict, replay, sequence diagram, customer view,
/// balances, faults.
pub fn page(report: &ScenarioReport) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("{} {}", verdict_word(report.passed), report.name)))
            body {
                (header(report))
                (verdict(report))
                (diagram(report))
                (customer(report))
                (balances(report))
                (faults(report))
                footer {
                    h2 { "Files" }
                    p {
                        a href="report.md" { "report.md" } " · " a href="summary.json" { "summary.json" } " · "
                        a href="trace.jsonl" { "trace.jsonl" } " (every event) · " a href="../index.html" { "all runs" }
                    }
                }
                script { (PreEscaped(JS)) }
            }
        }
    }
    .into_string()
}

/// The index of the runs of one command: verdict, incident, seed, trace
/// hash and a link to each run's folder (`<folder>/index.html`).
pub fn index(title: &str, runs: &[(&ScenarioReport, String)]) -> String {
    let failed = runs.iter().filter(|(report, _)| !report.passed).count();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                h1 { (title) }
                p { (runs.len()) " runs: " (runs.len() - failed) " passed, " (failed) " failed." }
                table #runs {
                    thead { tr { th { "verdict" } th { "run" } th { "incident" } th { "seed" } th { "trace hash" } th { "violations" } th { "files" } } }
                    tbody {
                        @for (report, folder) in runs {
                            tr class=(if report.passed { "pass" } else { "fail" }) {
                                td { span.badge { (verdict_word(report.passed)) } }
                                td { a href=(format!("{folder}/index.html")) { (report.name) } }
                                td { (report.incident) }
                                td.n { (report.seed) }
                                td { code { (report.trace_hash) } }
                                td { (report.violations.iter().map(|v| v.invariant.name()).collect::<Vec<_>>().join(", ")) }
                                td {
                                    a href=(format!("{folder}/report.md")) { "md" } " "
                                    a href=(format!("{folder}/summary.json")) { "json" } " "
                                    a href=(format!("{folder}/trace.jsonl")) { "trace" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

//! The pictures of the HTML page, as inline SVG drawn with maud: the
//! sequence diagram of a [`Timeline`] and the balance step plots on the
//! same time axis.
//!
//! Drawn by hand rather than through a plotting crate: the diagram is not
//! a chart, and the plots must share its compressed time axis (one row per
//! event, idle stretches collapsed) and its fault bands; a few paths and
//! rectangles do that in far fewer bytes than a general plotting backend.

use maud::{html, Markup};

use super::timeline::{Arrow, BalanceSeries, Fate, LaneMark, MarkKind, Timeline};

/// Left margin: the time of each row.
const TIME_W: f64 = 64.0;
/// Horizontal distance between lanes.
const LANE_W: f64 = 190.0;
/// Lane heads.
const TOP: f64 = 44.0;
/// One row per event.
const ROW_H: f64 = 17.0;
/// Extra height of an idle stretch.
const BREAK_H: f64 = 24.0;
/// Room right of the last lane for its marks.
const RIGHT_W: f64 = 240.0;

/// Width and margins of a balance plot.
const PLOT_W: f64 = 760.0;
const PLOT_H: f64 = 120.0;
const PLOT_L: f64 = 92.0;
const PLOT_R: f64 = 96.0;
const PLOT_T: f64 = 22.0;
const PLOT_B: f64 = 16.0;

/// A coordinate with one decimal at most (the page stays small).
fn n(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// Where each row of a timeline sits, top to bottom.
pub struct Axis {
    ys: Vec<f64>,
    bottom: f64,
}

impl Axis {
    /// The axis of `timeline`: a row each, a break for each idle stretch.
    pub fn of(timeline: &Timeline) -> Axis {
        let mut y = TOP + ROW_H;
        let mut ys = Vec::with_capacity(timeline.rows.len());
        for row in &timeline.rows {
            if row.idle_before_ms.is_some() {
                y += BREAK_H;
            }
            ys.push(y);
            y += ROW_H;
        }
        Axis { ys, bottom: y }
    }

    fn y(&self, row: usize) -> f64 {
        self.ys.get(row).copied().unwrap_or(self.bottom)
    }

    /// Position of `row` between 0 (the first row) and 1 (the bottom).
    fn fraction(&self, row: usize) -> f64 {
        let span = (self.bottom - TOP - ROW_H).max(1.0);
        ((self.y(row) - TOP - ROW_H) / span).clamp(0.0, 1.0)
    }
}

fn lane_x(lane: usize) -> f64 {
    TIME_W + LANE_W / 2.0 + lane as f64 * LANE_W
}

fn seconds(ms: u64) -> String {
    if ms >= 1000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

fn arrow_classes(arrow: &Arrow) -> String {
    let mut classes = vec!["m"];
    if arrow.dropped() {
        classes.push("dropped");
    }
    if arrow.lost() {
        classes.push("lost");
    }
    if arrow.send_failed {
        classes.push("failed");
    }
    if arrow.injected.is_some() {
        classes.push("hostile");
    }
    if arrow.no_reply {
        classes.push("noreply");
    }
    for fate in &arrow.fates {
        classes.push(match fate {
            Fate::Dropped => continue,
            Fate::Duplicated { .. } => "dup",
            Fate::Delayed { .. } => "delayed",
            Fate::Corrupted { .. } => "corrupt",
        });
    }
    classes.join(" ")
}

fn arrow_title(arrow: &Arrow) -> String {
    let mut title = format!("{} at {} ms", arrow.summary.raw, arrow.sent_ms);
    if let Some(words) = arrow.summary.response_words() {
        title.push_str(&format!("; rc {words}"));
    }
    for (_, at_ms) in &arrow.arrivals {
        title.push_str(&format!("; arrived at {at_ms} ms"));
    }
    if let Some(proxy) = &arrow.proxy {
        let fates: Vec<String> = arrow.fates.iter().map(Fate::words).collect();
        if !fates.is_empty() {
            title.push_str(&format!("; {} at {proxy}", fates.join(", ")));
        }
    }
    if let Some(how) = &arrow.injected {
        title.push_str(&format!(
            "; hostile injection ({how}) by {}",
            arrow.proxy.as_deref().unwrap_or("proxy")
        ));
    }
    if let Some(arrived) = &arrow.arrived_as {
        title.push_str(&format!("; arrived as: {arrived}"));
    }
    if arrow.send_failed {
        title.push_str("; send failed: no connection");
    }
    if arrow.lost() {
        title.push_str("; never arrived");
    }
    if arrow.no_reply {
        title.push_str("; never answered");
    }
    title
}

/// The words under an arrow's label: what happened to it.
fn arrow_note(arrow: &Arrow) -> Option<String> {
    let mut notes: Vec<String> = arrow.fates.iter().map(Fate::words).collect();
    if let Some(how) = &arrow.injected {
        notes.push(format!("hostile: {how}"));
    }
    if arrow.arrived_as.is_some() {
        notes.push("arrived garbled".to_string());
    }
    if arrow.send_failed {
        notes.push("send failed".to_string());
    }
    if arrow.lost() {
        notes.push("never arrived".to_string());
    }
    (!notes.is_empty()).then(|| notes.join(", "))
}

fn cross(x: f64, y: f64) -> Markup {
    html! {
        path.x d=(format!("M{} {}l8 8m0-8l-8 8", n(x - 4.0), n(y - 4.0))) {}
    }
}

fn draw_arrow(arrow: &Arrow, axis: &Axis, anchor: Option<&str>) -> Markup {
    let x1 = lane_x(arrow.from);
    let x2 = lane_x(arrow.to);
    let y1 = axis.y(arrow.sent_row);
    let direction = if x2 >= x1 { 1.0 } else { -1.0 };
    let proxy_x = (x1 + x2) / 2.0;
    let start_x = if arrow.injected.is_some() { proxy_x } else { x1 };
    let (label_x, label_y, end) = match arrow.arrivals.first() {
        Some((row, _)) => {
            let y2 = axis.y(*row);
            ((start_x + x2) / 2.0, (y1 + y2) / 2.0 - 3.0, Some((x2, y2)))
        }
        None if arrow.send_failed => (x1 + direction * 40.0, y1 - 3.0, None),
        None => (proxy_x, y1 + ROW_H * 0.3 - 3.0, None),
    };
    let key = arrow.summary.key_id();
    html! {
        g class=(arrow_classes(arrow)) data-k=[key.as_deref()] id=[anchor.map(|key| format!("k-{key}"))] {
            title { (arrow_title(arrow)) }
            @for (row, _) in &arrow.arrivals {
                line x1=(n(start_x)) y1=(n(y1)) x2=(n(x2 - direction * 4.0)) y2=(n(axis.y(*row))) marker-end="url(#head)" {}
            }
            @if end.is_none() {
                @if arrow.send_failed {
                    line x1=(n(x1)) y1=(n(y1)) x2=(n(x1 + direction * 24.0)) y2=(n(y1)) {}
                    (cross(x1 + direction * 28.0, y1))
                } @else {
                    line x1=(n(x1)) y1=(n(y1)) x2=(n(proxy_x)) y2=(n(y1 + ROW_H * 0.6)) {}
                    @if arrow.dropped() {
                        (cross(proxy_x, y1 + ROW_H * 0.6))
                    } @else {
                        text.q x=(n(proxy_x + direction * 6.0)) y=(n(y1 + ROW_H * 0.6 + 3.0)) { "?" }
                    }
                }
            }
            @if arrow.proxy.is_some() && (!arrow.fates.is_empty() || arrow.injected.is_some()) {
                @let py = match end {
                    Some((_, y2)) if arrow.injected.is_none() => (y1 + y2) / 2.0,
                    _ => y1 + if end.is_none() { ROW_H * 0.6 } else { 0.0 },
                };
                path.proxy d=(format!("M{} {}l4 4l-4 4l-4-4z", n(proxy_x), n(py - 4.0))) {}
            }
            @if arrow.arrivals.len() > 1 {
                text.badge x=(n(x2 - direction * 14.0)) y=(n(axis.y(arrow.arrivals[1].0) - 4.0)) { "x" (arrow.arrivals.len()) }
            }
            text.l x=(n(label_x)) y=(n(label_y)) { (arrow.summary.label()) }
            @if let Some(note) = arrow_note(arrow) {
                text.note x=(n(label_x)) y=(n(label_y + 11.0)) { (note) }
            }
            @if arrow.no_reply {
                @if let Some((x, y)) = end {
                    line.stub x1=(n(x)) y1=(n(y + 4.0)) x2=(n(x - direction * 34.0)) y2=(n(y + 10.0)) {}
                    text.note x=(n(x - direction * 38.0)) y=(n(y + 13.0)) text-anchor=(if direction > 0.0 { "end" } else { "start" }) { "no reply" }
                }
            }
        }
    }
}

fn mark_text(mark: &LaneMark) -> (String, &'static str) {
    match &mark.kind {
        MarkKind::Crash { point: Some(point) } => (format!("CRASH at {point}"), "crash"),
        MarkKind::Crash { point: None } => ("CRASH (scheduled)".to_string(), "crash"),
        MarkKind::Restart {
            records,
            discarded_bytes: 0,
        } => (format!("restart: {records} records recovered"), "restart"),
        MarkKind::Restart {
            records,
            discarded_bytes,
        } => (
            format!("restart: {records} records recovered, {discarded_bytes} bytes discarded"),
            "restart",
        ),
        MarkKind::Invoke { what } => (format!("asked {what}"), "invoke"),
        MarkKind::Shown { what, .. } => (format!("shows {what}"), "shown"),
        MarkKind::Operator { what } => (format!("operator: {what}"), "operator"),
        MarkKind::ConnectionCut => ("connection cut by the partition".to_string(), "operator"),
    }
}

fn draw_mark(mark: &LaneMark, axis: &Axis) -> Markup {
    let x = lane_x(mark.lane);
    let y = axis.y(mark.row);
    let (text, class) = mark_text(mark);
    let key = match &mark.kind {
        MarkKind::Shown { key, .. } => key.clone(),
        _ => None,
    };
    html! {
        g class=(format!("mark {class}")) data-k=[key.as_deref()] {
            @match class {
                "crash" => { rect x=(n(x - 6.0)) y=(n(y - 6.0)) width="12" height="12" {} (cross(x, y)) }
                "restart" => { path d=(format!("M{} {}l6 10h-12z", n(x), n(y - 6.0))) {} }
                _ => { circle cx=(n(x)) cy=(n(y)) r="3" {} }
            }
            text x=(n(x + 9.0)) y=(n(y + 3.5)) { (text) }
        }
    }
}

/// The sequence diagram of `timeline`.
pub fn sequence(timeline: &Timeline) -> Markup {
    let axis = Axis::of(timeline);
    let width = TIME_W + timeline.lanes.len() as f64 * LANE_W + RIGHT_W;
    let height = axis.bottom + ROW_H;
    // The first message of each transaction is the one a key links to.
    let mut anchored: Vec<String> = Vec::new();
    let anchors: Vec<Option<String>> = timeline
        .arrows
        .iter()
        .map(|arrow| {
            let key = arrow.summary.key_id().filter(|key| !anchored.contains(key))?;
            anchored.push(key.clone());
            Some(key)
        })
        .collect();
    html! {
        svg #sequence xmlns="http://www.w3.org/2000/svg" width=(n(width)) height=(n(height)) viewBox=(format!("0 0 {} {}", n(width), n(height))) role="img" aria-label="sequence diagram" {
            defs {
                marker #head viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path d="M0 0L8 4L0 8z" fill="context-stroke" {}
                }
            }
            @for band in &timeline.bands {
                @let (a, b) = band.lanes;
                @let x = lane_x(a) - 12.0;
                @let y = axis.y(band.from_row) - ROW_H / 2.0;
                g.band {
                    title { (band.label) " from " (band.from_ms) " to " (band.to_ms) " ms" }
                    rect x=(n(x)) y=(n(y)) width=(n(lane_x(b) - lane_x(a) + 24.0)) height=(n((axis.y(band.to_row) - y).max(ROW_H))) {}
                    text x=(n(x + 4.0)) y=(n(y + 11.0)) { (band.label) }
                }
            }
            @for (index, row) in timeline.rows.iter().enumerate() {
                @if let Some(idle) = row.idle_before_ms {
                    @let y = axis.y(index) - ROW_H / 2.0 - BREAK_H / 2.0;
                    g.idle {
                        line x1="0" y1=(n(y)) x2=(n(width)) y2=(n(y)) {}
                        text x=(n(TIME_W + 6.0)) y=(n(y - 3.0)) { "… " (seconds(idle)) " with nothing on the network …" }
                    }
                }
                @if index == 0 || timeline.rows[index - 1].at_ms != row.at_ms {
                    text.t x=(n(TIME_W - 6.0)) y=(n(axis.y(index) + 3.5)) { (row.at_ms) " ms" }
                }
            }
            @for phase in &timeline.phases {
                @let y = axis.y(phase.row);
                g.phase {
                    line x1="0" y1=(n(y)) x2=(n(width)) y2=(n(y)) {}
                    text x=(n(width - 6.0)) y=(n(y - 3.0)) text-anchor="end" { "phase " (phase.name) }
                }
            }
            @for (lane, name) in timeline.lanes.iter().enumerate() {
                @let x = lane_x(lane);
                g.lane {
                    text x=(n(x)) y=(n(TOP - 16.0)) { (name) }
                    line x1=(n(x)) y1=(n(TOP - 8.0)) x2=(n(x)) y2=(n(axis.bottom)) {}
                }
            }
            @for (crash, restart) in down_spans(timeline) {
                @let x = lane_x(crash.lane);
                line.down x1=(n(x)) y1=(n(axis.y(crash.row))) x2=(n(x)) y2=(n(restart.map_or(axis.bottom, |row| axis.y(row)))) {}
            }
            @for (arrow, anchor) in timeline.arrows.iter().zip(&anchors) {
                (draw_arrow(arrow, &axis, anchor.as_deref()))
            }
            @for mark in &timeline.marks {
                (draw_mark(mark, &axis))
            }
        }
    }
}

/// Every crash with the row its host came back in (none: it stayed down).
fn down_spans(timeline: &Timeline) -> Vec<(&LaneMark, Option<usize>)> {
    timeline
        .marks
        .iter()
        .enumerate()
        .filter(|(_, mark)| matches!(mark.kind, MarkKind::Crash { .. }))
        .map(|(index, crash)| {
            let restart = timeline.marks[index..]
                .iter()
                .find(|mark| mark.lane == crash.lane && matches!(mark.kind, MarkKind::Restart { .. }))
                .map(|mark| mark.row);
            (crash, restart)
        })
        .collect()
}

/// One account's balance over the run as a step plot, on the diagram's
/// time axis, with the partitions shaded and its bank's crashes marked.
pub fn balance_plot(series: &BalanceSeries, timeline: &Timeline) -> Markup {
    let axis = Axis::of(timeline);
    let inner_w = PLOT_W - PLOT_L - PLOT_R;
    let x_of_row = |row: usize| PLOT_L + axis.fraction(row) * inner_w;
    let x_of = |at_ms: u64| x_of_row(timeline.row_at(at_ms));
    let values: Vec<i64> = std::iter::once(series.opening_minor)
        .chain(series.steps.iter().map(|step| step.balance_minor))
        .collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let span = (high - low).max(1) as f64;
    let inner_h = PLOT_H - PLOT_T - PLOT_B;
    let y_of = |minor: i64| PLOT_T + (1.0 - (minor - low) as f64 / span) * inner_h;
    let mut path = format!("M{} {}", n(PLOT_L), n(y_of(series.opening_minor)));
    for step in &series.steps {
        path.push_str(&format!(
            "H{}V{}",
            n(x_of(step.at_ms)),
            n(y_of(step.balance_minor))
        ));
    }
    path.push_str(&format!("H{}", n(PLOT_L + inner_w)));
    let crashes: Vec<&LaneMark> = timeline
        .crashes()
        .filter(|mark| series.lane == Some(mark.lane))
        .collect();
    html! {
        svg.balance-plot xmlns="http://www.w3.org/2000/svg" width=(n(PLOT_W)) height=(n(PLOT_H)) viewBox=(format!("0 0 {} {}", n(PLOT_W), n(PLOT_H))) role="img" aria-label=(format!("balance of {} at {}", series.account, series.bank)) {
            text.title x=(n(PLOT_L)) y="13" { (series.bank) " · " (series.account) ": " (series.format(series.opening_minor)) " → " (series.format(series.closing_minor())) }
            @for band in &timeline.bands {
                @let x = x_of_row(band.from_row);
                g.band {
                    title { (band.label) }
                    rect x=(n(x)) y=(n(PLOT_T)) width=(n((x_of_row(band.to_row) - x).max(2.0))) height=(n(inner_h)) {}
                }
            }
            @for mark in &crashes {
                @let x = x_of_row(mark.row);
                @let crash = matches!(mark.kind, MarkKind::Crash { .. });
                g class=(if crash { "crashline" } else { "restartline" }) {
                    title { (mark_text(mark).0) }
                    line x1=(n(x)) y1=(n(PLOT_T - 4.0)) x2=(n(x)) y2=(n(PLOT_T + inner_h)) {}
                    @if crash {
                        text x=(n(x - 3.0)) y=(n(PLOT_T + 8.0)) text-anchor="end" { "crash" }
                    } @else {
                        text x=(n(x + 3.0)) y=(n(PLOT_T + inner_h - 3.0)) { "restart" }
                    }
                }
            }
            line.axis x1=(n(PLOT_L)) y1=(n(PLOT_T + inner_h)) x2=(n(PLOT_L + inner_w)) y2=(n(PLOT_T + inner_h)) {}
            text.t x=(n(PLOT_L - 6.0)) y=(n(y_of(high) + 3.5)) { (series.format(high)) }
            @if high != low {
                text.t x=(n(PLOT_L - 6.0)) y=(n(y_of(low) + 3.5)) { (series.format(low)) }
            }
            path.step d=(path) {}
            @for step in &series.steps {
                @let x = x_of(step.at_ms);
                circle cx=(n(x)) cy=(n(y_of(step.balance_minor))) r="3.5" data-k=[step.key.as_deref()] {
                    title { (step.at_ms) " ms: " (step.what) " " (series.format(step.change_minor)) " → " (series.format(step.balance_minor)) }
                }
            }
            text x=(n(PLOT_L + inner_w + 6.0)) y=(n(y_of(series.closing_minor()) + 3.5)) { (series.format(series.closing_minor())) }
            text.t x=(n(PLOT_L + inner_w)) y=(n(PLOT_H - 3.0)) { (timeline.end_ms) " ms" }
            text.t x=(n(PLOT_L + 20.0)) y=(n(PLOT_H - 3.0)) { "0 ms" }
        }
    }
}

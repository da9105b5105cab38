//! The HTML page of a run (`reports/<name>/index.html`, issue 15), parsed
//! as a browser would (scraper, html5ever) and checked for what it must
//! show: the verdict, the violated invariants with their transactions
//! linked into the diagram, the replay command, the sequence diagram (a
//! lane per host, labelled arrows, what the fault proxies did, crashes at
//! their crash points, partitions, phases), the customer table, the
//! balance plots and the final ledger, the highlight script; that it
//! fetches nothing and stays small; and that a long run's diagram is
//! capped with a note. Runs real library scenarios, one with a planted
//! bug, and two written here (a hostile host, a long run).
//!
//! `payfault run` on the whole library is checked in `report_folders.rs`.

use std::collections::BTreeSet;
use std::path::Path;

use payfault::node::Bug;
use payfault::report::timeline::{key_id, MESSAGES_MAX};
use payfault::report::ScenarioReport;
use payfault::run::ScenarioOptions;
use payfault::scenario;
use payfault::sim::trace::EventKind;
use scraper::{ElementRef, Html, Selector};

/// Run `scenarios/<relative>` with `bugs` switched on.
fn run_library(relative: &str, bugs: &[Bug]) -> ScenarioReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(relative);
    let loaded = scenario::load(&path).unwrap_or_else(|error| panic!("{relative}: {error}"));
    let options = ScenarioOptions {
        seed: None,
        bugs: bugs.to_vec(),
    };
    payfault::run::scenario(&loaded, &options).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// Run a scenario given as text.
fn run_text(file: &str, text: &str) -> ScenarioReport {
    let loaded = scenario::parse(file, text).unwrap_or_else(|error| panic!("{file}: {error}"));
    let options = ScenarioOptions {
        seed: None,
        bugs: Vec::new(),
    };
    payfault::run::scenario(&loaded, &options).unwrap_or_else(|error| panic!("{file}: {error}"))
}

struct Page {
    source: String,
    doc: Html,
}

impl Page {
    fn of(report: &ScenarioReport) -> Page {
        let source = report.html();
        let doc = Html::parse_document(&source);
        Page { source, doc }
    }

    fn all(&self, css: &str) -> Vec<ElementRef<'_>> {
        let selector = Selector::parse(css).unwrap_or_else(|error| panic!("{css}: {error}"));
        self.doc.select(&selector).collect()
    }

    fn one(&self, css: &str) -> ElementRef<'_> {
        let found = self.all(css);
        assert_eq!(
            found.len(),
            1,
            "exactly one `{css}` expected, found {}",
            found.len()
        );
        found[0]
    }

    fn texts(&self, css: &str) -> Vec<String> {
        self.all(css).into_iter().map(text).collect()
    }

    /// The element with `id`, if the page has one.
    fn by_id(&self, id: &str) -> Option<ElementRef<'_>> {
        self.all("[id]")
            .into_iter()
            .find(|element| element.value().id() == Some(id))
    }
}

fn select<'a>(element: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    let selector = Selector::parse(css).unwrap_or_else(|error| panic!("{css}: {error}"));
    element.select(&selector).collect()
}

fn text(element: ElementRef<'_>) -> String {
    element.text().collect::<String>().trim().to_string()
}

fn attr(element: ElementRef<'_>, name: &str) -> f64 {
    let value = element
        .value()
        .attr(name)
        .unwrap_or_else(|| panic!("no {name} on {}", element.html()));
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name}={value} is not a number"))
}

/// The lanes of the diagram: host name and x.
fn lanes(page: &Page) -> Vec<(String, f64)> {
    page.all("svg#sequence g.lane")
        .into_iter()
        .map(|lane| {
            let name = text(select(lane, "text")[0]);
            let x = attr(select(lane, "line")[0], "x1");
            (name, x)
        })
        .collect()
}

fn lane_x(page: &Page, host: &str) -> f64 {
    lanes(page)
        .into_iter()
        .find(|(name, _)| name == host)
        .unwrap_or_else(|| panic!("no lane {host}"))
        .1
}

/// An arrow label: MTI, processing (requests of a sale, refund, ...),
/// STAN, amount, response code. `None` when it does not read so.
#[derive(Debug)]
struct Label {
    mti: String,
    processing: Option<String>,
    amount: Option<String>,
    response: Option<String>,
}

fn read_label(label: &str) -> Option<Label> {
    let mut tokens = label.split(' ').peekable();
    let mti = tokens
        .next()
        .filter(|mti| mti.len() == 4 && mti.bytes().all(|b| b.is_ascii_digit()))?;
    let processing = tokens
        .next_if(|word| word.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_string);
    tokens
        .next()
        .filter(|stan| stan.len() == 6 && stan.bytes().all(|b| b.is_ascii_digit()))?;
    let mut amount = None;
    if let Some(number) = tokens.next_if(|word| word.bytes().all(|b| b.is_ascii_digit() || b == b'.')) {
        let currency = tokens
            .next()
            .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()))?;
        amount = Some(format!("{number} {currency}"));
    }
    let mut response = None;
    if tokens.next_if_eq(&"rc").is_some() {
        response = Some(tokens.next().filter(|code| code.len() == 2)?.to_string());
    }
    tokens.next().is_none().then_some(Label {
        mti: mti.to_string(),
        processing,
        amount,
        response,
    })
}

/// Checks that hold on every page: the sections are there, every arrow is
/// labelled, every in-page link lands on an element, nothing is fetched,
/// the page is small.
fn check_every_page(name: &str, page: &Page) {
    for id in [
        "verdict",
        "violations",
        "replay",
        "diagram",
        "sequence",
        "customer-view",
        "balances",
        "ledger",
    ] {
        assert!(page.by_id(id).is_some(), "{name}: no #{id}");
    }
    let sequence = page.one("section#diagram svg#sequence");
    // Parsed as SVG, not as unknown HTML elements.
    assert_eq!(&*sequence.value().name.ns, "http://www.w3.org/2000/svg");

    // A lane per host: terminals, the switch, banks; proxies are not lanes.
    let hosts: Vec<String> = lanes(page).into_iter().map(|(name, _)| name).collect();
    let switch = hosts
        .iter()
        .position(|host| host == "switch")
        .unwrap_or_else(|| panic!("{name}: no switch lane in {hosts:?}"));
    assert!(
        hosts[..switch].iter().all(|host| host.starts_with("TERM")),
        "{name}: terminals first: {hosts:?}"
    );
    assert!(switch + 1 < hosts.len(), "{name}: no bank lane: {hosts:?}");
    assert!(
        hosts
            .iter()
            .all(|host| !host.starts_with("link-") && !host.contains("proxy")),
        "{name}: a proxy has a lane: {hosts:?}"
    );
    assert_eq!(
        hosts.iter().collect::<BTreeSet<_>>().len(),
        hosts.len(),
        "{name}: a host has two lanes"
    );

    // Every message is an arrow labelled MTI, processing, STAN, amount, rc.
    let arrows = page.all("svg#sequence g.m");
    assert!(!arrows.is_empty(), "{name}: no message drawn");
    for arrow in &arrows {
        let label = text(select(*arrow, "text.l")[0]);
        let read = read_label(&label).unwrap_or_else(|| panic!("{name}: arrow label `{label}`"));
        match read.mti.as_str() {
            "0200" | "0201" => {
                assert!(read.processing.is_some(), "{name}: `{label}` has no processing");
                assert!(read.amount.is_some(), "{name}: `{label}` has no amount");
            }
            "0420" | "0421" => assert!(read.amount.is_some(), "{name}: `{label}` has no amount"),
            "0210" | "0430" | "0510" => {
                assert!(
                    read.response.is_some(),
                    "{name}: answer `{label}` has no response code"
                )
            }
            _ => {}
        }
        assert!(
            !select(*arrow, "title").is_empty(),
            "{name}: `{label}` has no tooltip"
        );
    }

    // Every in-page link lands on an element of the page.
    for link in page.all("a[href^='#']") {
        let target = &link.value().attr("href").unwrap_or_default()[1..];
        assert!(
            page.by_id(target).is_some(),
            "{name}: link #{target} goes nowhere"
        );
    }

    // Self-contained: no stylesheet link, no external script, image or
    // frame, nothing fetched over the network.
    assert!(
        page.all("link, img, iframe, object, embed, script[src]")
            .is_empty(),
        "{name}: a fetched resource"
    );
    for element in page.all("[src], [href], [xlink\\:href]") {
        for (key, value) in element.value().attrs() {
            if matches!(key, "src" | "href" | "xlink:href") {
                assert!(
                    !value.contains("://") && !value.starts_with("//"),
                    "{name}: {key}={value} leaves the page"
                );
            }
        }
    }
    for css in page.texts("style") {
        assert!(
            !css.contains("@import") && !css.contains("url("),
            "{name}: the style sheet fetches"
        );
    }
    let scripts = page.all("script");
    assert_eq!(scripts.len(), 1, "{name}: one inline script");
    let script = text(scripts[0]);
    assert!(
        script.contains("addEventListener('click'")
            && script.contains("[data-k=")
            && script.contains("classList.add('hl')"),
        "{name}: the highlight script: {script}"
    );
    // What it highlights: the elements of a transaction share its data-k.
    assert!(
        !page.all("svg#sequence g.m[data-k]").is_empty(),
        "{name}: no arrow to highlight"
    );
    assert!(
        !page.all("#customer-view tr[data-k]").is_empty(),
        "{name}: no customer row to highlight"
    );
}

#[test]
fn the_crash_mid_refund_page_shows_the_crash_point_the_missing_reply_the_timeout_and_reversal_and_both_balances(
) {
    let report = run_library("b/refund-bank-crash-after-posting.toml", &[]);
    assert!(report.passed);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);

    assert_eq!(
        page.texts("head > title"),
        ["PASS refund-bank-crash-after-posting · payfault"]
    );
    let header = page.one("header#verdict");
    assert_eq!(header.value().attr("class"), Some("pass"));
    assert_eq!(text(select(header, ".badge")[0]), "PASS");
    assert_eq!(page.texts("#violations p.ok"), ["Every invariant holds."]);
    assert!(page.all("#violations div.violation").is_empty());
    let replay = text(page.one("#replay pre code"));
    assert_eq!(replay, report.replay);
    assert!(
        replay.starts_with("payfault run ")
            && replay.ends_with("refund-bank-crash-after-posting.toml --seed 206"),
        "{replay}"
    );

    // The lanes: both built-in terminals, the switch, the bank.
    let hosts: Vec<String> = lanes(&page).into_iter().map(|(name, _)| name).collect();
    assert_eq!(hosts, ["TERM0001", "TERM0002", "switch", "bank-a"]);
    let bank_x = lane_x(&page, "bank-a");

    // The crash, on the bank's lane, at its crash point; the restart after.
    let crash = page.one("svg#sequence g.mark.crash");
    assert_eq!(text(crash), "CRASH at bank.post.after_sync_before_reply");
    let crash_rect = select(crash, "rect")[0];
    assert_eq!(attr(crash_rect, "x") + attr(crash_rect, "width") / 2.0, bank_x);
    assert_eq!(select(crash, "path.x").len(), 1, "the crash is a cross");
    let restart = page.one("svg#sequence g.mark.restart");
    assert!(text(restart).starts_with("restart: "), "{}", text(restart));
    assert!(attr(select(crash, "text")[0], "y") < attr(select(restart, "text")[0], "y"));
    let down = page.one("svg#sequence line.down");
    assert_eq!(attr(down, "x1"), bank_x);

    // The refund reached the bank and its reply never came.
    let unanswered = page.one("svg#sequence g.m.noreply");
    assert_eq!(
        text(select(unanswered, "text.l")[0]),
        "0200 refund 000002 60.00 EUR"
    );
    assert!(select(unanswered, "text.note")
        .iter()
        .any(|note| text(*note) == "no reply"));
    let arrow_line = select(unanswered, "line")[0];
    assert!(attr(arrow_line, "x2") < bank_x && attr(arrow_line, "x2") > lane_x(&page, "switch"));

    // The switch answered the terminal 91 when its bank timer ran out, the
    // reversal went to the bank, the terminal showed the decline.
    let labels = page.texts("svg#sequence g.m text.l");
    let at = |label: &str| {
        labels
            .iter()
            .position(|drawn| drawn == label)
            .unwrap_or_else(|| panic!("no arrow `{label}` in {labels:?}"))
    };
    assert!(at("0200 refund 000002 60.00 EUR") < at("0210 refund 000002 60.00 EUR rc 91"));
    assert!(at("0210 refund 000002 60.00 EUR rc 91") < at("0420 refund 000002 60.00 EUR rc 68"));
    assert!(at("0420 refund 000002 60.00 EUR rc 68") < at("0430 000002 60.00 EUR rc 00"));
    let shown = page.texts("svg#sequence g.mark.shown text");
    assert!(
        shown.contains(&"shows op2: declined 91 (issuer or switch unavailable)".to_string()),
        "{shown:?}"
    );
    let rows: Vec<Vec<String>> = page
        .all("table#customer-view tbody tr")
        .into_iter()
        .map(|row| select(row, "td").into_iter().map(text).collect())
        .collect();
    assert_eq!(rows.len(), report.customer_view.len());
    let refund = rows.iter().find(|row| row[1] == "r1").expect("a row for r1");
    assert_eq!(refund[5], "declined 91 (issuer or switch unavailable)");
    assert_eq!(refund[6], "TERM0001/1122/000002");

    // The phases.
    let phases = page.texts("svg#sequence g.phase text");
    assert_eq!(phases, ["phase faults", "phase heal", "phase quiet", "phase end"]);

    // Both balances over time, the crash and the restart marked on each.
    let plots = page.all("section#balances svg.balance-plot");
    let plotted: Vec<&str> = plots
        .iter()
        .filter_map(|plot| plot.value().attr("aria-label"))
        .collect();
    for account in [
        "balance of card 4111110000000001 at bank-a",
        "balance of merchant MERCHANT0000001 at bank-a",
    ] {
        assert!(plotted.contains(&account), "{account} not plotted: {plotted:?}");
    }
    for plot in &plots {
        assert_eq!(
            select(*plot, "g.crashline").len(),
            1,
            "{:?}",
            plot.value().attr("aria-label")
        );
        assert_eq!(select(*plot, "g.restartline").len(), 1);
        assert_eq!(select(*plot, "path.step").len(), 1);
    }
    let card = plots[plotted
        .iter()
        .position(|label| label.contains("card 4111110000000001"))
        .unwrap()];
    assert_eq!(
        text(select(card, "text.title")[0]),
        "bank-a · card 4111110000000001: 1000.00 EUR → 940.00 EUR"
    );
    // The sale, the refund, its reversal: three steps.
    assert_eq!(select(card, "circle[data-k]").len(), 3);

    // The final ledger.
    let ledger: Vec<Vec<String>> = page
        .all("table#ledger tbody tr")
        .into_iter()
        .map(|row| select(row, "td").into_iter().map(text).collect())
        .collect();
    assert_eq!(ledger.len(), report.balances.len());
    assert!(
        ledger.contains(&vec![
            "bank-a".to_string(),
            "card 4111110000000001".to_string(),
            "1000.00 EUR".to_string(),
            "940.00 EUR".to_string(),
            "-60.00 EUR".to_string()
        ]),
        "{ledger:?}"
    );

    // Every transaction key links to the first message of its transaction.
    for link in page.all("table#customer-view a.key") {
        let target = &link.value().attr("href").unwrap()[1..];
        let arrow = page.by_id(target).unwrap();
        assert_eq!(arrow.value().name(), "g");
        assert!(arrow.value().classes().any(|class| class == "m"));
        assert_eq!(Some(&target[2..]), arrow.value().attr("data-k"));
    }
}

#[test]
fn a_planted_bug_shows_each_violation_with_its_transactions_linked_into_the_diagram() {
    let report = run_library(
        "b/refund-bank-crash-before-sync.toml",
        &[Bug::BankReplyBeforeSync],
    );
    assert!(!report.passed);
    assert!(!report.violations.is_empty());
    let page = Page::of(&report);
    check_every_page(&report.name, &page);

    assert_eq!(page.one("header#verdict").value().attr("class"), Some("fail"));
    assert_eq!(page.texts("header#verdict .badge"), ["FAIL"]);
    assert!(page.texts("head > title")[0].starts_with("FAIL "));
    assert!(page
        .texts("#verdict dd")
        .contains(&"bank-reply-before-sync".to_string()));
    assert!(page.all("#violations p.ok").is_empty());

    let violations = page.all("#violations div.violation");
    assert_eq!(violations.len(), report.violations.len());
    for (drawn, violation) in violations.iter().zip(&report.violations) {
        assert_eq!(text(select(*drawn, "h3")[0]), violation.invariant.name());
        assert_eq!(text(select(*drawn, "p")[0]), violation.message);
        assert_eq!(
            select(*drawn, "ul.evidence li")
                .into_iter()
                .map(text)
                .collect::<Vec<_>>(),
            violation.evidence
        );
        let links = select(*drawn, "a.key");
        assert_eq!(links.len(), violation.keys.len(), "{}", violation.message);
        for (link, key) in links.iter().zip(&violation.keys) {
            assert_eq!(text(*link), key.to_string());
            let href = link.value().attr("href").unwrap();
            let id = format!("k-{}", key_id(key));
            assert_eq!(href, format!("#{id}"));
            // The link lands on a message of that transaction in the diagram.
            let target = page.by_id(&id).unwrap_or_else(|| panic!("{href} goes nowhere"));
            assert!(
                target.value().classes().any(|class| class == "m"),
                "{href} is not a message"
            );
            assert!(
                target
                    .ancestors()
                    .filter_map(ElementRef::wrap)
                    .any(|parent| parent.value().id() == Some("sequence")),
                "{href} is not in the diagram"
            );
            assert_eq!(link.value().attr("data-k"), target.value().attr("data-k"));
        }
    }
    // The acknowledged refund the crash forgot, linked to its messages.
    let durable = violations
        .iter()
        .find(|drawn| text(select(**drawn, "h3")[0]) == "durable-ack")
        .expect("a durable-ack violation");
    let links: Vec<(String, String)> = select(*durable, "a.key")
        .into_iter()
        .map(|link| {
            (
                text(link),
                link.value().attr("href").unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [(
            "TERM0001/1122/000002".to_string(),
            "#k-TERM0001-000002".to_string()
        )]
    );

    // The unmet expectations, and the replay command with the bug.
    let unmet = page.texts("#violations ul:not(.evidence) li");
    let expected_unmet = report.expectations.iter().filter(|e| !e.met).count();
    assert!(expected_unmet > 0);
    assert_eq!(unmet.len(), expected_unmet, "{unmet:?}");
    assert!(
        unmet
            .iter()
            .any(|line| line.starts_with("`r1` shows declined 91")),
        "{unmet:?}"
    );
    let replay = text(page.one("#replay pre code"));
    assert!(
        replay.ends_with("refund-bank-crash-before-sync.toml --seed 208 --bug bank-reply-before-sync"),
        "{replay}"
    );
}

/// The classes of the message arrows of a page.
fn arrow_classes(page: &Page) -> Vec<BTreeSet<String>> {
    page.all("svg#sequence g.m")
        .into_iter()
        .map(|arrow| arrow.value().classes().map(str::to_string).collect())
        .collect()
}

fn arrows_with<'a>(page: &'a Page, class: &str) -> Vec<ElementRef<'a>> {
    page.all(&format!("svg#sequence g.m.{class}"))
}

fn notes(arrow: ElementRef<'_>) -> String {
    select(arrow, "text.note")
        .into_iter()
        .map(text)
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn what_the_fault_proxies_did_is_marked_on_the_arrows() {
    // A dropped message ends in a cross at the proxy, with a diamond.
    let report = run_library("c/approval-lost-reversed.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    let dropped = arrows_with(&page, "dropped");
    assert!(!dropped.is_empty());
    for arrow in &dropped {
        assert_eq!(select(*arrow, "path.x").len(), 1, "a cross: {}", arrow.html());
        assert_eq!(select(*arrow, "path.proxy").len(), 1, "the proxy's diamond");
        assert!(notes(*arrow).contains("dropped"), "{}", notes(*arrow));
        assert!(
            select(*arrow, "line[marker-end]").is_empty(),
            "a dropped message has no arrival"
        );
    }

    // A duplicate arrives more than once, marked with its count.
    let report = run_library("c/duplicate-sale-messages.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    let duplicated = arrows_with(&page, "dup");
    assert!(!duplicated.is_empty());
    for arrow in &duplicated {
        assert!(notes(*arrow).contains("duplicated x"), "{}", notes(*arrow));
        let arrivals = select(*arrow, "line[marker-end]").len();
        assert!(arrivals >= 2, "a duplicate arrives twice: {}", arrow.html());
        assert_eq!(text(select(*arrow, "text.badge")[0]), format!("x{arrivals}"));
    }

    // A delayed one slants: it arrives further down than an undelayed one
    // on the same link.
    let report = run_library("c/late-bank-approval.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    let delayed = arrows_with(&page, "delayed");
    assert!(!delayed.is_empty());
    let drop_of = |arrow: ElementRef<'_>| {
        let line = select(arrow, "line[marker-end]")[0];
        attr(line, "y2") - attr(line, "y1")
    };
    let plain: Vec<f64> = page
        .all("svg#sequence g.m")
        .into_iter()
        .filter(|arrow| arrow.value().attr("class") == Some("m"))
        .map(drop_of)
        .collect();
    let steepest_plain = plain.iter().copied().fold(0.0, f64::max);
    for arrow in &delayed {
        assert!(notes(*arrow).contains("delayed "), "{}", notes(*arrow));
        assert!(
            drop_of(*arrow) > steepest_plain,
            "{} vs {steepest_plain}",
            drop_of(*arrow)
        );
    }

    // A corrupted one is marked, and so is what arrived.
    let report = run_library("d/corrupted-amount-digit.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    let corrupted = arrows_with(&page, "corrupt");
    assert!(!corrupted.is_empty());
    for arrow in &corrupted {
        assert!(notes(*arrow).contains("corrupted byte "), "{}", notes(*arrow));
        assert_eq!(select(*arrow, "path.proxy").len(), 1);
    }

    // Nothing of the kind where the proxies did nothing.
    let report = run_library("a/refund-over-remaining.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    for classes in arrow_classes(&page) {
        for fault in ["dropped", "dup", "delayed", "corrupt", "hostile", "lost"] {
            assert!(!classes.contains(fault), "{fault} on a clean run");
        }
    }
    assert!(page
        .all("svg#sequence path.proxy, svg#sequence g.band, svg#sequence g.mark.crash")
        .is_empty());
}

#[test]
fn partitions_are_bands_across_the_lanes_they_cut_in_the_diagram_and_the_plots() {
    let report = run_library("c/reversal-outlasts-partition.toml", &[]);
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    assert_eq!(report.timeline.bands.len(), 1);
    let band = page.one("svg#sequence g.band");
    let label = text(select(band, "text")[0]);
    assert!(label.starts_with("partition link-TERM0001"), "{label}");
    let rect = select(band, "rect")[0];
    let (from, to) = (lane_x(&page, "TERM0001"), lane_x(&page, "switch"));
    assert!(
        attr(rect, "x") < from && attr(rect, "x") + attr(rect, "width") > to,
        "the band spans TERM0001 to the switch"
    );
    assert!(
        attr(rect, "x") + attr(rect, "width") < lane_x(&page, "bank-a"),
        "the bank link is not cut"
    );
    assert!(attr(rect, "height") > 17.0);
    // Messages lost in it: sent, never arrived, a question mark.
    let lost = arrows_with(&page, "lost");
    assert!(!lost.is_empty());
    for arrow in &lost {
        assert_eq!(text(select(*arrow, "text.q")[0]), "?");
        assert!(notes(*arrow).contains("never arrived"));
    }
    // The same band shaded on each balance plot.
    let plots = page.all("svg.balance-plot");
    assert!(!plots.is_empty());
    for plot in plots {
        assert_eq!(select(plot, "g.band rect").len(), 1);
    }
}

const HOSTILE: &str = r#"
name = "hostile-replay-and-forge"
incident = "D"
description = "A hostile host on the terminal link replays a sale and forges another; neither moves money."
seed = 7

[[operations]]
at = "100ms"
op = "sale"
id = "s1"
card = "4111110000000001"
amount = "25.00 EUR"

[[faults.injections]]
link = "TERM0001"
at = "2s"
kind = "replay"

[[faults.injections]]
link = "TERM0001"
at = "3s"
kind = "forge"

[[expect]]
card = "4111110000000001"
balance = "975.00 EUR"
"#;

#[test]
fn a_hostile_injection_has_its_own_colour_and_starts_at_the_proxy() {
    let report = run_text("hostile.toml", HOSTILE);
    assert!(report.passed, "{}", report.failure_text());
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    let hostile = arrows_with(&page, "hostile");
    assert_eq!(hostile.len(), 2, "the replay and the forgery");
    let (terminal, switch) = (lane_x(&page, "TERM0001"), lane_x(&page, "switch"));
    let notes: Vec<String> = hostile.iter().map(|arrow| notes(*arrow)).collect();
    assert!(
        notes
            .iter()
            .any(|note| note.contains("hostile: replay of request #1")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|note| note.contains("hostile: forged of request #1")),
        "{notes:?}"
    );
    for arrow in &hostile {
        // Sent by the proxy between terminal and switch, toward the switch.
        let line = select(*arrow, "line[marker-end]")[0];
        assert_eq!(attr(line, "x1"), (terminal + switch) / 2.0);
        assert!(attr(line, "x2") > attr(line, "x1"));
        assert!(text(select(*arrow, "title")[0]).contains("hostile injection"));
    }
    assert!(
        page.source.contains(".m.hostile line{stroke:#8250df"),
        "its own colour"
    );
}

/// A run of `sales` balance inquiries, alternating terminals, 100 ms apart.
fn long_run(inquiries: usize) -> String {
    let mut text = String::from(
        "name = \"long-run\"\nincident = \"C\"\ndescription = \"Many balance inquiries.\"\nseed = 11\n\n[timing]\nfault_phase = \"60s\"\n",
    );
    for index in 0..inquiries {
        let terminal = if index % 2 == 0 { "TERM0001" } else { "TERM0002" };
        text.push_str(&format!(
            "\n[[operations]]\nat = \"{}ms\"\nop = \"balance\"\ncard = \"4111110000000001\"\nterminal = \"{terminal}\"\n",
            100 + index * 100
        ));
    }
    text
}

#[test]
fn a_long_run_is_capped_with_a_note_and_a_short_one_is_not() {
    let report = run_text("long.toml", &long_run(420));
    assert!(report.passed, "{}", report.failure_text());
    let sent = report
        .events
        .iter()
        .filter(|event| matches!(event.kind, EventKind::Sent { .. }))
        .count();
    assert!(
        sent > MESSAGES_MAX,
        "the run sends more messages than the cap: {sent}"
    );
    let page = Page::of(&report);
    check_every_page(&report.name, &page);
    assert_eq!(page.all("svg#sequence g.m").len(), MESSAGES_MAX);
    let note = text(page.one("section#diagram p.note"));
    let left_out = report.timeline.messages_left_out;
    assert!(left_out > 0);
    assert_eq!(
        note,
        format!("The diagram shows the first {MESSAGES_MAX} messages; {left_out} more are in trace.jsonl.")
    );
    assert_eq!(
        page.one("section#diagram p.note a").value().attr("href"),
        Some("trace.jsonl")
    );
    // Transactions with no message drawn are named, not linked (every
    // link lands: `check_every_page`).
    let unlinked = page.all("#customer-view span.key");
    assert!(!unlinked.is_empty(), "the inquiries past the cap");
    assert!(
        !page.all("#customer-view a.key").is_empty(),
        "the ones drawn are linked"
    );
    for key in unlinked {
        let id = key.value().attr("data-k").unwrap();
        assert!(
            page.by_id(&format!("k-{id}")).is_none(),
            "{id} is drawn and not linked"
        );
    }
    // The cap bounds the page: about 0.6 KB a message.
    assert!(page.source.len() < 1_200_000, "{} bytes", page.source.len());

    let short = run_text("short.toml", &long_run(3));
    let page = Page::of(&short);
    check_every_page(&short.name, &page);
    assert_eq!(short.timeline.messages_left_out, 0);
    assert!(page.all("section#diagram p.note").is_empty());
    assert_eq!(page.all("svg#sequence g.m").len(), short.timeline.arrows.len());
    // Request and answer on both links, for each inquiry and each
    // terminal's end-of-day close.
    assert_eq!(short.timeline.arrows.len(), (3 + 2) * 4);
}

#[test]
fn idle_stretches_are_collapsed_into_a_break() {
    let report = run_library("b/refund-bank-crash-after-posting.toml", &[]);
    let page = Page::of(&report);
    let breaks = page.texts("svg#sequence g.idle text");
    // 15.9 s between the refund's reversal and the end-of-day closes.
    assert!(
        breaks
            .iter()
            .any(|line| line == "… 15.9 s with nothing on the network …"),
        "{breaks:?}"
    );
    let height = attr(page.one("svg#sequence"), "height");
    assert!(height < 1500.0, "21 s of simulated time in {height} px");
}

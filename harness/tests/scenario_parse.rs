//! The scenario parser: located errors with suggestions, and never a panic.

use payfault::scenario::{parse, ScenarioErrors};
use proptest::prelude::*;

const VALID: &str = r#"name = "example"
incident = "A"
description = "A refund larger than what is left is declined 13."
seed = 5

[[topology.cards]]
pan = "4111110000000009"
balance = "50.00 EUR"

[[operations]]
at = "100ms"
op = "sale"
id = "s1"
card = "4111110000000009"
amount = "40.00 EUR"

[[operations]]
at = "1s"
op = "refund"
id = "r1"
of = "s1"
amount = "12.50 EUR"

[[faults.messages]]
link = "TERM0001"
direction = "response"
mti = "0210"
nth = 1
action = "drop"

[[faults.crashes]]
host = "bank-a"
point = "bank.post.after_sync_before_reply"
restart_after = "2s"

[[faults.random]]
link = "bank-a"
drop = "5%"

[[expect]]
operation = "r1"
shows = "declined"
code = "13"
"#;

fn errors(text: &str) -> ScenarioErrors {
    match parse("test.toml", text) {
        Ok(_) => panic!("expected an error"),
        Err(errors) => errors,
    }
}

/// Line and column (1-based) of the first occurrence of `needle`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

fn assert_error_at(text: &str, needle: &str, message_part: &str) -> payfault::scenario::ScenarioError {
    let errors = errors(text);
    let first = errors.errors[0].clone();
    assert_eq!(
        (first.line, first.column),
        position(text, needle),
        "wrong place for {needle:?}: {errors}"
    );
    assert!(
        first.message.contains(message_part),
        "message {:?} lacks {message_part:?}",
        first.message
    );
    assert!(first.to_string().starts_with("test.toml:"), "{first}");
    first
}

#[test]
fn the_valid_example_parses() {
    let scenario = parse("test.toml", VALID).unwrap();
    assert_eq!(scenario.name, "example");
    assert_eq!(scenario.plan.seed, 5);
    assert_eq!(scenario.plan.workload.len(), 2);
    assert_eq!(scenario.expectations.len(), 1);
    assert_eq!(scenario.plan.faults.crash_points.len(), 1);
    assert_eq!(
        scenario.plan.faults.links[&scenario.plan.topology.link_named("bank-a").unwrap()]
            .random
            .drop_ppm,
        50_000
    );
}

#[test]
fn a_misspelt_key_is_located_with_a_suggestion() {
    let text = VALID.replace("action = \"drop\"", "actoin = \"drop\"");
    let error = assert_error_at(&text, "actoin", "unknown key `actoin`");
    assert_eq!(error.suggestion.as_deref(), Some("action"));
    assert!(error.to_string().contains("did you mean `action`?"), "{error}");
}

#[test]
fn a_misspelt_crash_point_is_located_with_a_suggestion() {
    let text = VALID.replace(
        "bank.post.after_sync_before_reply",
        "bank.post.after_sync_befor_reply",
    );
    let error = assert_error_at(
        &text,
        "\"bank.post.after_sync_befor_reply\"",
        "unknown crash point",
    );
    assert_eq!(
        error.suggestion.as_deref(),
        Some("bank.post.after_sync_before_reply")
    );
}

#[test]
fn misspelt_names_get_suggestions() {
    let cases = [
        ("op = \"refund\"", "op = \"refnud\"", "\"refnud\"", "refund"),
        ("action = \"drop\"", "action = \"dorp\"", "\"dorp\"", "drop"),
        (
            "shows = \"declined\"",
            "shows = \"decliend\"",
            "\"decliend\"",
            "declined",
        ),
        (
            "link = \"TERM0001\"",
            "link = \"TERM001\"",
            "\"TERM001\"",
            "TERM0001",
        ),
        ("of = \"s1\"", "of = \"s2\"", "\"s2\"", "s1"),
        ("host = \"bank-a\"", "host = \"bnak-a\"", "\"bnak-a\"", "bank-a"),
        (
            "seed = 5",
            "seed = 5\nbugs = [\"switch-no-dedup\"]",
            "\"switch-no-dedup\"",
            "switch-no-dedupe",
        ),
        (
            "amount = \"40.00 EUR\"",
            "amuont = \"40.00 EUR\"",
            "amuont",
            "amount",
        ),
    ];
    for (from, to, needle, suggestion) in cases {
        let text = VALID.replacen(from, to, 1);
        let errors = errors(&text);
        let error = errors
            .errors
            .iter()
            .find(|error| (error.line, error.column) == position(&text, needle))
            .unwrap_or_else(|| panic!("no error at {needle}: {errors}"));
        assert_eq!(error.suggestion.as_deref(), Some(suggestion), "{error}");
    }
}

#[test]
fn malformed_toml_is_located() {
    let text = VALID.replace("nth = 1", "nth = = 1");
    let errors = errors(&text);
    let (line, _) = position(&text, "nth = = 1");
    assert_eq!(errors.errors[0].line, line, "{errors}");
}

#[test]
fn a_wrong_type_is_located() {
    let text = VALID.replace("nth = 1", "nth = \"first\"");
    let error = assert_error_at(&text, "\"first\"", "invalid type");
    assert!(error.help.is_some());
}

#[test]
fn unknown_ids_and_terminals_are_located() {
    let text = VALID.replace("of = \"s1\"", "of = \"sale-one\"");
    assert_error_at(&text, "\"sale-one\"", "no earlier operation has the id");
    let text = VALID.replace("operation = \"r1\"", "operation = \"r9\"");
    assert_error_at(&text, "\"r9\"", "no operation has the id");
    let text = VALID.replace("id = \"r1\"", "id = \"r1\"\nterminal = \"TERM0009\"");
    assert_error_at(&text, "\"TERM0009\"", "unknown terminal");
}

#[test]
fn bad_amounts_are_located() {
    for bad in [
        "\"12.505 EUR\"",
        "\"12.50\"",
        "\"12.50 XXX\"",
        "\"twelve EUR\"",
        "\"1.5 JPY\"",
    ] {
        let text = VALID.replace("\"12.50 EUR\"", bad);
        assert_error_at(&text, bad, "");
    }
    let text = VALID.replace("amount = \"12.50 EUR\"", "amount = 12.5");
    assert_error_at(&text, "12.5\n", "invalid type");
}

#[test]
fn semantic_errors_are_located() {
    let text = VALID.replace("at = \"1s\"", "at = \"25s\"");
    assert_error_at(&text, "\"25s\"", "after the fault phase");
    let text = VALID.replace("at = \"1s\"", "at = \"1 sec\"");
    assert_error_at(&text, "\"1 sec\"", "unit");
    let text = VALID.replace("drop = \"5%\"", "drop = \"5\"");
    assert_error_at(&text, "\"5\"", "not a rate");
    let text = VALID.replace(
        "point = \"bank.post.after_sync_before_reply\"",
        "point = \"terminal.answer.before_record\"",
    );
    assert_error_at(
        &text,
        "\"terminal.answer.before_record\"",
        "is a terminal crash point",
    );
    let text = VALID.replace("incident = \"A\"", "incident = \"F\"");
    assert_error_at(&text, "\"F\"", "unknown incident class");
}

#[test]
fn a_field_that_does_not_apply_is_an_error() {
    let text = VALID.replace("of = \"s1\"", "of = \"s1\"\ncard = \"4111110000000001\"");
    assert_error_at(&text, "\"4111110000000001\"", "does not apply to a refund");
}

#[test]
fn resend_is_a_late_retransmission_and_needs_a_delay() {
    use payfault::plan::MessageAction;
    let text = VALID.replace("action = \"drop\"", "action = \"resend\"\ndelay = \"6s\"");
    let scenario = parse("test.toml", &text).unwrap();
    assert_eq!(
        scenario.plan.faults.links[&scenario.plan.topology.link_named("TERM0001").unwrap()].rules[0].action,
        MessageAction::Resend { delay_ms: 6_000 }
    );
    let text = VALID.replace("action = \"drop\"", "action = \"resend\"");
    assert_error_at(&text, "\"resend\"", "`resend` needs `delay");
    let text = VALID.replace("action = \"drop\"", "action = \"resnd\"");
    let error = assert_error_at(&text, "\"resnd\"", "unknown fault action");
    assert_eq!(error.suggestion.as_deref(), Some("resend"));
}

#[test]
fn missing_keys_are_reported() {
    let text = VALID.replace("incident = \"A\"\n", "");
    let errors = errors(&text);
    assert!(
        errors.errors[0].message.contains("missing key `incident`"),
        "{errors}"
    );
}

#[test]
fn errors_render_with_miette() {
    let text = VALID.replace("action = \"drop\"", "actoin = \"drop\"");
    let rendered = errors(&text).render(false);
    assert!(rendered.contains("actoin"), "{rendered}");
    assert!(rendered.contains("did you mean `action`?"), "{rendered}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random edits of a valid file give a scenario or located errors,
    /// never a panic.
    #[test]
    fn random_edits_never_panic(
        edits in proptest::collection::vec((any::<usize>(), 0usize..4, any::<char>()), 1..6)
    ) {
        let mut text: Vec<char> = VALID.chars().collect();
        for (position, kind, character) in edits {
            let index = position % (text.len() + 1);
            match kind {
                0 => text.insert(index, character),
                1 if index < text.len() => { text.remove(index); }
                2 if index < text.len() => text[index] = character,
                _ => {
                    let duplicate: Vec<char> = text[index.min(text.len())..].iter().take(8).copied().collect();
                    for (offset, c) in duplicate.into_iter().enumerate() {
                        text.insert(index + offset, c);
                    }
                }
            }
        }
        let text: String = text.into_iter().collect();
        if let Err(errors) = parse("fuzz.toml", &text) {
            prop_assert!(!errors.errors.is_empty());
            for error in &errors.errors {
                prop_assert!(error.line >= 1 && error.column >= 1);
                let _ = errors.render(false);
            }
        }
    }
}

const TOPOLOGY_AND_HOSTILE: &str = r#"name = "three-terminals"
incident = "D"
description = "Three terminals, one at a new merchant; a hostile host forges a sale."

[[topology.merchants]]
id = "MERCHANT0000003"
balance = "10.00 EUR"

[[topology.terminals]]
id = "TERM0001"
merchant = "MERCHANT0000001"

[[topology.terminals]]
id = "TERM0003"
merchant = "MERCHANT0000003"

[[operations]]
at = "100ms"
op = "sale"
terminal = "TERM0003"
card = "4111110000000001"
amount = "5.00 EUR"

[[faults.messages]]
link = "TERM0003"
direction = "request"
mti = "0200"
action = "resend"
delay = "4s"

[[faults.injections]]
link = "TERM0003"
at = "2s"
kind = "forge"
nth = 1
"#;

#[test]
fn terminals_replace_the_built_in_ones_and_a_new_merchant_opens() {
    let scenario = parse("test.toml", TOPOLOGY_AND_HOSTILE).unwrap();
    let terminals: Vec<String> = scenario
        .plan
        .topology
        .terminals
        .iter()
        .map(|t| t.terminal.to_string())
        .collect();
    assert_eq!(terminals, ["TERM0001", "TERM0003"]);
    let switch_terminals: Vec<String> = scenario
        .plan
        .topology
        .switch
        .terminals
        .iter()
        .map(|t| t.terminal.to_string())
        .collect();
    assert_eq!(switch_terminals, terminals, "the switch knows the same terminals");
    let merchant = scenario.plan.topology.banks[0]
        .merchants
        .iter()
        .find(|m| m.id.as_str() == "MERCHANT0000003")
        .expect("the new merchant");
    assert_eq!(merchant.balance.minor_units(), 10_00);
    let faults = &scenario.plan.faults.links[&scenario.plan.topology.link_named("TERM0003").unwrap()];
    assert_eq!(faults.injections.len(), 1);
    assert!(matches!(
        faults.rules[0].action,
        payfault::plan::MessageAction::Resend { delay_ms: 4_000 }
    ));
}

#[test]
fn a_terminal_of_an_unknown_merchant_and_a_misspelt_injection_are_located() {
    let text =
        TOPOLOGY_AND_HOSTILE.replace("merchant = \"MERCHANT0000003\"", "merchant = \"MERCHANT0000009\"");
    let error = assert_error_at(&text, "\"MERCHANT0000009\"", "unknown merchant");
    assert!(error.to_string().contains("MERCHANT0000001"), "{error}");
    let text = TOPOLOGY_AND_HOSTILE.replace("kind = \"forge\"", "kind = \"froge\"");
    let error = assert_error_at(&text, "\"froge\"", "unknown injection");
    assert_eq!(error.suggestion.as_deref(), Some("forge"));
    let text = TOPOLOGY_AND_HOSTILE.replace(
        "[[topology.merchants]]\nid = \"MERCHANT0000003\"\nbalance = \"10.00 EUR\"\n",
        "[[topology.merchants]]\nid = \"MERCHANT0000003\"\n",
    );
    assert_error_at(&text, "\"MERCHANT0000003\"", "needs a `balance`");
    let text = TOPOLOGY_AND_HOSTILE.replace("action = \"resend\"\ndelay = \"4s\"", "action = \"resend\"");
    assert_error_at(&text, "\"resend\"", "needs `delay");
}

#[test]
fn an_insider_injection_on_a_bank_link_is_located() {
    let on_bank = |kind: &str| {
        TOPOLOGY_AND_HOSTILE.replace(
            "link = \"TERM0003\"\nat = \"2s\"\nkind = \"forge\"",
            &format!("link = \"bank-a\"\nat = \"2s\"\nkind = \"{kind}\""),
        )
    };
    assert!(
        on_bank("forge").contains("link = \"bank-a\""),
        "the fixture changed"
    );
    // A forgery on a bank link is a hostile host without the key: allowed.
    let parsed = parse("test.toml", &on_bank("forge")).map(|_| ());
    assert!(parsed.is_ok(), "{parsed:?}");
    for kind in [
        "insider_other_terminal",
        "insider_unknown_original",
        "insider_void_amount",
    ] {
        assert_error_at(&on_bank(kind), &format!("\"{kind}\""), "needs a terminal link");
    }
}

//! Lowering `[faults]`: scripted and random message faults, partitions,
//! crashes at a time or at a crash point, torn writes, clock skew and a
//! hostile host's injections.

use std::ops::Range;

use serde_spanned::Spanned;

use super::Lowerer;
use crate::node::all_crash_points;
use crate::plan::{
    ArmedCrash, ClockModel, Direction, FaultPlan, LinkFaults, LinkId, LinkPartition, MessageAction,
    MessageMatch, MessageRule, TimedCrash, TimedInjection,
};
use crate::scenario::format::{CrashFile, FaultsFile, MessageFaultFile, Text};
use crate::scenario::parse::{parse_rate_ppm, parse_signed_duration_ms, ScenarioError};
use crate::scenario::vocabulary::{ActionKind, InjectionKind, Named};
use crate::wire::types::ProcessingCode;

/// A key only some actions take: its name, where it is written, and the
/// actions that take it.
type ActionKey<'a> = (&'a str, Option<Range<usize>>, &'a [ActionKind]);

impl Lowerer<'_> {
    /// The fault plan of `[faults]`.
    pub(super) fn faults(&mut self, file: &FaultsFile) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for rule in &file.messages {
            let link = self.link(&rule.link);
            let rule = self.message_rule(rule);
            if let (Some(link), Some(rule)) = (link, rule) {
                plan.links.entry(link).or_default().rules.push(rule);
            }
        }
        for random in &file.random {
            let Some(link) = self.link(&random.link) else {
                continue;
            };
            let rate = |value: &Option<Text>, errors: &mut Vec<ScenarioError>| -> u32 {
                match value {
                    None => 0,
                    Some(value) => parse_rate_ppm(value.get_ref()).unwrap_or_else(|message| {
                        errors.push(self.source.error(value.span(), message));
                        0
                    }),
                }
            };
            let mut errors = Vec::new();
            let drop_ppm = rate(&random.drop, &mut errors);
            let duplicate_ppm = rate(&random.duplicate, &mut errors);
            let delay_ppm = rate(&random.delay, &mut errors);
            let corrupt_ppm = rate(&random.corrupt, &mut errors);
            self.errors.extend(errors);
            let delay_ms_max = random
                .delay_max
                .as_ref()
                .and_then(|v| self.duration(v))
                .unwrap_or(1_000);
            let faults: &mut LinkFaults = plan.links.entry(link).or_default();
            if faults.random.is_active() {
                self.error(random.link.span(), "this link already has random faults");
            }
            faults.random = crate::plan::RandomMessageFaults {
                drop_ppm,
                duplicate_ppm,
                delay_ppm,
                delay_ms_max,
                corrupt_ppm,
            };
        }
        for partition in &file.partitions {
            let link = self.link(&partition.link);
            let from = self.duration(&partition.from);
            let until = partition
                .until
                .as_ref()
                .map(|until| (self.duration(until), until.span()));
            if let (Some(link), Some(from)) = (link, from) {
                let until_ms = match until {
                    Some((Some(until), span)) => {
                        if until <= from {
                            self.error(span, "a partition must end after it starts");
                        }
                        Some(until)
                    }
                    _ => None,
                };
                plan.partitions.push(LinkPartition {
                    link,
                    from_ms: from,
                    until_ms,
                });
            }
        }
        for crash in &file.crashes {
            self.crash(crash, &mut plan);
        }
        if let Some(block) = &file.torn_writes {
            if *block.get_ref() == 0 {
                self.error(block.span(), "a torn-write block size must be at least 1 byte");
            }
            plan.torn_write_block = Some(*block.get_ref());
        }
        for clock in &file.clocks {
            let Some(host) = self.host(&clock.host) else {
                continue;
            };
            let offset_ms = match &clock.offset {
                Some(value) => match parse_signed_duration_ms(value.get_ref()) {
                    Ok(ms) => ms,
                    Err(message) => {
                        self.error(value.span(), message);
                        0
                    }
                },
                None => 0,
            };
            let drift_ppm = clock.drift_ppm.as_ref().map_or(0, |d| *d.get_ref());
            plan.clocks.insert(host, ClockModel { offset_ms, drift_ppm });
        }
        for injection_file in &file.injections {
            let link = self.link(&injection_file.link);
            let at_ms = self.duration(&injection_file.at);
            let nth = match &injection_file.nth {
                Some(value) if *value.get_ref() == 0 => {
                    self.error(value.span(), "`nth` counts from 1");
                    None
                }
                Some(value) => Some(*value.get_ref()),
                None => Some(1),
            };
            let nth_value = nth.unwrap_or(1);
            let kind = self
                .named::<InjectionKind>("injection", &injection_file.kind)
                .map(|kind| kind.injection(nth_value));
            // Only a terminal link's hostile host can hold the link's key:
            // the switch trusts its bank links and the bank the switch.
            let kind = match (&link, kind) {
                (Some(LinkId::Bank(_)), Some(insider)) if insider.is_insider() => {
                    self.error(
                        injection_file.kind.span(),
                        "an insider injection needs a terminal link: on a bank link the switch itself would be the insider",
                    );
                    None
                }
                (_, kind) => kind,
            };
            if let (Some(link), Some(at_ms), Some(_), Some(injection)) = (link, at_ms, nth, kind) {
                plan.links
                    .entry(link)
                    .or_default()
                    .injections
                    .push(TimedInjection { at_ms, injection });
            }
        }
        // The hostile host sends in time order, whatever the file's order.
        for faults in plan.links.values_mut() {
            faults.injections.sort_by_key(|timed| timed.at_ms);
        }
        plan
    }

    fn message_rule(&mut self, file: &MessageFaultFile) -> Option<MessageRule> {
        let direction = match file.direction.as_ref() {
            None => None,
            Some(value) => Some(self.named::<Direction>("direction", value)?),
        };
        let mti = match &file.mti {
            None => None,
            Some(value) => {
                let text = value.get_ref();
                if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
                    self.error(value.span(), format!("`{text}` is not an MTI")).help =
                        Some("four digits, e.g. \"0210\"".into());
                    return None;
                }
                text.parse::<u16>().ok()
            }
        };
        let processing = match &file.processing {
            None => None,
            Some(value) => {
                let text = value.get_ref().as_str();
                let found = ProcessingCode::ALL
                    .into_iter()
                    .find(|code| code.name() == text || code.to_wire() == text);
                if found.is_none() {
                    self.unknown("processing code", value, ["sale", "refund", "void", "balance"]);
                    return None;
                }
                found
            }
        };
        let kind = self.named::<ActionKind>("fault action", &file.action)?;
        let action_name = kind.name();
        let action = match kind {
            ActionKind::Drop => MessageAction::Drop,
            ActionKind::Duplicate => MessageAction::Duplicate {
                copies: file.copies.as_ref().map_or(1, |c| *c.get_ref()),
            },
            ActionKind::Delay | ActionKind::Resend => {
                let Some(value) = &file.delay else {
                    self.error(
                        file.action.span(),
                        format!("`{action_name}` needs `delay = \"...\"`"),
                    )
                    .help = Some("e.g. delay = \"6s\"".into());
                    return None;
                };
                let delay_ms = self.duration(value)?;
                if kind == ActionKind::Delay {
                    MessageAction::Delay { delay_ms }
                } else {
                    MessageAction::Resend { delay_ms }
                }
            }
            ActionKind::Corrupt => MessageAction::Corrupt {
                offset: file.offset.as_ref().map(|o| *o.get_ref() as usize),
            },
        };
        let checks: [ActionKey; 3] = [
            (
                "copies",
                file.copies.as_ref().map(Spanned::span),
                &[ActionKind::Duplicate],
            ),
            (
                "delay",
                file.delay.as_ref().map(Spanned::span),
                &[ActionKind::Delay, ActionKind::Resend],
            ),
            (
                "offset",
                file.offset.as_ref().map(Spanned::span),
                &[ActionKind::Corrupt],
            ),
        ];
        for (field, span, actions) in checks {
            if let Some(span) = span {
                if !actions.contains(&kind) {
                    self.error(
                        span,
                        format!("`{field}` does not apply to action `{action_name}`"),
                    );
                }
            }
        }
        let from_ms = match &file.from {
            Some(value) => Some(self.duration(value)?),
            None => None,
        };
        let until_ms = match &file.until {
            Some(value) => Some(self.duration(value)?),
            None => None,
        };
        if let Some(nth) = &file.nth {
            if *nth.get_ref() == 0 {
                self.error(nth.span(), "`nth` counts from 1");
            }
        }
        Some(MessageRule {
            matching: MessageMatch {
                direction,
                mti,
                processing,
                stan: file.stan.as_ref().map(|s| *s.get_ref()),
                nth: file.nth.as_ref().map(|n| *n.get_ref()),
            },
            action,
            from_ms,
            until_ms,
        })
    }

    fn crash(&mut self, file: &CrashFile, plan: &mut FaultPlan) {
        let Some(host) = self.host(&file.host) else { return };
        let restart = match &file.restart_after {
            Some(value) => match self.duration(value) {
                Some(ms) => Some(ms),
                None => return,
            },
            None => None,
        };
        match (&file.at, &file.point) {
            (Some(at), None) => {
                if let Some(nth) = &file.nth {
                    self.error(
                        nth.span(),
                        "`nth` applies to a crash at a `point`, not `at` a time",
                    );
                }
                let Some(at_ms) = self.duration(at) else { return };
                plan.crashes.push(TimedCrash {
                    host,
                    at_ms,
                    restart_after_ms: restart,
                });
            }
            (None, Some(point)) => {
                let kind = host.kind();
                let all = all_crash_points();
                let known = all.iter().find(|(_, name)| name == point.get_ref());
                match known {
                    None => self.unknown("crash point", point, all.iter().map(|(_, name)| *name)),
                    Some((point_kind, _)) if *point_kind != kind => {
                        let names: Vec<&str> =
                            all.iter().filter(|(k, _)| *k == kind).map(|(_, n)| *n).collect();
                        self.error(
                            point.span(),
                            format!(
                                "`{}` is a {point_kind} crash point, but {host} is a {kind}",
                                point.get_ref()
                            ),
                        )
                        .help = Some(format!("{kind} crash points: {}", names.join(", ")));
                    }
                    Some(_) => {
                        let nth = file.nth.as_ref().map_or(1, |n| *n.get_ref());
                        if nth == 0 {
                            if let Some(value) = &file.nth {
                                self.error(value.span(), "`nth` counts from 1");
                            }
                        }
                        plan.crash_points.push(ArmedCrash {
                            host,
                            point: point.get_ref().clone(),
                            nth,
                            restart_after_ms: restart,
                        });
                    }
                }
            }
            (Some(at), Some(_)) => {
                self.error(
                    at.span(),
                    "a crash is either `at` a time or at a `point`, not both",
                );
            }
            (None, None) => {
                self.error(
                    file.host.span(),
                    "a crash needs `at = \"...\"` or `point = \"...\"`",
                )
                .help = Some("`payfault crash-points` lists the points".into());
            }
        }
    }
}

//! The transform that applies the target config's rules ([`super::rules`]) to the
//! records of a conversion: first in the chain, it reads every inline record of the
//! source, refuses the image at the first record whose option the target lacks and
//! restart needs, writes as 0 the members a target without their option ignores (a loss,
//! so `--allow-lossy` is the user's consent), and says what it carried.

use std::collections::BTreeSet;

use ckpt_format::read::{Decoded, decode_record};
use ckpt_format::value::{Value, encode_field};

use super::rules::{self, Needs, OptionRule, Outcome};
use super::{ConfigDecision, GivenConfig, Side, config_label};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::steps::Confidence;
use crate::transform::{Cx, Flow, Out, Transform};

/// Applies the target config's rules to the source records, and compares the source
/// config with the image (see the module doc).
pub struct ConfigGate<'a> {
    target: Option<&'a GivenConfig>,
    source: Option<&'a GivenConfig>,
    needs: Needs,
    decided: BTreeSet<&'static str>,
    decisions: Vec<ConfigDecision>,
}

impl<'a> ConfigGate<'a> {
    /// The gate of a conversion to a kernel with config `target` (none: nothing is
    /// refused or dropped for an option) of an image whose kernel's config is said to
    /// be `source`.
    pub fn new(target: Option<&'a GivenConfig>, source: Option<&'a GivenConfig>) -> ConfigGate<'a> {
        ConfigGate {
            target,
            source,
            needs: Needs::new(),
            decided: BTreeSet::new(),
            decisions: Vec::new(),
        }
    }

    /// What the gate decided, in the order it decided it.
    pub fn decisions(&self) -> &[ConfigDecision] {
        &self.decisions
    }

    /// The options the records read so far need, with the records (as `check` lists
    /// them).
    pub fn needs(&self) -> &Needs {
        &self.needs
    }

    /// Records the decision of `rule`, once per option.
    fn decide(&mut self, rule: &OptionRule, decision: String) {
        if self.decided.insert(rule.option) {
            self.decisions.push(ConfigDecision {
                fact: rule.option.to_string(),
                decision,
                config: self.label(),
                source: rule.source,
                confidence: rule.confidence,
            });
        }
    }

    fn label(&self) -> String {
        config_label(Side::Target, self.target, "")
    }

    fn refusal(&self, option: &str, at: &str) -> ConvertError {
        let r = rules::rule(option);
        ConvertError::Refused(format!(
            "{at} needs {option}, which the {} does not set: {}; `ckpt check \
             --target-config` lists every record that needs an option the target lacks",
            self.label(),
            r.map_or("the records cannot be restored", |r| r.without)
        ))
    }

    /// The source config against the image's header: the `ckpt_const` variant the
    /// header's constants are those of.
    fn source_against_header(&mut self, cx: &Cx<'_>, d: &Decoded, rec: &[u8]) {
        let Some(src) = self.source else { return };
        let (Some((opt, said)), Some((_, image))) = (
            src.config.constants_variant(),
            super::provenance::header_variant(cx.from, d, rec),
        ) else {
            return;
        };
        let label = config_label(Side::Source, Some(src), "");
        self.decisions.push(ConfigDecision {
            fact: format!("source {opt}"),
            decision: if image == said {
                format!("{opt}={image}: the {label} agrees with the image's ckpt_const")
            } else {
                format!(
                    "{opt}={image}, as the image's ckpt_const says: the image wins over the \
                     {label}, which says {said}"
                )
            },
            config: label,
            source: "kernel-consts.md §3",
            confidence: Confidence::High,
        });
    }

    /// The source config against the records: an option the records need that the
    /// source config does not set (the image wins).
    fn source_against_records(&mut self) {
        let Some(src) = self.source else { return };
        let label = config_label(Side::Source, Some(src), "");
        for (opt, records) in self.needs.list() {
            // A second namespace needs CONFIG_*_NS only to be restored elsewhere; the
            // source may have lacked CONFIG_COMPAT only if no compat list was set.
            if src.config.value(&opt).is_some() && !src.config.enabled(&opt) {
                self.decisions.push(ConfigDecision {
                    fact: format!("source {opt}"),
                    decision: format!(
                        "needed by {}: the image wins over the {label}, which does not set it",
                        records.join(", ")
                    ),
                    config: label.clone(),
                    source: rules::rule(&opt).map_or("kernel-side.md §2", |r| r.source),
                    confidence: Confidence::Medium,
                });
            }
        }
    }
}

impl Transform for ConfigGate<'_> {
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        _out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        if self.target.is_none() && self.source.is_none() {
            return Ok(Flow::Pass);
        }
        let at = format!("record #{} ({})", cx.rec.index, cx.rec.name);
        let d = decode_record(cx.from, cx.rec, rec)
            .map_err(|k| ConvertError::Format(ckpt_format::Error::new(k, Default::default())))?;
        if cx.rec.index == 0 {
            self.source_against_header(cx, &d, rec);
            if let Some(t) = self.target
                && !t.config.enabled("CONFIG_CHECKPOINT")
            {
                return Err(self.refusal("CONFIG_CHECKPOINT", &at));
            }
        }
        let found = self.needs.observe(cx.from, cx.rec, &d);
        if cx.rec.name == "TAIL" {
            self.source_against_records();
        }
        let Some(target) = self.target else {
            return Ok(Flow::Pass);
        };
        for option in found {
            if target.config.enabled(option) {
                continue;
            }
            let Some(rule) = rules::rule(option) else {
                return Err(self.refusal(option, &at));
            };
            let reason = format!("the {} has no {option}: {}", self.label(), rule.without);
            match rule.outcome {
                Outcome::Fails => return Err(self.refusal(option, &at)),
                Outcome::Ignores(members) => {
                    let Some(st) = d.struct_name.as_deref() else {
                        continue;
                    };
                    let layout = cx
                        .from
                        .layout(st)
                        .map_err(|e| ConvertError::Refused(e.to_string()))?;
                    let endian = cx.from.endian();
                    for m in members {
                        let (Some(f), Some(old)) = (
                            layout.fields().iter().find(|f| f.path == *m),
                            d.fields
                                .iter()
                                .find(|(p, _)| p == m)
                                .map(|(_, v)| v.clone()),
                        ) else {
                            continue;
                        };
                        if old.as_int().unwrap_or(0) == 0 {
                            continue;
                        }
                        encode_field(f, &Value::Uint(0), rec, endian)
                            .map_err(ConvertError::Refused)?;
                        cx.note(m, Action::Dropped, Some(old), Some(Value::Uint(0)))
                            .reason = Some(reason.clone());
                    }
                    self.decide(
                        rule,
                        format!(
                            "{} written as 0: the target ignores them (a loss)",
                            members.join(", ")
                        ),
                    );
                }
                Outcome::Tolerates => self.decide(rule, format!("carried: {}", rule.without)),
            }
        }
        Ok(Flow::Pass)
    }
}

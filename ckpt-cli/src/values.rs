//! Value parsers that tell clap (and so the shell completions) the names an option takes,
//! without narrowing what it accepts.

use std::ffi::OsStr;

use ckpt_format::{Arch, Registry};
use clap::builder::{PossibleValue, TypedValueParser};

/// A revision: completed with every revision's id and aliases; accepted as any text, which
/// the subcommand looks up (an id, an alias, a user-cr commit prefix of 7 or more hex
/// digits, an ordinal), so that the lookup's own message explains a name it does not know.
#[derive(Clone, Copy, Debug)]
pub struct Revision;

impl TypedValueParser for Revision {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let names = Registry::get().entries().iter().flat_map(|e| {
            let id = PossibleValue::new(e.id().to_string()).help(format!(
                "user-cr {}, CHECKPOINT_VERSION {}",
                e.short_commit(),
                e.checkpoint_version()
            ));
            let aliases = e
                .aliases()
                .iter()
                .map(|a| PossibleValue::new(a.clone()).help(format!("alias of {}", e.id())));
            std::iter::once(id).chain(aliases.collect::<Vec<_>>())
        });
        Some(Box::new(names))
    }
}

/// An architecture, by name: completed with every name, parsed as [`Arch`].
#[derive(Clone, Copy, Debug)]
pub struct ArchName;

impl TypedValueParser for ArchName {
    type Value = Arch;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Arch, clap::Error> {
        let text = clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)?;
        text.parse::<Arch>().map_err(|e| {
            let option = arg.map_or("an architecture".to_string(), |a| a.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{option}': {e}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            Arch::ALL.into_iter().map(|a| PossibleValue::new(a.name())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &impl TypedValueParser) -> Vec<String> {
        p.possible_values()
            .unwrap()
            .map(|v| v.get_name().to_string())
            .collect()
    }

    #[test]
    fn revisions_complete_with_ids_and_aliases_and_accept_any_text() {
        let names = names(&Revision);
        for e in Registry::get().entries() {
            assert!(names.iter().any(|n| n == e.id()), "{}", e.id());
            for a in e.aliases() {
                assert!(names.contains(a), "{a}");
            }
        }
        let cmd = clap::Command::new("t");
        for accepted in ["v23-rc2", "1fd8e6e", "1fd8e6ea", "16", "no-such-revision"] {
            let v = Revision
                .parse_ref(&cmd, None, OsStr::new(accepted))
                .unwrap();
            assert_eq!(v, accepted);
        }
    }

    #[test]
    fn arches_complete_with_every_name() {
        let names = names(&ArchName);
        assert_eq!(names.len(), Arch::ALL.len());
        let cmd = clap::Command::new("t");
        for a in Arch::ALL {
            assert_eq!(
                ArchName
                    .parse_ref(&cmd, None, OsStr::new(a.name()))
                    .unwrap(),
                a
            );
        }
        let e = ArchName
            .parse_ref(&cmd, None, OsStr::new("vax"))
            .unwrap_err();
        assert!(e.to_string().contains("unknown architecture `vax`"), "{e}");
    }
}

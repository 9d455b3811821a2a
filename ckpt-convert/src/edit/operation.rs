//! The operations of an edit, as a user writes them (`--uid 1000=2000`), and what each
//! does to one place.

use ckpt_format::model::places::{Place, PlaceKind, PlaceValue};

/// One operation of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `--path OLD=NEW`: an exact path, or (OLD ends with `/`) a directory and
    /// everything below it.
    Path {
        /// The path or directory (with its `/`) to move.
        old: String,
        /// Where it goes.
        new: String,
    },
    /// `--pid OLD=NEW`: a pid of the image's root pid namespace.
    Pid {
        /// The pid now.
        old: i64,
        /// The pid after the edit.
        new: i64,
    },
    /// `--uid OLD=NEW`.
    Uid {
        /// The uid now.
        old: i64,
        /// The uid after the edit.
        new: i64,
    },
    /// `--gid OLD=NEW`.
    Gid {
        /// The gid now.
        old: i64,
        /// The gid after the edit.
        new: i64,
    },
    /// `--fd PID:FD=PATH`: descriptor FD of task PID opens PATH, keeping its flags, and
    /// its position unless `pos` is given.
    Fd {
        /// The task, by pid in the root pid namespace.
        pid: i64,
        /// The descriptor.
        fd: i64,
        /// The path it opens.
        path: String,
        /// The file position (`--pos`).
        pos: Option<u64>,
    },
    /// `--close PID:FD`: descriptor FD of task PID goes, and with it whatever only it
    /// kept alive (its file, a socket and its queued buffers, an epoll's items).
    Close {
        /// The task, by pid in the root pid namespace.
        pid: i64,
        /// The descriptor.
        fd: i64,
    },
    /// `--hostname NAME`: the UTS namespaces' node name.
    Hostname(String),
    /// `--domainname NAME`: the UTS namespaces' domain name.
    Domainname(String),
}

/// A malformed operation: which one, what was given and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{operation} {given}: {expected}")]
pub struct BadOperation {
    /// The operation's name (`uid`).
    pub operation: String,
    /// What was given.
    pub given: String,
    /// What is expected instead.
    pub expected: String,
}

/// The longest UTS name the kernel keeps (`__NEW_UTS_LEN`).
const UTS_NAME_MAX: usize = 64;
/// The longest path a unix socket address or a kernel path buffer holds (`PATH_MAX`).
const PATH_MAX: usize = 4096;

impl Operation {
    /// Parses the argument `arg` of operation `name` (`path`, `pid`, `uid`, `gid`, `fd`,
    /// `close`, `hostname`, `domainname`).
    pub fn parse(name: &str, arg: &str) -> Result<Operation, BadOperation> {
        let bad = |expected: &str| BadOperation {
            operation: name.to_string(),
            given: arg.to_string(),
            expected: expected.to_string(),
        };
        let pair = || {
            arg.split_once('=')
                .ok_or_else(|| bad("expected OLD=NEW"))
                .map(|(a, b)| (a.trim(), b.trim()))
        };
        let number = |s: &str, what: &str| -> Result<i64, BadOperation> {
            let n: i64 = s.parse().map_err(|_| {
                bad(&format!(
                    "{what} {s:?} is not a number (expected OLD=NEW, two numbers)"
                ))
            })?;
            if !(0..=u32::MAX as i64).contains(&n) {
                return Err(bad(&format!(
                    "{what} {n} is out of range (0 to 4294967295)"
                )));
            }
            Ok(n)
        };
        match name {
            "path" => {
                let (old, new) = pair()?;
                if !old.starts_with('/') || !new.starts_with('/') {
                    return Err(bad("expected OLD=NEW, two absolute paths"));
                }
                if old.ends_with('/') != new.ends_with('/') {
                    return Err(bad(
                        "a directory (ending in /) moves to a directory: end both or neither with /",
                    ));
                }
                if new.len() >= PATH_MAX || new.contains('\0') {
                    return Err(bad("the new path is not a path the kernel takes"));
                }
                Ok(Operation::Path {
                    old: old.to_string(),
                    new: new.to_string(),
                })
            }
            "pid" | "uid" | "gid" => {
                let (a, b) = pair()?;
                let (old, new) = (number(a, "OLD")?, number(b, "NEW")?);
                if name == "pid" && (old == 0 || new == 0 || new > i32::MAX as i64) {
                    return Err(bad("a pid is a number from 1 to 2147483647"));
                }
                if old == new {
                    return Err(bad("OLD and NEW are the same"));
                }
                Ok(match name {
                    "pid" => Operation::Pid { old, new },
                    "uid" => Operation::Uid { old, new },
                    _ => Operation::Gid { old, new },
                })
            }
            "fd" => {
                let (at, path) = arg
                    .split_once('=')
                    .ok_or_else(|| bad("expected PID:FD=PATH"))?;
                let (pid, fd) = at
                    .split_once(':')
                    .ok_or_else(|| bad("expected PID:FD=PATH"))?;
                let pid = number(pid.trim(), "PID")?;
                let fd = number(fd.trim(), "FD")?;
                if pid == 0 {
                    return Err(bad("a pid is a number from 1 to 2147483647"));
                }
                if !path.starts_with('/') || path.len() >= PATH_MAX || path.contains('\0') {
                    return Err(bad("expected PID:FD=PATH with an absolute PATH"));
                }
                Ok(Operation::Fd {
                    pid,
                    fd,
                    path: path.to_string(),
                    pos: None,
                })
            }
            "close" => {
                let (pid, fd) = arg.split_once(':').ok_or_else(|| bad("expected PID:FD"))?;
                let pid = number(pid.trim(), "PID")?;
                let fd = number(fd.trim(), "FD")?;
                if pid == 0 {
                    return Err(bad("a pid is a number from 1 to 2147483647"));
                }
                Ok(Operation::Close { pid, fd })
            }
            "hostname" | "domainname" => {
                if arg.len() > UTS_NAME_MAX || arg.contains('\0') {
                    return Err(bad(&format!(
                        "a name of at most {UTS_NAME_MAX} bytes, without NUL"
                    )));
                }
                Ok(if name == "hostname" {
                    Operation::Hostname(arg.to_string())
                } else {
                    Operation::Domainname(arg.to_string())
                })
            }
            _ => Err(bad("unknown operation")),
        }
    }

    /// The kind of place the operation changes.
    pub fn value_kind(&self) -> Option<PlaceKind> {
        Some(match self {
            Operation::Fd { .. } | Operation::Close { .. } => return None,
            Operation::Path { .. } => PlaceKind::Path,
            Operation::Pid { .. } => PlaceKind::Pid,
            Operation::Uid { .. } => PlaceKind::Uid,
            Operation::Gid { .. } => PlaceKind::Gid,
            Operation::Hostname(_) => PlaceKind::Hostname,
            Operation::Domainname(_) => PlaceKind::Domainname,
        })
    }

    /// The NEW number of a pid, uid or gid remap.
    pub fn new_number(&self) -> Option<i64> {
        match self {
            Operation::Pid { new, .. }
            | Operation::Uid { new, .. }
            | Operation::Gid { new, .. } => Some(*new),
            _ => None,
        }
    }

    /// The value `place` gets, or None when the operation leaves it alone.
    pub fn map(&self, place: &Place) -> Option<PlaceValue> {
        if Some(place.kind) != self.value_kind() {
            return None;
        }
        match (self, &place.value) {
            (
                Operation::Pid { old, new }
                | Operation::Uid { old, new }
                | Operation::Gid { old, new },
                PlaceValue::Int(v),
            ) => (*v == *old).then_some(PlaceValue::Int(*new)),
            (Operation::Path { old, new }, PlaceValue::Text(p)) => {
                map_path(old, new, p).map(PlaceValue::Text)
            }
            (Operation::Hostname(n) | Operation::Domainname(n), PlaceValue::Text(t)) => {
                (t != n).then(|| PlaceValue::Text(n.clone()))
            }
            _ => None,
        }
    }
}

/// `path` after moving `old` to `new`: exactly, or below a directory (`old` ends with
/// `/`, and then the directory itself moves too).
fn map_path(old: &str, new: &str, path: &str) -> Option<String> {
    match old.strip_suffix('/') {
        None => (path == old).then(|| new.to_string()),
        Some(dir) => {
            let new_dir = new.strip_suffix('/').unwrap_or(new);
            if path == dir || path == old {
                Some(format!("{new_dir}{}", &path[dir.len()..]))
            } else {
                path.strip_prefix(old)
                    .map(|rest| format!("{new_dir}/{rest}"))
            }
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Path { old, new } => write!(f, "--path {old}={new}"),
            Operation::Pid { old, new } => write!(f, "--pid {old}={new}"),
            Operation::Uid { old, new } => write!(f, "--uid {old}={new}"),
            Operation::Gid { old, new } => write!(f, "--gid {old}={new}"),
            Operation::Fd { pid, fd, path, pos } => {
                write!(f, "--fd {pid}:{fd}={path}")?;
                match pos {
                    Some(p) => write!(f, " --pos {p}"),
                    None => Ok(()),
                }
            }
            Operation::Close { pid, fd } => write!(f, "--close {pid}:{fd}"),
            Operation::Hostname(n) => write!(f, "--hostname {n}"),
            Operation::Domainname(n) => write!(f, "--domainname {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_move_exactly_or_below_a_directory() {
        assert_eq!(map_path("/a/b", "/c", "/a/b"), Some("/c".into()));
        assert_eq!(map_path("/a/b", "/c", "/a/bc"), None);
        assert_eq!(map_path("/a/", "/x/y/", "/a"), Some("/x/y".into()));
        assert_eq!(map_path("/a/", "/x/y/", "/a/"), Some("/x/y/".into()));
        assert_eq!(map_path("/a/", "/x/y/", "/a/f/g"), Some("/x/y/f/g".into()));
        assert_eq!(map_path("/a/", "/x/", "/ab/f"), None);
        assert_eq!(
            map_path("/", "/new/", "/etc/passwd"),
            Some("/new/etc/passwd".into())
        );
    }

    #[test]
    fn malformed_operations_say_what_is_expected() {
        let e = Operation::parse("uid", "1000").unwrap_err();
        assert_eq!(e.to_string(), "--uid 1000: expected OLD=NEW");
        let e = Operation::parse("gid", "a=2").unwrap_err();
        assert!(e.to_string().contains("\"a\" is not a number"), "{e}");
        assert!(Operation::parse("pid", "1=0").is_err());
        assert!(Operation::parse("uid", "5=5").is_err());
        assert!(Operation::parse("path", "rel=/x").is_err());
        assert!(Operation::parse("path", "/a/=/x").is_err());
        assert!(Operation::parse("hostname", &"x".repeat(65)).is_err());
        assert!(Operation::parse("fd", "12=/x").is_err());
        assert!(Operation::parse("fd", "12:3=x").is_err());
        assert_eq!(
            Operation::parse("close", "12:3").unwrap(),
            Operation::Close { pid: 12, fd: 3 }
        );
        assert_eq!(
            Operation::parse("close", "12").unwrap_err().to_string(),
            "--close 12: expected PID:FD"
        );
        assert!(Operation::parse("close", "0:3").is_err());
        assert!(Operation::parse("close", "1:x").is_err());
        assert_eq!(
            Operation::parse("fd", "12:3=/var/log/new")
                .unwrap()
                .to_string(),
            "--fd 12:3=/var/log/new"
        );
        assert_eq!(
            Operation::parse("uid", "1000=2000").unwrap(),
            Operation::Uid {
                old: 1000,
                new: 2000
            }
        );
        assert_eq!(
            Operation::parse("path", "/srv/=/data/")
                .unwrap()
                .to_string(),
            "--path /srv/=/data/"
        );
    }
}

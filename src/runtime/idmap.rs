//! The id mapping that box uses for every user namespace it creates, and where it comes
//! from: `/etc/subuid` and `/etc/subgid`, the `newuidmap`/`newgidmap` helpers, or, without
//! them, a single id.
//!
//! Pure logic: nothing here enters a namespace (see [`super::userns`]).

use std::fmt;
use std::path::{Path, PathBuf};

/// One line of a `uid_map`/`gid_map`: `count` ids from `inside` map to `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// How ids inside box's user namespaces relate to the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum IdMapping {
    /// Real root: no user namespace is needed, ids are the host's.
    Host,
    /// The invoking user is root inside; ids 1.. come from the subordinate ranges,
    /// written by the setuid helpers `newuidmap` and `newgidmap`.
    Subordinate {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
    /// Only the invoking user's own id is mapped (to root inside): every file owner in
    /// an image collapses to the user. Used when there is no subuid range or no helper.
    Single {
        uid: u32,
        gid: u32,
        reason: SingleReason,
    },
}

/// Why box fell back to a single-id mapping, so `box info` and warnings can say so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SingleReason {
    NoSubuidRange,
    NoSubgidRange,
    NoNewuidmap,
}

impl fmt::Display for SingleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SingleReason::NoSubuidRange => "no range for this user in /etc/subuid",
            SingleReason::NoSubgidRange => "no range for this user in /etc/subgid",
            SingleReason::NoNewuidmap => {
                "newuidmap/newgidmap not found (install the uidmap package)"
            }
        })
    }
}

impl IdMapping {
    /// Works out the mapping for the invoking user from the host's files and helpers.
    pub fn detect() -> IdMapping {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        if uid == 0 {
            return IdMapping::Host;
        }
        let name = user_name(uid);
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
        let helpers = find_program("newuidmap").is_some() && find_program("newgidmap").is_some();
        Self::choose(uid, gid, name.as_deref(), &subuid, &subgid, helpers)
    }

    /// The decision itself, separate from the host so that it can be tested.
    pub fn choose(
        uid: u32,
        gid: u32,
        name: Option<&str>,
        subuid: &str,
        subgid: &str,
        helpers: bool,
    ) -> IdMapping {
        if uid == 0 {
            return IdMapping::Host;
        }
        let single = |reason| IdMapping::Single { uid, gid, reason };
        let uranges = parse_subid(subuid, name, uid);
        if uranges.is_empty() {
            return single(SingleReason::NoSubuidRange);
        }
        let granges = parse_subid(subgid, name, uid);
        if granges.is_empty() {
            return single(SingleReason::NoSubgidRange);
        }
        if !helpers {
            return single(SingleReason::NoNewuidmap);
        }
        IdMapping::Subordinate {
            uids: stack(uid, &uranges),
            gids: stack(gid, &granges),
        }
    }

    pub fn uid_map(&self) -> Vec<IdRange> {
        match self {
            IdMapping::Host => vec![IdRange {
                inside: 0,
                outside: 0,
                count: u32::MAX,
            }],
            IdMapping::Subordinate { uids, .. } => uids.clone(),
            IdMapping::Single { uid, .. } => vec![IdRange {
                inside: 0,
                outside: *uid,
                count: 1,
            }],
        }
    }

    pub fn gid_map(&self) -> Vec<IdRange> {
        match self {
            IdMapping::Host => vec![IdRange {
                inside: 0,
                outside: 0,
                count: u32::MAX,
            }],
            IdMapping::Subordinate { gids, .. } => gids.clone(),
            IdMapping::Single { gid, .. } => vec![IdRange {
                inside: 0,
                outside: *gid,
                count: 1,
            }],
        }
    }

    /// The host uid that a uid inside maps to, if it is mapped at all.
    pub fn host_uid(&self, inside: u32) -> Option<u32> {
        to_host(&self.uid_map(), inside)
    }

    pub fn host_gid(&self, inside: u32) -> Option<u32> {
        to_host(&self.gid_map(), inside)
    }

    /// One short phrase for `box info` and the store's record.
    pub fn describe(&self) -> String {
        match self {
            IdMapping::Host => "host ids (running as root, no user namespace)".into(),
            IdMapping::Subordinate { uids, gids } => format!(
                "subordinate ids: uid {} gid {}",
                describe_ranges(uids),
                describe_ranges(gids)
            ),
            IdMapping::Single { uid, gid, reason } => format!(
                "single id (uid {uid} gid {gid} as root; other owners collapse to it): {reason}"
            ),
        }
    }
}

fn describe_ranges(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{}->{}+{}", r.inside, r.outside, r.count))
        .collect::<Vec<_>>()
        .join(",")
}

fn to_host(map: &[IdRange], inside: u32) -> Option<u32> {
    map.iter().find_map(|r| {
        let off = inside.checked_sub(r.inside)?;
        (off < r.count).then(|| r.outside + off)
    })
}

/// Root inside is the user; 1.. are the subordinate ranges, one after the other.
fn stack(own: u32, ranges: &[(u32, u32)]) -> Vec<IdRange> {
    let mut map = vec![IdRange {
        inside: 0,
        outside: own,
        count: 1,
    }];
    let mut next = 1u32;
    for &(start, count) in ranges {
        map.push(IdRange {
            inside: next,
            outside: start,
            count,
        });
        next = next.saturating_add(count);
    }
    map
}

/// The ranges of `/etc/subuid`-style text that belong to the user, by name or by uid.
/// Malformed lines are skipped, as shadow-utils does.
pub fn parse_subid(text: &str, name: Option<&str>, uid: u32) -> Vec<(u32, u32)> {
    let uid_s = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let mut it = line.split(':');
            let (who, start, count) = (it.next()?, it.next()?, it.next()?);
            if who != uid_s && Some(who) != name {
                return None;
            }
            let start: u32 = start.trim().parse().ok()?;
            let count: u32 = count.trim().parse().ok()?;
            (count > 0).then_some((start, count))
        })
        .collect()
}

/// The login name of a uid, from /etc/passwd (box does not need NSS for this: a user
/// without a passwd entry simply has no named subuid line).
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut it = l.split(':');
        let name = it.next()?;
        it.next()?;
        (it.next()? == uid.to_string()).then(|| name.to_string())
    })
}

/// Finds an executable on PATH, as a shell would.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str =
        "# comment\nalice:100000:65536\n1001:300000:1000\nbad line\nbob:200000:65536\n";

    #[test]
    fn finds_ranges_by_name_and_uid() {
        assert_eq!(parse_subid(SUB, Some("alice"), 1000), vec![(100000, 65536)]);
        assert_eq!(parse_subid(SUB, Some("carol"), 1001), vec![(300000, 1000)]);
        assert!(parse_subid(SUB, Some("dave"), 1002).is_empty());
    }

    #[test]
    fn subordinate_mapping_puts_user_at_root() {
        let m = IdMapping::choose(1000, 1000, Some("alice"), SUB, SUB, true);
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(1), Some(100000));
        assert_eq!(m.host_uid(1000), Some(100999));
        assert_eq!(m.host_uid(65536), Some(165535));
        assert_eq!(m.host_uid(65537), None);
    }

    #[test]
    fn falls_back_to_single_id() {
        let m = IdMapping::choose(1002, 1002, Some("dave"), SUB, SUB, true);
        assert!(matches!(
            m,
            IdMapping::Single {
                reason: SingleReason::NoSubuidRange,
                ..
            }
        ));
        assert_eq!(m.host_uid(0), Some(1002));
        assert_eq!(m.host_uid(1), None);
        let m = IdMapping::choose(1000, 1000, Some("alice"), SUB, SUB, false);
        assert!(matches!(
            m,
            IdMapping::Single {
                reason: SingleReason::NoNewuidmap,
                ..
            }
        ));
        assert_eq!(
            IdMapping::choose(0, 0, None, "", "", false),
            IdMapping::Host
        );
    }
}

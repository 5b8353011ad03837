//! Capabilities: Docker's names, `--cap-add`/`--cap-drop` arithmetic, and dropping
//! the rest from the bounding, permitted, effective and inheritable sets.

use std::collections::BTreeSet;
use std::str::FromStr;

use caps::{CapSet, Capability};
use thiserror::Error;

use super::spec::DEFAULT_CAPS;

#[derive(Debug, Error)]
pub enum CapsError {
    #[error("unknown capability {0:?}")]
    Unknown(String),
    #[error("cannot {what}: {source}")]
    Apply {
        what: String,
        source: caps::errors::CapsError,
    },
}

/// `CAP_NAME` for `name`, `NAME`, `cap_name`; `ALL` stays `ALL`.
pub fn normalize(name: &str) -> Result<String, CapsError> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    Capability::from_str(&full).map_err(|_| CapsError::Unknown(name.to_string()))?;
    Ok(full)
}

/// Every capability the kernel and the `caps` crate know.
pub fn all_names() -> Vec<String> {
    caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Docker's rules: start from the default set, drop (`ALL` empties it), then add
/// (`ALL` adds every capability).
pub fn resolve(add: &[String], drop: &[String]) -> Result<Vec<String>, CapsError> {
    let mut set: BTreeSet<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for d in drop {
        match normalize(d)?.as_str() {
            "ALL" => set.clear(),
            n => {
                set.remove(n);
            }
        }
    }
    for a in add {
        match normalize(a)?.as_str() {
            "ALL" => set.extend(all_names()),
            n => {
                set.insert(n.to_string());
            }
        }
    }
    Ok(set.into_iter().collect())
}

fn parse_set(keep: &[String]) -> caps::CapsHashSet {
    keep.iter()
        .filter_map(|k| Capability::from_str(k).ok())
        .collect()
}

/// Removes every capability not in `keep` from the bounding set, so no exec can ever
/// regain it.
pub fn limit_bounding(keep: &[String]) -> Result<(), CapsError> {
    let keep = parse_set(keep);
    for c in caps::all() {
        if !keep.contains(&c) {
            // Capabilities newer than the running kernel cannot be dropped: EINVAL.
            if let Err(e) = caps::drop(None, CapSet::Bounding, c) {
                if caps::has_cap(None, CapSet::Bounding, c).unwrap_or(false) {
                    return Err(CapsError::Apply {
                        what: format!("drop {c} from the bounding set"),
                        source: e,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Sets the permitted, effective and inheritable sets to `keep`, as far as the bounding
/// set allows (box itself may run with fewer than all capabilities, and `--privileged`
/// means all that there are).
pub fn set_process(keep: &[String]) -> Result<(), CapsError> {
    let mut set = parse_set(keep);
    if let Ok(bounding) = caps::read(None, CapSet::Bounding) {
        set.retain(|c| bounding.contains(c));
    }
    for (cs, what) in [
        (CapSet::Effective, "effective"),
        (CapSet::Permitted, "permitted"),
        (CapSet::Inheritable, "inheritable"),
    ] {
        caps::set(None, cs, &set).map_err(|source| CapsError::Apply {
            what: format!("set the {what} capabilities"),
            source,
        })?;
    }
    let _ = caps::clear(None, CapSet::Ambient);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop_like_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let r = resolve(&s(&["sys_admin"]), &s(&["CAP_NET_RAW", "chown"])).unwrap();
        assert!(r.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!r.contains(&"CAP_NET_RAW".to_string()) && !r.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(resolve(&s(&["kill"]), &s(&["ALL"])).unwrap(), ["CAP_KILL"]);
        assert!(resolve(&s(&["ALL"]), &[]).unwrap().len() > 38);
        assert!(matches!(
            resolve(&s(&["bogus"]), &[]),
            Err(CapsError::Unknown(_))
        ));
    }
}

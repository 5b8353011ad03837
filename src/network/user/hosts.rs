//! The `/etc/hosts` of containers on user networks or with `--link`: what each file
//! says (its own names, `--add-host` lines, the other members of its networks, its
//! links' aliases), and rewriting the files in place when a member joins, leaves or
//! is renamed.
//!
//! Files are only rewritten, never replaced: the bind mount in a running container
//! pins the inode. Rewrites must happen under the store's lock.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{link_target, Networks};
use crate::runtime::spec::ContainerSpec;

/// The container's `/etc/hosts`: its own names on its first network, `--add-host`
/// lines, then every other member of each of its networks by name, aliases and short
/// id, and `--link` aliases. Docker's embedded DNS answers the same names.
pub fn hosts_file(spec: &ContainerSpec, all: &[ContainerSpec]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match spec.networks.first() {
        Some(a) => {
            let mut names = vec![spec.hostname.clone()];
            for n in std::iter::once(&spec.name).chain(&a.aliases) {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            out.push_str(&format!("{}\t{}\n", a.ip, names.join(" ")));
        }
        None => out.push_str(&format!("127.0.1.1\t{}\n", spec.hostname)),
    }
    for h in &spec.extra_hosts {
        if let Some(ip) = h.ip {
            out.push_str(&format!("{ip}\t{}\n", h.name));
        }
    }
    for mine in &spec.networks {
        for other in all.iter().filter(|o| o.id != spec.id) {
            for theirs in other
                .networks
                .iter()
                .filter(|t| t.network_id == mine.network_id)
            {
                let mut names = vec![other.name.clone()];
                names.extend(theirs.aliases.iter().cloned());
                names.push(other.id[..12].to_string());
                out.push_str(&format!("{}\t{}\n", theirs.ip, names.join(" ")));
            }
        }
    }
    for l in &spec.links {
        if let Some((ip, other)) = link_target(spec, l, all) {
            out.push_str(&format!(
                "{ip}\t{} {} {}\n",
                l.alias,
                other.name,
                &other.id[..12]
            ));
        }
    }
    out
}

/// Rewrites the `/etc/hosts` of every container on a user network or with links, where
/// it changed. In place: the running containers see their bind-mounted file change.
/// Call with the store's lock held.
pub fn refresh_hosts(all: &[ContainerSpec]) {
    for spec in all
        .iter()
        .filter(|s| !s.networks.is_empty() || !s.links.is_empty())
    {
        let path = spec.dir.join("etc").join("hosts");
        let want = hosts_file(spec, all);
        if fs::read_to_string(&path).is_ok_and(|have| have == want) {
            continue;
        }
        if let Ok(mut f) = fs::File::options().write(true).truncate(true).open(&path) {
            let _ = f.write_all(want.as_bytes());
        }
    }
}

/// After a member joined, left, or was renamed: every member's `/etc/hosts` again,
/// under the store's lock.
pub fn refresh_members(data: &Path, containers: &crate::container::Containers) {
    if let Ok(nets) = Networks::open(data) {
        if let Ok(_lock) = nets.lock() {
            refresh_hosts(&containers.specs());
        }
    }
}

/// Whether a change to this container concerns other containers' `/etc/hosts`.
pub fn is_member(spec: &ContainerSpec) -> bool {
    !spec.networks.is_empty() || !spec.links.is_empty()
}

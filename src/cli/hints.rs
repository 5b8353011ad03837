//! The `hint:` line after an error, for the mistakes whose fix box knows: a helper
//! program that is not installed, a user without a subordinate id range, a registry
//! that wants credentials, a port the network helper cannot forward. The error line
//! says what went wrong; the hint says what to type, so it names the user's own account
//! and a range that is free.

use boxc::image::pull::PullError;
use boxc::image::registry::RegistryError;
use boxc::runtime::idmap::user_name;

use super::notyet::NotImplemented;

/// Programs box runs, and the Debian package that has each.
const HELPERS: &[(&str, &str)] = &[
    ("newuidmap", "uidmap"),
    ("newgidmap", "uidmap"),
    ("fuse-overlayfs", "fuse-overlayfs"),
    ("pasta", "passt"),
    ("slirp4netns", "slirp4netns"),
];

/// `line` is the error as printed: what the library's messages say is matched there,
/// since errors from the container's side arrive as text.
pub fn for_error(e: &anyhow::Error, line: &str) -> Option<String> {
    if let Some(h) = unauthorized(e) {
        return Some(h);
    }
    if let Some(n) = e.chain().find_map(|c| c.downcast_ref::<NotImplemented>()) {
        return Some(n.hint());
    }
    if let Some(h) = e
        .chain()
        .find_map(|c| c.downcast_ref::<boxc::network::ports::PortError>())
        .and_then(|p| p.hint())
    {
        return Some(h);
    }
    for (prog, package) in HELPERS {
        if line.contains(&format!("{prog} not found"))
            || line.contains(&format!("{prog} is not installed"))
        {
            return Some(format!(
                "install it as root: apt-get install {package} (Debian, Ubuntu)"
            ));
        }
    }
    if line.contains("is not mapped in this user namespace")
        || line.contains("no range for this user in /etc/subuid")
    {
        return Some(subid_hint());
    }
    None
}

fn unauthorized(e: &anyhow::Error) -> Option<String> {
    let (host, logged_in) = e.chain().find_map(|c| {
        let r = match c.downcast_ref::<PullError>() {
            Some(PullError::Registry(r)) => Some(r),
            _ => c.downcast_ref::<RegistryError>(),
        };
        match r {
            Some(RegistryError::Unauthorized {
                host, logged_in, ..
            }) => Some((host.clone(), *logged_in)),
            _ => None,
        }
    })?;
    const FILES: &str = "$XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json";
    Some(if logged_in {
        format!("check the credentials for {host} in {FILES}")
    } else {
        format!("box has no login command: it reads credentials from {FILES} (as podman login and docker login write them); add an \"auths\" entry for {host} there")
    })
}

/// The lines to add for this user, with a range that no other user's overlaps.
fn subid_hint() -> String {
    let uid = rustix::process::getuid().as_raw();
    let name = user_name(uid).unwrap_or_else(|| uid.to_string());
    let files =
        ["/etc/subuid", "/etc/subgid"].map(|f| std::fs::read_to_string(f).unwrap_or_default());
    let start = free_range_start(&files);
    format!("as root, add the line \"{name}:{start}:65536\" to /etc/subuid and to /etc/subgid (and install the uidmap package) to map 65536 ids")
}

/// Where a new 65536-id range can start: after every range already given out, on
/// useradd's grid (100000, 165536, ...).
fn free_range_start(files: &[String]) -> u64 {
    let end = files
        .iter()
        .flat_map(|f| f.lines())
        .filter_map(|l| {
            let mut parts = l.trim().split(':');
            let _owner = parts.next()?;
            let start: u64 = parts.next()?.parse().ok()?;
            let count: u64 = parts.next()?.parse().ok()?;
            Some(start + count)
        })
        .max()
        .unwrap_or(0);
    let mut start = 100_000;
    while start < end {
        start += 65_536;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_range_follows_the_others() {
        assert_eq!(free_range_start(&[String::new()]), 100_000);
        let taken = "alice:100000:65536\nbob:165536:65536\n".to_string();
        assert_eq!(free_range_start(&[taken, String::new()]), 231_072);
        let odd = "x:200000:65536\n".to_string();
        assert_eq!(free_range_start(&[odd]), 296_608);
    }

    #[test]
    fn helpers_name_their_package() {
        let e = anyhow::anyhow!("newuidmap not found on PATH (install the uidmap package)");
        let h = for_error(&e, &e.to_string()).unwrap();
        assert!(h.contains("apt-get install uidmap"), "{h}");
        let e = anyhow::anyhow!("pasta is not installed: install the passt package");
        assert!(for_error(&e, &e.to_string()).unwrap().contains("passt"));
    }

    #[test]
    fn unauthorized_names_the_credential_files() {
        let e: anyhow::Error = PullError::Registry(RegistryError::Unauthorized {
            host: "reg.example".into(),
            repository: "app".into(),
            logged_in: false,
        })
        .into();
        let h = for_error(&e, &e.to_string()).unwrap();
        assert!(
            h.contains("~/.docker/config.json") && h.contains("reg.example"),
            "{h}"
        );
    }
}

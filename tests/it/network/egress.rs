//! Egress and DNS through each helper: names resolve, the Debian archive answers
//! (`apt-get update` included), `--dns*` and `-h` shape resolv.conf and the hostname,
//! and `--network none` leaves loopback only. Nothing about the host's own services,
//! which are `host`'s.

use super::{debian, helpers};
use crate::harness::*;

/// Egress and DNS, on each helper: names resolve through the helper, and the
/// Debian archive (which these machines reach) answers.
fn egress_and_dns(user: User) {
    let sb = Sandbox::new(user);
    if user == User::Root {
        sb.run(&["run", "--rm", "--network", "pasta", &bb(), "true"])
            .fails_with("pasta does not run as root");
    }
    for &net in helpers(user) {
        let o = sb.run(&[
            "run",
            "--rm",
            "--network",
            net,
            &bb(),
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup deb.debian.org >/dev/null && echo resolved; \
             wget -q -O- http://deb.debian.org/debian/dists/bookworm/Release | head -1",
        ]);
        assert_eq!(o.code(), 0, "{net}: {}", o.both());
        let out = o.stdout();
        let forwarder = if net == "pasta" {
            "169.254.1.1"
        } else {
            "10.0.2.3"
        };
        assert!(
            out.contains(&format!("nameserver {forwarder}")),
            "{net}: {out}"
        );
        assert!(out.contains("resolved\n"), "{net}: {out}");
        assert!(out.contains("Origin: Debian"), "{net}: {out}");
    }
    let o = sb.ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "-h",
        "named",
        &bb(),
        "sh",
        "-c",
        "cat /etc/resolv.conf; hostname",
    ]);
    assert_eq!(
        o.stdout(),
        "search example.com\nnameserver 192.0.2.53\noptions ndots:2\nnamed\n"
    );
    let o = sb.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &bb(),
        "sh",
        "-c",
        "ls /sys/class/net",
    ]);
    assert_eq!(o.stdout(), "lo\n", "none: loopback only");
}
per_user!(egress_and_dns, egress_and_dns);

/// The `apt-get update` of a Debian container fetches Debian's package lists (apt says
/// "Reading package lists" and exits 0 even when every source failed, so what counts
/// is a `Hit:` or `Get:` line and no failure).
fn debian_apt_get_update(user: User) {
    let sb = Sandbox::new(user);
    let img = debian();
    let mut args = vec!["run", "--rm", &img, "apt-get"];
    if user == User::NoSub {
        // One id mapped: apt's methods cannot drop to the `_apt` user (uid 42 is not
        // mapped, setgroups is denied), so they run as the container's root.
        args.extend(["-o", "APT::Sandbox::User=root"]);
    }
    args.push("update");
    let o = sb.run(&args);
    assert_eq!(o.code(), 0, "{}", o.both());
    let out = o.both();
    assert!(
        out.lines()
            .any(|l| l.starts_with("Hit:") || l.starts_with("Get:")),
        "nothing fetched:\n{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("Err:") || l.starts_with("W: Failed") || l.starts_with("E:")),
        "a source failed:\n{out}"
    );
}
per_user!(debian_apt_get_update, debian_apt_get_update);

//! State that interrupted or older commands leave: a name left pointing at nothing.

use std::time::Duration;

use crate::ctr::*;
use crate::harness::*;

/// A name left pointing at a directory that is gone is free, for `box rename` too,
/// which takes it at once (it holds the names' lock while it does).
fn rename_onto_stale_name(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &bb()]);
    sb.ok(&["run", "--name", "a", &bb(), "true"]);
    let link = sb.store().join("containers/names/stale");
    std::os::unix::fs::symlink("ab".repeat(32), &link).unwrap();
    chown(&link, user);
    let c = sb.cmd(&["rename", "a", "stale"]);
    let o = Out(output_within(c, Duration::from_secs(20)), "rename".into());
    assert_eq!(o.code(), 0, "{}", o.both());
    assert_eq!(
        sb.ok(&["ps", "-a", "--format", "{{.Names}}"]).stdout(),
        "stale\n"
    );
    sb.ok(&["rename", "stale", "b"]);
    sb.ok(&["rm", "b"]);
    assert_eq!(
        std::fs::read_dir(sb.store().join("containers/names"))
            .unwrap()
            .count(),
        0
    );
}
per_user!(rename_onto_stale_name, rename_onto_stale_name);

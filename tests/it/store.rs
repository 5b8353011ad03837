//! Removing images: `rmi` and `image prune` take away exactly what nothing else uses.

use crate::harness::*;
use crate::pull::assert_empty_tmp;

fn layer_dirs(sb: &Sandbox) -> usize {
    std::fs::read_dir(sb.store().join("layers"))
        .unwrap()
        .count()
}

fn rmi_keeps_shared_layers(user: User) {
    let sb = Sandbox::new(user);
    sb.ok(&["pull", "-q", &image("busybox")]);
    sb.ok(&["pull", "-q", &image("busybox:1.36")]);
    sb.ok(&["pull", "-q", &image("layers")]);
    sb.ok(&["tag", &image("layers"), "copy:one"]);
    assert_eq!(layer_dirs(&sb), 4);

    // Untagging one of two tags keeps the image.
    let out = sb.ok(&["rmi", &image("busybox:1.36")]).stdout();
    assert_eq!(out.trim(), format!("Untagged: {}/busybox:1.36", registry()));
    assert_eq!(layer_dirs(&sb), 4);

    // An id naming an image with two tags needs -f.
    let id = &fixture("layers")["config"].as_str().unwrap()[7..19];
    sb.run(&["rmi", id]).fails_with("must be forced");
    let out = sb.ok(&["rmi", "-f", id]).stdout();
    assert!(
        out.contains("Untagged: copy:one") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert_eq!(layer_dirs(&sb), 1, "the layers image's three layers went");
    assert!(
        sb.layer_diff(&layers("busybox")[0]).is_dir(),
        "busybox's layer stays"
    );

    // Several names: each reported, one failure does not stop the rest.
    let o = sb.run(&["rmi", "nosuch", &image("busybox")]);
    assert_eq!(o.code(), 125);
    assert!(o.stderr().contains("No such image: nosuch"), "{}", o.both());
    assert!(o.stdout().contains("Deleted:"), "{}", o.both());
    assert_eq!(layer_dirs(&sb), 0);
    assert!(
        std::fs::read_dir(sb.store().join("l"))
            .unwrap()
            .next()
            .is_none(),
        "short links removed"
    );
    assert!(sb.ok(&["images", "-q"]).stdout().is_empty());
    assert_empty_tmp(&sb);
    // The store still works.
    sb.ok(&["pull", "-q", &image("busybox")]);
}
per_user!(rmi, rmi_keeps_shared_layers);

#[test]
fn prune_dangling_then_all() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &image("multiarch")]);
    sb.ok(&[
        "pull",
        "-q",
        "--platform",
        "linux/arm64",
        &image("multiarch"),
    ]);
    sb.ok(&["pull", "-q", &image("busybox")]);
    let list = sb.ok(&["images"]).stdout();
    assert!(
        list.contains("<none>"),
        "the amd64 image lost its tag:\n{list}"
    );
    let out = sb.ok(&["image", "prune", "-f"]).stdout();
    assert!(
        out.contains("deleted: sha256:") && out.contains("Total reclaimed space:"),
        "{out}"
    );
    assert_eq!(sb.ok(&["images", "-q"]).stdout().lines().count(), 2);
    // Without -f and without a "y" on stdin nothing is removed.
    sb.ok(&["image", "prune", "-a"]);
    assert_eq!(sb.ok(&["images", "-q"]).stdout().lines().count(), 2);
    sb.ok(&["image", "prune", "-a", "-f"]);
    assert!(sb.ok(&["images", "-q"]).stdout().is_empty());
    assert_eq!(layer_dirs(&sb), 0);
}

/// rmi waits for a pull in progress instead of deleting layers under it.
#[test]
fn rmi_during_pull() {
    assert!(
        debian_available(),
        "the debian fixture is needed (tests/run.sh builds it)"
    );
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["pull", "-q", &image("busybox")]);
    let mut pull = sb
        .cmd(&["pull", "-q", &image("debian:bookworm")])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    sb.ok(&["rmi", &image("busybox")]);
    assert!(pull.wait().unwrap().success());
    let v: serde_json::Value = serde_json::from_str(
        &sb.ok(&["image", "inspect", &image("debian:bookworm")])
            .stdout(),
    )
    .unwrap();
    assert_eq!(v[0]["Id"], fixture("debian:bookworm")["config"]);
    assert!(sb
        .layer_diff(&layers("debian:bookworm")[0])
        .join("etc/os-release")
        .exists());
}

/// An image a container uses is kept unless forced; forced, its layers stay until the
/// container goes.
#[test]
fn images_in_use_by_containers() {
    let sb = Sandbox::new(User::Sub);
    sb.ok(&["run", "--name", "keep", &image("busybox"), "true"]);
    sb.run(&["rmi", &image("busybox")])
        .fails_with("image is being used by container");
    sb.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(
        sb.ok(&["images", "-q"]).stdout().lines().count(),
        1,
        "prune -a keeps images in use"
    );
    sb.ok(&["rmi", "-f", &image("busybox")]);
    assert!(
        sb.layer_diff(&layers("busybox")[0]).is_dir(),
        "the container's layer stays"
    );
}

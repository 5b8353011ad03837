# shellcheck shell=bash disable=SC2154,SC2034
# bench/lib.sh: what the benchmarks (pull.sh, start.sh, shim-memory.sh) share, sourced after they have
# set repo, BENCH_WORK, BENCH_FS, BENCH_FS_SIZE, BENCH_USER, podman_as, say and die.
# It builds (or takes) the box binary, and makes the benchmark filesystem (see README.md
# for why a fresh journaled ext4 on a loop device): sets box, box_version and W, and
# installs the EXIT trap that undoes it.

# --- 2. box binary ----------------------------------------------------------------------------
mkdir -p "$BENCH_WORK" && chmod 0755 "$BENCH_WORK"
if [ -n "${BOX_BIN:-}" ]; then
  src_bin=$BOX_BIN
else
  say "building box (cargo build --release, non-PIE: see README.md)"
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    # Build as the invoking user so the target dir does not fill with root-owned files.
    suhome=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    run_build() { (cd "$repo" && runuser -u "$SUDO_USER" -- env HOME="$suhome" \
      PATH="$suhome/.cargo/bin:$PATH" ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} "$@"); }
  else
    run_build() { (cd "$repo" && PATH="$HOME/.cargo/bin:$PATH" "$@"); }
  fi
  # The release build as install.sh makes it: a position-dependent executable
  # (relocation-model=static), whose read-only data needs no relocating at start, so every
  # process shares it with the file instead of holding a private copy (~180 kB per shim;
  # README.md, shim-memory.sh). The explicit --target keeps RUSTFLAGS off build scripts and
  # proc macros, and puts the binary in target/<triple>/release.
  host=$(run_build rustc -vV | sed -n 's/^host: //p')
  [ -n "$host" ] || die "cannot tell the host triple from rustc -vV"
  run_build env RUSTFLAGS="-C relocation-model=static" \
    cargo build --release --bin box --target "$host" >&2 || die "cargo build failed"
  target_dir=$(run_build cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
  src_bin=$target_dir/$host/release/box
fi
[ -x "$src_bin" ] || die "no box binary at $src_bin"
mkdir -p "$BENCH_WORK/bin" && chmod 0755 "$BENCH_WORK/bin"
box=$BENCH_WORK/bin/box
install -m 0755 "$src_bin" "$box"
box_version=$("$box" --version 2>/dev/null || echo unknown)

# --- 3. benchmark filesystem ------------------------------------------------------------------
podman_user() { "$podman_as" "$BENCH_USER" "$@"; }
W=$BENCH_WORK/fs
mounted=0
cleanup() {
  set +e
  # End the pause process: its mount namespace holds a reference to the loop filesystem.
  podman_user system migrate >/dev/null 2>&1
  if [ "$mounted" = 1 ]; then umount "$W" && rm -f "$BENCH_WORK/fs.img"; else rm -rf "$W"; fi
}
trap cleanup EXIT
if mountpoint -q "$W"; then umount "$W"; fi          # left over from an interrupted run
rm -rf "$W" "$BENCH_WORK/fs.img"; mkdir -p "$W"
if [ "$BENCH_FS" = loop ]; then
  say "fresh journaled ext4 ($BENCH_FS_SIZE, loop) at $W"
  truncate -s "$BENCH_FS_SIZE" "$BENCH_WORK/fs.img"
  mkfs.ext4 -q -F "$BENCH_WORK/fs.img"
  mount -o loop "$BENCH_WORK/fs.img" "$W"; mounted=1
fi
chmod 0755 "$W"
# Rootless podman joins its pause process's mount namespace: restart that process so it is
# created after (and sees) the mount above.
podman_user system migrate >/dev/null 2>&1 || die "podman system migrate failed"


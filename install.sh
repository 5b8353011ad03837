#!/usr/bin/env bash
# Installs box and what it needs on Debian 12 (run as root, e.g. `sudo ./install.sh`):
#   - the helper programs box runs (uidmap's newuidmap/newgidmap, fuse-overlayfs,
#     passt's pasta, slirp4netns) and a C compiler for the crates that build C;
#   - a Rust toolchain through rustup if there is no cargo (Debian 12's own is too old);
#   - the box binary in /usr/local/bin, its man pages and shell completions;
#   - a subordinate id range for the user who ran sudo, if they have none, so that
#     containers get a full range of ids instead of the single-id fallback.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo ./install.sh)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq uidmap fuse-overlayfs passt slirp4netns gcc make pkg-config curl ca-certificates >/dev/null

# Build as the invoking user when there is one, so target/ and ~/.cargo stay theirs.
builder=${SUDO_USER:-root}
as_builder() { if [ "$builder" = root ]; then "$@"; else runuser -u "$builder" -- "$@"; fi; }
builder_home=$(getent passwd "$builder" | cut -d: -f6)
cargo=$(as_builder bash -lc 'command -v cargo' 2>/dev/null || true)
[ -n "$cargo" ] || { [ -x "$builder_home/.cargo/bin/cargo" ] && cargo="$builder_home/.cargo/bin/cargo"; } || true
if [ -z "$cargo" ]; then
  echo "install.sh: no cargo found; installing a Rust toolchain with rustup for $builder"
  as_builder bash -c 'curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal'
  cargo="$builder_home/.cargo/bin/cargo"
fi
# A position-dependent executable (relocation-model=static): its read-only data needs no
# relocating at start, so each process shares those pages with the file instead of keeping a
# private, relocated copy; that is ~180 kB less memory for every container's shim, and a
# slightly quicker exec (bench/README.md, "shim-memory.sh"). The explicit --target keeps
# RUSTFLAGS off build scripts and proc macros; the binary lands in target/<triple>/release.
host=$(as_builder "$(dirname "$cargo")/rustc" -vV 2>/dev/null | sed -n 's/^host: //p' || true)
[ -n "$host" ] || host=$(as_builder bash -lc 'rustc -vV' | sed -n 's/^host: //p')
as_builder env RUSTFLAGS="-C relocation-model=static" \
  "$cargo" build --release --locked --target "$host" --manifest-path "$here/Cargo.toml"

install -m 0755 "$here/target/$host/release/box" /usr/local/bin/box
install -d /usr/local/share/man/man1 /usr/share/bash-completion/completions \
  /usr/share/zsh/vendor-completions /usr/share/fish/vendor_completions.d
install -m 0644 "$here"/man/*.1 /usr/local/share/man/man1/
install -m 0644 "$here/completions/box.bash" /usr/share/bash-completion/completions/box
install -m 0644 "$here/completions/_box" /usr/share/zsh/vendor-completions/_box
install -m 0644 "$here/completions/box.fish" /usr/share/fish/vendor_completions.d/box.fish

# A subuid/subgid range for the invoking user, after the highest range in use.
if [ "$builder" != root ]; then
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$builder:" "$f"; then
      start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
      echo "$builder:$start:65536" >> "$f"
      echo "install.sh: added $builder:$start:65536 to $f"
    fi
  done
fi
echo "box installed: $(/usr/local/bin/box version | head -1)"

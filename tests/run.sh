#!/usr/bin/env bash
# tests/run.sh -- THE one test command for box.  Run it as root:
#
#     sudo tests/run.sh                 # prepare everything, run cargo test
#     sudo tests/run.sh --setup-only    # prepare, leave registries running,
#                                       # print the env exports, then exit
#     sudo tests/run.sh --teardown      # stop what --setup-only left running
#
# Why root: box is a *rootless* tool, so its tests run it as unprivileged
# users, and only root can create those users, give one of them a
# subordinate id range, install packages and open up /dev/fuse and
# /dev/net/tun the way a desktop distribution does.  The test binaries
# themselves drop to those users (BOX_TEST_SUB_USER / BOX_TEST_NOSUB_USER).
#
# Steps, in order:
#   1. apt-get install the tools the tests use, if any is missing.
#   2. Make the machine look like a laptop (device modes, userns sysctls).
#   3. Create the users boxtest-sub (subuid/subgid 200000:65536) and
#      boxtest-nosub (no subordinate ids at all).
#   4. Start two throw-away registries (Debian's docker-registry):
#      127.0.0.1:5000 open, 127.0.0.1:5001 with basic auth boxuser:boxpass.
#   5. Build and push the fixture images (tests/fixtures/build.py).
#   6. cargo test --workspace --locked -- --test-threads=2, exit with its
#      status.  Registries and temp files are removed on exit.
#
# Environment the Rust tests get (also printed by --setup-only):
#   BOX_TEST_REGISTRY=127.0.0.1:5000        open registry with the fixtures
#   BOX_TEST_AUTH_REGISTRY=127.0.0.1:5001   basic-auth registry
#   BOX_TEST_AUTH_USER=boxuser BOX_TEST_AUTH_PASSWORD=boxpass
#   BOX_TEST_REGISTRY_STORE=<dir>           storage root of :5000 (holds
#                                           docker/registry/v2)
#   BOX_TEST_FIXTURES=<file>                JSON: "name:tag" -> digests
#   BOX_TEST_SUB_USER=boxtest-sub  BOX_TEST_NOSUB_USER=boxtest-nosub
#   BOX_TEST_DEBIAN=1                       only if debian:bookworm was pushed
#
# Knobs:
#   BOX_TEST_CACHE=<dir>   where the debian tarball is cached
#                          (default /var/cache/boxtest: built once per machine)
#   BOX_TEST_NO_DEBIAN=1   skip debian:bookworm (no mmdebstrap run)
#
# --setup-only also writes the export lines to /tmp/boxtest-env.sh, so
# `. /tmp/boxtest-env.sh && cargo test` works from another shell.  Any later
# run (or --teardown) first stops registries an earlier --setup-only left,
# since they hold the same ports.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=/tmp/boxtest-env.sh
REG_PORT=5000
AUTH_PORT=5001
AUTH_USER=boxuser
AUTH_PASSWORD=boxpass
SUB_USER=boxtest-sub
NOSUB_USER=boxtest-nosub
SUB_RANGE="$SUB_USER:200000:65536"
CACHE=${BOX_TEST_CACHE:-/var/cache/boxtest}
PACKAGES=(uidmap docker-registry slirp4netns passt fuse-overlayfs
          busybox-static mmdebstrap zstd python3 curl apache2-utils
          util-linux zsh fish man-db)

say() { printf 'run.sh: %s\n' "$*"; }
warn() { printf 'run.sh: WARNING: %s\n' "$*" >&2; }
die() { printf 'run.sh: ERROR: %s\n' "$*" >&2; exit 1; }

MODE="test"
case "${1:-}" in
    "") ;;
    --setup-only) MODE=setup ;;
    --teardown) MODE=teardown ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "run me as root: sudo tests/run.sh"

# ---------------------------------------------------------------------------
# Leftovers of earlier runs
# ---------------------------------------------------------------------------

# Stop registries started by an earlier run (normally a --setup-only one)
# and remove its temp dir.  Each one is found through the pid file we wrote
# and killed by pid, and only if that pid's command line still names that
# run's directory (so a recycled pid is never hit).
teardown_previous() {
    local pidfile dir pid
    for pidfile in /tmp/boxtest.*/registry-*.pid; do
        [ -e "$pidfile" ] || continue
        dir=$(dirname "$pidfile")
        pid=$(cat "$pidfile")
        if [ -r "/proc/$pid/cmdline" ] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
            say "stopping registry (pid $pid) left by an earlier run in $dir"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                [ -e "/proc/$pid" ] || break
                sleep 0.1
            done
        fi
        rm -f "$pidfile"
    done
    # Then the dirs themselves, recognised by the marker every run writes
    # (a run killed with SIGKILL never got to remove its own).
    for dir in /tmp/boxtest.*; do
        [ -e "$dir/.boxtest-root" ] && rm -rf "$dir"
    done
    rm -f "$ENV_FILE"
}

if [ "$MODE" = teardown ]; then
    teardown_previous
    say "teardown done"
    exit 0
fi

# ---------------------------------------------------------------------------
# 1. Packages
# ---------------------------------------------------------------------------

# The Debian docker-registry package runs a system registry on :5000, the
# port our test registry needs.  Stop and disable it whichever init system
# (or none, in a container) is in charge, then kill any remnant of it by
# pid, recognised by the package's config file on its command line.
system_registry_pids() {
    local pid
    for pid in $(pgrep -x docker-registry || true); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
            grep -qF /etc/docker/registry/config.yml && echo "$pid"
    done
    return 0
}

stop_system_registry() {
    local pid
    if [ -n "$(system_registry_pids)" ]; then
        say "stopping and disabling the docker-registry system service (it holds :$REG_PORT)"
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/docker-registry ]; then
        /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null; then
            update-rc.d docker-registry disable >/dev/null 2>&1 || true
        fi
    fi
    # Whatever survived the init system (or was started without one).
    for pid in $(system_registry_pids); do
        kill "$pid" 2>/dev/null || true
    done
}

install_packages() {
    local p missing=() log policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A policy-rc.d that answers 101 stops maintainer scripts from starting
    # services, so docker-registry's postinst never grabs :5000.  Only
    # added if the machine has none, and removed again right after.
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# added by box tests/run.sh during apt-get\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        added_policy=1
    fi
    log=$(mktemp /tmp/boxtest-apt.XXXXXX)
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$log" 2>&1 || rc=$?
    [ "$added_policy" -eq 1 ] && rm -f "$policy"
    if [ "$rc" -ne 0 ]; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        die "apt-get failed (exit $rc)"
    fi
    rm -f "$log"
}

install_packages
stop_system_registry

# ---------------------------------------------------------------------------
# 2. Make the machine look like a laptop
# ---------------------------------------------------------------------------

# Desktop distributions give every user rw on /dev/fuse (fuse-overlayfs)
# and /dev/net/tun (slirp4netns/pasta); CI machines ship them 0600, which
# would make rootless features fail for reasons no user ever sees.
for dev in /dev/fuse /dev/net/tun; do
    if [ -e "$dev" ]; then
        chmod 0666 "$dev"
        say "prepare: chmod 0666 $dev (as on a desktop distro; CI ships 0600)"
    else
        warn "$dev does not exist; tests needing it will fail"
    fi
done

# Old Debian kernels gate unprivileged user namespaces behind this sysctl.
if [ -e /proc/sys/kernel/unprivileged_userns_clone ]; then
    sysctl -qw kernel.unprivileged_userns_clone=1
    say "prepare: kernel.unprivileged_userns_clone=1"
fi
# Ubuntu-style AppArmor restriction of unprivileged user namespaces.
if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then
    sysctl -qw kernel.apparmor_restrict_unprivileged_userns=0
    say "prepare: kernel.apparmor_restrict_unprivileged_userns=0"
fi
if [ "$(cat /proc/sys/user/max_user_namespaces)" -le 0 ]; then
    sysctl -qw user.max_user_namespaces=15000 ||
        die "user.max_user_namespaces is 0 and cannot be raised"
    say "prepare: user.max_user_namespaces=15000 (was 0)"
else
    say "prepare: user.max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces) (> 0, ok)"
fi

# ---------------------------------------------------------------------------
# 3. Test users
# ---------------------------------------------------------------------------

ensure_user() {
    if ! id -u "$1" >/dev/null 2>&1; then
        useradd --create-home --home-dir "/home/$1" --shell /bin/sh "$1"
        say "prepare: created user $1"
    fi
}

# Exactly one range for boxtest-sub and none for boxtest-nosub.  Debian's
# useradd allocates ranges on its own, so every line naming either user
# (by name or by uid, both of which newuidmap accepts) is dropped first.
fix_subids() {
    local f tmp sub_uid nosub_uid
    sub_uid=$(id -u "$SUB_USER")
    nosub_uid=$(id -u "$NOSUB_USER")
    for f in /etc/subuid /etc/subgid; do
        [ -e "$f" ] || { touch "$f"; chmod 0644 "$f"; }
        tmp="$f.boxtest.$$"
        awk -F: -v a="$SUB_USER" -v b="$NOSUB_USER" \
            -v ua="$sub_uid" -v ub="$nosub_uid" \
            '$1 != a && $1 != b && $1 != ua && $1 != ub' "$f" >"$tmp"
        echo "$SUB_RANGE" >>"$tmp"
        if cmp -s "$tmp" "$f"; then
            rm -f "$tmp"
        else
            chmod --reference="$f" "$tmp"
            mv "$tmp" "$f"
            say "prepare: $f: $SUB_RANGE, nothing for $NOSUB_USER"
        fi
    done
}

ensure_user "$SUB_USER"
ensure_user "$NOSUB_USER"
fix_subids

# ---------------------------------------------------------------------------
# 4. Registries
# ---------------------------------------------------------------------------

teardown_previous

ROOT=$(mktemp -d /tmp/boxtest.XXXXXX)
# World-readable: the unprivileged test users read fixtures.json etc.
chmod 0755 "$ROOT"
touch "$ROOT/.boxtest-root"
KEEP=0

# shellcheck disable=SC2317  # only ever invoked through the EXIT trap
cleanup() {
    local rc=$? pidfile pid
    if [ "$KEEP" -eq 0 ]; then
        for pidfile in "$ROOT"/registry-*.pid; do
            [ -e "$pidfile" ] || continue
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        rm -rf "$ROOT"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# write_config PORT STORAGE_DIR [HTPASSWD_FILE]
write_config() {
    local port=$1 storage=$2 htpasswd=${3:-}
    mkdir -p "$storage"
    cat <<EOF
# Written by box tests/run.sh: a throw-away test registry.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  # Fixed so the registry does not warn about generating one.
  secret: boxtest-not-a-secret
EOF
    if [ -n "$htpasswd" ]; then
        cat <<EOF
auth:
  htpasswd:
    realm: boxtest
    path: $htpasswd
EOF
    fi
}

http_code() {
    # --noproxy: an http_proxy in the environment must not see loopback.
    curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
}

# start_registry PORT CONFIG EXPECTED_CODE
start_registry() {
    local port=$1 config=$2 want=$3 pid code
    code=$(http_code "http://127.0.0.1:$port/v2/")
    [ "$code" = 000 ] || die "127.0.0.1:$port is already taken (HTTP $code); stop whatever listens there"
    # setsid: the registries of a --setup-only run must outlive this
    # script's session (no SIGHUP when the terminal closes).  Without job
    # control the child is no group leader, so setsid execs in place and
    # $! is the registry's own pid.
    setsid /usr/bin/docker-registry serve "$config" \
        >"$ROOT/registry-$port.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$ROOT/registry-$port.pid"
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || {
            tail -n 20 "$ROOT/registry-$port.log" >&2
            die "registry on :$port exited"
        }
        code=$(http_code "http://127.0.0.1:$port/v2/")
        [ "$code" = "$want" ] && return 0
        sleep 0.2
    done
    tail -n 20 "$ROOT/registry-$port.log" >&2
    die "registry on :$port did not answer GET /v2/ with $want (last: $code)"
}

STORE="$ROOT/registry"
write_config "$REG_PORT" "$STORE" >"$ROOT/registry-$REG_PORT.yml"
start_registry "$REG_PORT" "$ROOT/registry-$REG_PORT.yml" 200

# distribution's htpasswd backend accepts bcrypt hashes only, hence -B.
htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$ROOT/htpasswd" 2>/dev/null
write_config "$AUTH_PORT" "$ROOT/registry-auth" "$ROOT/htpasswd" \
    >"$ROOT/registry-$AUTH_PORT.yml"
start_registry "$AUTH_PORT" "$ROOT/registry-$AUTH_PORT.yml" 401
say "registries: 127.0.0.1:$REG_PORT (open) and 127.0.0.1:$AUTH_PORT (basic auth), logs in $ROOT"

# ---------------------------------------------------------------------------
# 5. Fixtures
# ---------------------------------------------------------------------------

FIXTURES="$ROOT/fixtures.json"
build_args=(--registry "127.0.0.1:$REG_PORT"
            --auth-registry "127.0.0.1:$AUTH_PORT"
            --registry-store "$STORE" --cache "$CACHE" --out "$FIXTURES")
[ "${BOX_TEST_NO_DEBIAN:-}" = 1 ] && build_args+=(--no-debian)
python3 "$REPO/tests/fixtures/build.py" "${build_args[@]}"
chmod 0644 "$FIXTURES"

fixture_count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$FIXTURES")
has_debian=$(python3 -c 'import json,sys; print(int("debian:bookworm" in json.load(open(sys.argv[1]))))' "$FIXTURES")

# ---------------------------------------------------------------------------
# 6. Environment and cargo
# ---------------------------------------------------------------------------

export BOX_TEST_REGISTRY="127.0.0.1:$REG_PORT"
export BOX_TEST_AUTH_REGISTRY="127.0.0.1:$AUTH_PORT"
export BOX_TEST_AUTH_USER="$AUTH_USER"
export BOX_TEST_AUTH_PASSWORD="$AUTH_PASSWORD"
export BOX_TEST_REGISTRY_STORE="$STORE"
export BOX_TEST_FIXTURES="$FIXTURES"
export BOX_TEST_SUB_USER="$SUB_USER"
export BOX_TEST_NOSUB_USER="$NOSUB_USER"
exports=(BOX_TEST_REGISTRY BOX_TEST_AUTH_REGISTRY BOX_TEST_AUTH_USER
         BOX_TEST_AUTH_PASSWORD BOX_TEST_REGISTRY_STORE BOX_TEST_FIXTURES
         BOX_TEST_SUB_USER BOX_TEST_NOSUB_USER)
if [ "$has_debian" = 1 ]; then
    export BOX_TEST_DEBIAN=1
    exports+=(BOX_TEST_DEBIAN)
else
    unset BOX_TEST_DEBIAN
fi

say "prepared: users $SUB_USER (subids 200000:65536) + $NOSUB_USER (none); registries 127.0.0.1:$REG_PORT + 127.0.0.1:$AUTH_PORT ($AUTH_USER); $fixture_count fixture tags; debian:bookworm $([ "$has_debian" = 1 ] && echo yes || echo no); root $ROOT"

if [ "$MODE" = setup ]; then
    KEEP=1
    {
        echo "# box test environment from tests/run.sh --setup-only ($(date -u +%FT%TZ))"
        echo "# registries: pids $(cat "$ROOT"/registry-*.pid | tr '\n' ' ')- stop with: sudo tests/run.sh --teardown"
        for v in "${exports[@]}"; do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
    } >"$ROOT/env.sh"
    cp "$ROOT/env.sh" "$ENV_FILE"
    chmod 0644 "$ROOT/env.sh" "$ENV_FILE"
    say "setup only: registries left running; environment (also in $ENV_FILE):"
    cat "$ENV_FILE"
    exit 0
fi

CARGO=$(command -v cargo || true)
if [ -z "$CARGO" ] && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
    CARGO="${HOME:-/root}/.cargo/bin/cargo"
    # rustup's proxies find rustc & co. through PATH.
    export PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
[ -n "$CARGO" ] || die "cargo not found on PATH nor in ~/.cargo/bin"

locked=()
[ -f "$REPO/Cargo.lock" ] && locked=(--locked)

cd "$REPO"
status=0
log="$ROOT/cargo-test.log"
# --all-targets: unit and integration tests, no doc tests (box has none).
"$CARGO" test --workspace --all-targets "${locked[@]}" -- --test-threads=2 2>&1 | tee "$log" || status=$?
rm -rf /tmp/boxtest-bin-* 2>/dev/null || true
# One closing line over every test binary, so the whole run reads as one result.
passed=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed.*/\1/p' "$log" | awk '{s+=$1} END{print s+0}')
failed=$(sed -n 's/^test result: .* \([0-9]*\) failed.*/\1/p' "$log" | awk '{s+=$1} END{print s+0}')
echo "tests: $passed passed, $failed failed"
exit "$status"

#!/usr/bin/env bash
# bench/start.sh: how fast `box run` starts and ends a trivial container, and how much memory
# box and its shim use, compared with rootless podman and with a "floor" (bubblewrap).
#
# What it measures (all as the unprivileged user boxtest-sub, image 127.0.0.1:5000/busybox:latest,
# pulled beforehand into each store, so no command pulls):
#   box     box run --rm --network none IMAGE true
#   podman  Debian's rootless podman (via ../shared/bench/podman-as: native overlay, cgroups
#           off) running podman run --rm --network none IMAGE true, in its own store (--root)
#   floor   bwrap --unshare-all --bind ROOTFS / --proc /proc --dev /dev /bin/true, where ROOTFS
#           is a copy of box's unpacked busybox layer: new user, mount, pid, net, ipc, uts and
#           cgroup namespaces around the same binary, about the least a container start can do
# hyperfine runs all three without a shell (-N), 3 warmup runs + RUNS timed runs; the goals
# are on the medians.
#
# Memory: one `box run --rm --network none IMAGE sleep 1` under /usr/bin/time -v (max RSS of
# box run; the shim is not counted there, since box run does not wait for it) plus the peak RSS
# (VmHWM, sampled from /proc every 20 ms while it lives) of the `box __shim` process; beside it
# one `podman run --rm --network none IMAGE sleep 1` under /usr/bin/time -v (the larger of
# podman and its re-exec into the user namespace) plus conmon's VmHWM, sampled the same way.
# The runtime podman's conmon starts (crun) lives only for a moment and is not counted, as
# nothing but the shim is on box's side. Informational: the Pss (/proc/PID/smaps_rollup) of one
# idle box shim and of one idle conmon, 2 s into a `sleep 5` container (while box run / podman
# run is still attached).
#
# Where the stores live: on a fresh, journaled ext4 filesystem on a loop device, as in
# bench/pull.sh (see there, and bench/README.md, for why the machines' root filesystem is not
# used: each run creates and deletes a container's directories). BENCH_FS=none: $BENCH_WORK.
#
# Goals:   box / podman <= 0.1      box / floor <= 3      (ratios of hyperfine medians)
#          peak memory of box run + shim <= 0.5 x that of podman + conmon
#
# How to run (as root; needs the fixture registry and user from the test harness):
#   sudo tests/run.sh --setup-only      # once, if 127.0.0.1:5000 is not up
#   sudo bench/start.sh
# Environment knobs:
#   RUNS=N              timed runs per command (default 30; there are always 3 warmup runs)
#   RESULTS_DIR=dir     where the JSON and summary go (default bench/results/)
#   BENCH_WORK=dir      scratch space (default /tmp/box-bench); the box binary is copied here
#   BENCH_FS=loop|none  see above (default loop; BENCH_FS_SIZE, default 1G, sizes the image)
#   BOX_BIN=path        use this box binary instead of building one
#   CARGO_TARGET_DIR    honoured by the build (cargo build --release in the repo; under sudo
#                       it builds as $SUDO_USER)
#   BENCH_USER          the user to run as (default boxtest-sub; needs a subuid range). Its
#                       podman pause process is restarted (podman system migrate) at the start,
#                       so that it sees the benchmark filesystem, and at the end.
#   IMAGE               repository:tag in the registry (default busybox:latest; it needs
#                       /bin/true and /bin/sleep, and a single layer for the floor)
# Needs: hyperfine, podman, bwrap, curl, jq, /usr/bin/time
#        (apt: hyperfine podman bubblewrap curl jq time).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-30}
RESULTS_DIR=${RESULTS_DIR:-$repo/bench/results}
BENCH_WORK=${BENCH_WORK:-/tmp/box-bench}
BENCH_FS=${BENCH_FS:-loop}
BENCH_FS_SIZE=${BENCH_FS_SIZE:-1G}
BENCH_USER=${BENCH_USER:-boxtest-sub}
REGISTRY=127.0.0.1:5000
IMAGE=${IMAGE:-busybox:latest}
podman_as=$(cd "$repo/../shared/bench" 2>/dev/null && pwd)/podman-as

die() { echo "bench/start.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root: sudo bench/start.sh"
for t in hyperfine podman bwrap curl jq setpriv pgrep; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install -y hyperfine podman bubblewrap curl jq)"
done
[ -x /usr/bin/time ] || die "missing /usr/bin/time (apt-get install -y time)"
[ -x "$podman_as" ] || die "missing $podman_as (the shared podman wrapper)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
case $BENCH_FS in loop|none) ;; *) die "BENCH_FS must be loop or none" ;; esac

# --- 1. registry, user, image -----------------------------------------------------------------
curl -sf "http://$REGISTRY/v2/_catalog" >/dev/null \
  || die "no registry on $REGISTRY: run 'sudo tests/run.sh --setup-only' first"
getent passwd "$BENCH_USER" >/dev/null \
  || die "no user $BENCH_USER: run 'sudo tests/run.sh --setup-only' first"
grep -q "^$BENCH_USER:" /etc/subuid || die "$BENCH_USER has no subuid range"
uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
repo_name=${IMAGE%%:*}; tag=${IMAGE#*:}
curl -sf -o /dev/null \
  -H 'Accept: application/vnd.oci.image.index.v1+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/$repo_name/manifests/$tag" \
  || die "$REGISTRY has no $IMAGE: run 'sudo tests/run.sh --setup-only'"
img=$REGISTRY/$IMAGE

# --- 2 and 3. box binary and benchmark filesystem (shared) ---------------------------------
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

# --- 4. stores and commands -------------------------------------------------------------------
# Layout on $W (all owned by $BENCH_USER):
#   box/data  XDG_DATA_HOME for box (the store is box/data/box);  box/run  XDG_RUNTIME_DIR
#   podman/storage, podman/run   podman --root / --runroot
#   floor/root  a copy of box's unpacked busybox layer
install -d -m 0755 -o "$uid" -g "$gid" "$W/box" "$W/podman" "$W/floor"
install -d -m 0700 -o "$uid" -g "$gid" "$W/box/data" "$W/box/run" \
  "$W/podman/storage" "$W/podman/run"
as_user="setpriv --reuid=$uid --regid=$gid --init-groups"
box_env="env -i HOME=$home XDG_DATA_HOME=$W/box/data XDG_RUNTIME_DIR=$W/box/run PATH=/usr/bin:/bin"
box_user="$as_user $box_env $box"                     # + box arguments
podman_user_cmd="$podman_as $BENCH_USER --root $W/podman/storage --runroot $W/podman/run"

say "pulling $img into box's and podman's stores (box $box_version)"
$box_user pull -q "$img" >/dev/null || die "box pull $img failed"
$podman_user_cmd pull -q "$img" >/dev/null || die "podman pull $img failed"

layers=("$W"/box/data/box/layers/*/diff)
[ "${#layers[@]}" = 1 ] && [ -d "${layers[0]}" ] \
  || die "expected one unpacked layer in box's store, found: ${layers[*]}"
$as_user cp -a "${layers[0]}" "$W/floor/root" || die "cannot copy the layer to $W/floor/root"
[ -e "$W/floor/root/bin/true" ] || [ -L "$W/floor/root/bin/true" ] \
  || die "$IMAGE has no /bin/true"

box_cmd="$box_user run --rm --network none $img"                           # + command
podman_cmd="$podman_user_cmd run --rm --network none $img"                 # + command
floor_cmd="$as_user env -i PATH=/usr/bin:/bin bwrap --unshare-all --bind $W/floor/root / --proc /proc --dev /dev"

# --- 5. sanity pass: each command works and says what it should; --rm leaves nothing ----------
say "sanity pass"
check() { # check NAME EXPECTED CMD...: CMD's stdout must be EXPECTED
  local name=$1 want=$2 got err; shift 2
  err=$(mktemp)
  got=$("$@" 2>"$err") || { cat "$err" >&2; die "$name failed: $*"; }
  rm -f "$err"
  [ "$got" = "$want" ] || die "$name printed '$got', expected '$want': $*"
}
check box ok $box_cmd echo ok
check podman ok $podman_cmd echo ok
check floor ok $floor_cmd /bin/echo ok
$box_cmd true || die "box run ... true failed"
$podman_cmd true || die "podman run ... true failed"
$floor_cmd /bin/true || die "floor /bin/true failed"
box_left() { find "$W/box/data/box/containers" -mindepth 1 -maxdepth 1 ! -name names 2>/dev/null | wc -l; }
[ "$(box_left)" = 0 ] || die "box run --rm left containers in $W/box/data/box/containers"
[ -z "$($podman_user_cmd ps -aq 2>/dev/null)" ] || die "podman run --rm left containers"

# --- 6. timings ------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$RESULTS_DIR/start-$stamp.json
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "hyperfine: $RUNS runs each (+3 warmup)"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$json" \
  -n box    "$box_cmd true" \
  -n podman "$podman_cmd true" \
  -n floor  "$floor_cmd /bin/true" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$(box_left)" = 0 ] || die "box run --rm left containers after the timed runs"

# --- 7. memory -------------------------------------------------------------------------------
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
# peak MATCH CMD...: runs CMD (a `sleep 1` container) under /usr/bin/time -v and samples the
# VmHWM of the oldest process whose command line matches MATCH while it lives. Prints
# "MAXRSS_KB HELPER_HWM_KB".
peak() {
  local match=$1 out p h best=0 tpid; shift
  out=$(mktemp)
  /usr/bin/time -v -o "$out" "$@" >/dev/null 2>&1 & tpid=$!
  while kill -0 "$tpid" 2>/dev/null; do
    p=$(pgrep -o -u "$uid" -f -- "$match" || true)
    if [ -n "$p" ]; then h=$(hwm "$p"); [ -n "$h" ] && [ "$h" -gt "$best" ] && best=$h; fi
    sleep 0.02
  done
  wait "$tpid" || { cat "$out" >&2; die "failed: $*"; }
  [ "$best" -gt 0 ] || die "never saw a process matching '$match' during: $*"
  echo "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out") $best"; rm -f "$out"
}
# idle MATCH CMD...: runs CMD (a `sleep 5` container) in the background, and 2 s in prints
# "PSS_KB RSS_KB" of the oldest process matching MATCH.
idle() {
  local match=$1 p tpid pss; shift
  "$@" >/dev/null 2>&1 & tpid=$!
  sleep 2
  p=$(pgrep -o -u "$uid" -f -- "$match" || true)
  [ -n "$p" ] || { wait "$tpid"; die "no process matching '$match' 2 s into: $*"; }
  pss=$(awk '/^Pss:/ {p=$2} /^Rss:/ {r=$2} END {print p, r}' "/proc/$p/smaps_rollup")
  wait "$tpid" || die "failed: $*"
  echo "$pss"
}
shim_match="^$box __shim "
conmon_match="^(/usr/bin/)?conmon .*$W/podman/storage/"
say "peak memory (sleep 1 containers) and idle Pss (sleep 5 containers)"
res=$(peak "$shim_match" $box_cmd sleep 1);         read -r rss_box rss_shim <<<"$res"
res=$(peak "$conmon_match" $podman_cmd sleep 1);    read -r rss_podman rss_conmon <<<"$res"
res=$(idle "$shim_match" $box_cmd sleep 5);         read -r pss_shim rssi_shim <<<"$res"
res=$(idle "$conmon_match" $podman_cmd sleep 5);    read -r pss_conmon rssi_conmon <<<"$res"

# --- 8. summary ---------------------------------------------------------------------------------
summary=$RESULTS_DIR/start-$stamp.txt
jq -r --arg load "$load_before -> $load_after" --arg ver "$box_version" --arg fs "$BENCH_FS" \
      --arg img "$img" --arg cpus "$(nproc)" --arg when "$stamp" \
      --argjson rb "$rss_box" --argjson rs "$rss_shim" \
      --argjson rp "$rss_podman" --argjson rc "$rss_conmon" \
      --argjson ps "$pss_shim" --argjson pc "$pss_conmon" \
      --argjson is "$rssi_shim" --argjson ic "$rssi_conmon" '
  def r(x): (x * 1000 | round) / 1000;
  def ms(x): "\((x * 10000 | round) / 10) ms";
  def mb(kb): "\((kb / 102.4 | round) / 10) MB";
  def m(n): (.results[] | select(.command == n));
  def st(n): m(n) | "\(n + "       " | .[0:7]) median \(ms(.median))  mean \(ms(.mean)) ± \(ms(.stddev))  (min \(ms(.min)), max \(ms(.max)), n=\(.times | length))";
  def goal(x; g): "\(r(x))  (goal <= \(g): \(if x <= g then "PASS" else "MISS" end))";
  (m("box").median) as $b | (m("podman").median) as $p | (m("floor").median) as $f |
  "start benchmark \($when): \($img), \($ver), \($cpus) cpus, fs \($fs), load \($load)",
  st("box"), st("podman"), st("floor"),
  "box/podman  " + goal($b / $p; 0.1),
  "box/floor   " + goal($b / $f; 3),
  "peak memory box    \(mb($rb + $rs)) = box run \(mb($rb)) + shim \(mb($rs))",
  "peak memory podman \(mb($rp + $rc)) = podman \(mb($rp)) + conmon \(mb($rc))",
  "box/podman memory " + goal(($rb + $rs) / ($rp + $rc); 0.5),
  "idle Pss (info)  box shim \(mb($ps)) (Rss \(mb($is))), conmon \(mb($pc)) (Rss \(mb($ic)))"
' "$json" | tee "$summary"
cp "$json" "$RESULTS_DIR/start-latest.json"; cp "$summary" "$RESULTS_DIR/start-latest.txt"
echo "(JSON: $json)"

#!/usr/bin/env bash
# bench/shim-memory.sh: the memory of idle containers' supervisors, box's shim against podman's
# conmon, side by side.
#
# What it measures (as the unprivileged user boxtest-sub, image 127.0.0.1:5000/busybox:latest,
# pulled beforehand into each store): it starts N (default 10) idle containers with
#   box     box run -d --network none IMAGE sleep 3600
#   podman  Debian's rootless podman (via ../shared/bench/podman-as: native overlay, cgroups
#           off) running podman run -d --network none IMAGE sleep 3600, in its own store
# waits SETTLE seconds, and reads /proc/PID/smaps_rollup of every `box __shim` and every
# `conmon` of those containers: Pss (proportional set size: private pages plus each shared
# page divided by the number of processes mapping it), Rss, Private_Dirty. It prints them per
# process, their means, and the ratio of the mean Pss. Both sides have N processes sharing
# their own binary's pages, so Pss splits those pages the same way on each side.
# Informational: podman also keeps a rootless pause process (catatonit) per user; its Pss is
# printed beside, but not counted. box has none.
#
# Where the stores live: on a fresh, journaled ext4 loop filesystem, as for bench/start.sh
# (BENCH_FS=none: $BENCH_WORK). Everything the script starts is removed at the end
# (box rm -f, podman rm -f), also when it fails.
#
# Goal:    mean Pss of a box shim <= 0.5 x mean Pss of a conmon, with N = 10
#
# How to run (as root; needs the fixture registry and user from the test harness):
#   sudo tests/run.sh --setup-only      # once, if 127.0.0.1:5000 is not up
#   sudo bench/shim-memory.sh
# Environment knobs:
#   N=n                 idle containers per side (default 10)
#   SETTLE=s            seconds to wait after the last start before reading (default 5)
#   RESULTS_DIR=dir     where the summary and JSON go (default bench/results/)
#   BENCH_WORK=dir      scratch space (default /tmp/box-bench); the box binary is copied here
#   BENCH_FS=loop|none  see bench/start.sh (default loop; BENCH_FS_SIZE, default 1G)
#   BOX_BIN=path        use this box binary instead of building one (see bench/lib.sh for
#                       how the release build is made: non-PIE, which matters here)
#   CARGO_TARGET_DIR    honoured by the build (under sudo it builds as $SUDO_USER)
#   BENCH_USER          the user to run as (default boxtest-sub; needs a subuid range)
#   IMAGE               repository:tag in the registry (default busybox:latest; needs sleep)
# Needs: podman, curl, jq (apt: podman curl jq).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-10}
SETTLE=${SETTLE:-5}
RESULTS_DIR=${RESULTS_DIR:-$repo/bench/results}
BENCH_WORK=${BENCH_WORK:-/tmp/box-bench}
BENCH_FS=${BENCH_FS:-loop}
BENCH_FS_SIZE=${BENCH_FS_SIZE:-1G}
BENCH_USER=${BENCH_USER:-boxtest-sub}
REGISTRY=127.0.0.1:5000
IMAGE=${IMAGE:-busybox:latest}
podman_as=$(cd "$repo/../shared/bench" 2>/dev/null && pwd)/podman-as

die() { echo "bench/shim-memory.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root: sudo bench/shim-memory.sh"
for t in podman curl jq setpriv pgrep; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install -y podman curl jq)"
done
[ -x "$podman_as" ] || die "missing $podman_as (the shared podman wrapper)"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be a whole number of seconds"
case $BENCH_FS in loop|none) ;; *) die "BENCH_FS must be loop or none" ;; esac

# --- 1. registry, user, image -----------------------------------------------------------------
curl -sf "http://$REGISTRY/v2/_catalog" >/dev/null \
  || die "no registry on $REGISTRY: run 'sudo tests/run.sh --setup-only' first"
getent passwd "$BENCH_USER" >/dev/null \
  || die "no user $BENCH_USER: run 'sudo tests/run.sh --setup-only' first"
grep -q "^$BENCH_USER:" /etc/subuid || die "$BENCH_USER has no subuid range"
uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
img=$REGISTRY/$IMAGE

# --- 2 and 3. box binary and benchmark filesystem (shared) ---------------------------------
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

# --- 4. stores --------------------------------------------------------------------------------
install -d -m 0755 -o "$uid" -g "$gid" "$W/box" "$W/podman"
install -d -m 0700 -o "$uid" -g "$gid" "$W/box/data" "$W/box/run" \
  "$W/podman/storage" "$W/podman/run"
as_user="setpriv --reuid=$uid --regid=$gid --init-groups"
box_user="$as_user env -i HOME=$home XDG_DATA_HOME=$W/box/data XDG_RUNTIME_DIR=$W/box/run PATH=/usr/bin:/bin $box"
podman_user_cmd="$podman_as $BENCH_USER --root $W/podman/storage --runroot $W/podman/run"

shim_match="^$box __shim "
conmon_match="^(/usr/bin/)?conmon .*$W/podman/storage/"
# Everything started here goes, also on failure, before lib.sh's cleanup unmounts $W: the
# shims keep files open there. box rm -f ends each container and its shim; a shim that is
# still there after that is killed by its pid (its container dies with it: PR_SET_PDEATHSIG).
box_ids=()
stop_all() {
  set +e
  if [ "${#box_ids[@]}" -gt 0 ]; then $box_user rm -f "${box_ids[@]}" >/dev/null 2>&1; fi
  local p
  for p in $(pgrep -u "$uid" -f -- "$shim_match"); do kill -KILL "$p"; done
  $podman_user_cmd rm -f -t 0 -a >/dev/null 2>&1
  for _ in $(seq 50); do
    pgrep -u "$uid" -f -- "$shim_match" >/dev/null || pgrep -u "$uid" -f -- "$conmon_match" >/dev/null || break
    sleep 0.1
  done
}
trap 'stop_all; cleanup' EXIT

say "pulling $img into box's and podman's stores (box $box_version)"
$box_user pull -q "$img" >/dev/null || die "box pull $img failed"
$podman_user_cmd pull -q "$img" >/dev/null || die "podman pull $img failed"

# --- 5. N idle containers each ------------------------------------------------------------------
say "starting $N idle containers with box and $N with podman"
for i in $(seq "$N"); do
  id=$($box_user run -d --network none "$img" sleep 3600 </dev/null) \
    || die "box run -d #$i failed"
  box_ids+=("$id")
done
for i in $(seq "$N"); do
  $podman_user_cmd run -d --network none "$img" sleep 3600 </dev/null >/dev/null \
    || die "podman run -d #$i failed"
done
sleep "$SETTLE"

mapfile -t shims < <(pgrep -u "$uid" -f -- "$shim_match")
mapfile -t conmons < <(pgrep -u "$uid" -f -- "$conmon_match")
[ "${#shims[@]}" = "$N" ] || die "expected $N box shims, found ${#shims[@]}"
[ "${#conmons[@]}" = "$N" ] || die "expected $N conmons, found ${#conmons[@]}"

# --- 6. read and summarize -------------------------------------------------------------------
# rollup PID: one JSON object with the kB counts of /proc/PID/smaps_rollup that matter.
rollup() {
  awk -v pid="$1" '
    /^(Rss|Pss|Private_Dirty|Private_Clean|Shared_Clean|Shared_Dirty|Anonymous):/ {
      sub(":", "", $1); v[$1] = $2 }
    END { printf "{\"pid\":%d,\"rss\":%d,\"pss\":%d,\"private_dirty\":%d,\"private_clean\":%d,\"shared_clean\":%d,\"anonymous\":%d}\n",
          pid, v["Rss"], v["Pss"], v["Private_Dirty"], v["Private_Clean"], v["Shared_Clean"], v["Anonymous"] }
  ' "/proc/$1/smaps_rollup"
}
pause=$(pgrep -u "$uid" -x catatonit | head -1 || true)
mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$RESULTS_DIR/shim-memory-$stamp.json
{
  echo '{"box":['; for p in "${shims[@]}"; do rollup "$p"; done | paste -sd, -
  echo '],"podman":['; for p in "${conmons[@]}"; do rollup "$p"; done | paste -sd, -
  echo '],"pause":'; if [ -n "$pause" ]; then rollup "$pause"; else echo null; fi
  echo '}'
} | jq --arg ver "$box_version" --arg img "$img" --arg when "$stamp" --argjson n "$N" \
      --arg kernel "$(uname -r)" --arg pv "$(podman --version)" \
      --arg cv "$(conmon --version 2>/dev/null | head -1)" \
      '{when: $when, box_version: $ver, image: $img, n: $n, kernel: $kernel,
        podman_version: $pv, conmon_version: $cv} + .' > "$json"

summary=$RESULTS_DIR/shim-memory-$stamp.txt
jq -r '
  def row(name): "\(name + "          " | .[0:10]) pid \(.pid | tostring | ("       " + .) | .[-7:])  Pss \(.pss | tostring | ("     " + .) | .[-5:]) kB  Rss \(.rss | tostring | ("     " + .) | .[-5:]) kB  Private_Dirty \(.private_dirty | tostring | ("    " + .) | .[-4:]) kB";
  def mean(f): (map(f) | add / length | . * 10 | round / 10);
  (.box | mean(.pss)) as $b | (.podman | mean(.pss)) as $p | ($b / $p * 1000 | round / 1000) as $r |
  "shim memory \(.when): \(.n) idle containers each, \(.image), \(.box_version), \(.podman_version), \(.conmon_version), Linux \(.kernel)",
  (.box[] | row("box shim")),
  (.podman[] | row("conmon")),
  "mean Pss  box shim \($b) kB (Rss \(.box | mean(.rss)) kB, Private_Dirty \(.box | mean(.private_dirty)) kB)",
  "mean Pss  conmon   \($p) kB (Rss \(.podman | mean(.rss)) kB, Private_Dirty \(.podman | mean(.private_dirty)) kB)",
  "box shim / conmon (mean Pss) \($r)  (goal <= 0.5: \(if $r <= 0.5 then "PASS" else "MISS" end))",
  (if .pause then "podman pause process (info, not counted): Pss \(.pause.pss) kB, Rss \(.pause.rss) kB" else empty end)
' "$json" | tee "$summary"
cp "$json" "$RESULTS_DIR/shim-memory-latest.json"; cp "$summary" "$RESULTS_DIR/shim-memory-latest.txt"
echo "(JSON: $json)"

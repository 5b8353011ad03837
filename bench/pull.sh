#!/usr/bin/env bash
# bench/pull.sh: how fast `box pull` is, cold, compared with rootless podman and with a
# "floor" (curl + gzip + tar by hand).
#
# What it measures (all as the unprivileged user boxtest-sub, against the local plain-HTTP
# fixture registry 127.0.0.1:5000, image debian:bookworm: one gzip layer, ~60 MB compressed,
# ~170 MB unpacked):
#   box     box pull -q 127.0.0.1:5000/debian:bookworm, into a fresh, empty XDG_DATA_HOME
#   podman  Debian's rootless podman (via ../shared/bench/podman-as: native overlay, cgroups
#           off) pulling the same image into its own store (--root), after `podman rmi -a -f`
#           (which also removes the layer; the script checks that)
#   floor   curl the layer blob to a file, then gzip -dc | tar -x into a fresh directory, as
#           the same user (device nodes are excluded from tar, since an unprivileged user
#           cannot create them; box skips them too)
# Every run starts from a clean state (hyperfine --prepare), and each prepare ends with `sync`
# so writeback of the previous run does not bleed into the next. Nothing drops the page cache:
# the registry's blob is warm for all three, so this is CPU + local filesystem work.
# It also reports peak memory (max RSS, /usr/bin/time -v) of one box pull and one podman pull.
# That is the RSS of the largest single process of the tree (podman re-execs itself into a
# user namespace; the larger of the two counts), not the sum.
#
# Where the stores live: by default on a fresh, journaled ext4 filesystem (a sparse image on a
# loop device, mounted at $BENCH_WORK/fs for the duration, then removed). Why: the dev/CI VMs'
# root filesystem is ext4 *without a journal*, and there ext4 refuses to reuse inodes deleted
# in the last 60 s (360 s while their inode-table block is dirty; fs/ext4/ialloc.c,
# recently_deleted()), checking every candidate: each delete-then-unpack cycle gets slower
# (0.9 s -> 7.6 s, all system time, for the same tar -x over 4 cycles) and the benchmark would
# measure that instead of the tools. BENCH_FS=none runs on $BENCH_WORK as is.
#
# Goals:   box / podman <= 0.6      box / floor <= 1.3      (ratios of hyperfine means)
#
# How to run (as root; needs the fixture registry and user from the test harness):
#   sudo tests/run.sh --setup-only      # once, if 127.0.0.1:5000 is not up
#   sudo bench/pull.sh
# Environment knobs:
#   RUNS=N              timed runs per command (default 5; there is always 1 warmup run)
#   RESULTS_DIR=dir     where the JSON and summary go (default bench/results/)
#   BENCH_WORK=dir      scratch space (default /tmp/box-bench); the box binary is copied here
#   BENCH_FS=loop|none  see above (default loop; BENCH_FS_SIZE, default 4G, sizes the image)
#   BOX_BIN=path        use this box binary instead of building one
#   CARGO_TARGET_DIR    honoured by the build (cargo build --release in the repo; under sudo
#                       it builds as $SUDO_USER)
#   BENCH_USER          the user to run as (default boxtest-sub; needs a subuid range). Its
#                       podman pause process is restarted (podman system migrate) at the start,
#                       so that it sees the benchmark filesystem, and at the end.
#   IMAGE               repository:tag in the registry (default debian:bookworm; must be a
#                       single-layer gzip image for the floor to mean anything)
# Needs: hyperfine, podman, curl, jq, /usr/bin/time (apt: hyperfine podman curl jq time).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
RESULTS_DIR=${RESULTS_DIR:-$repo/bench/results}
BENCH_WORK=${BENCH_WORK:-/tmp/box-bench}
BENCH_FS=${BENCH_FS:-loop}
BENCH_FS_SIZE=${BENCH_FS_SIZE:-4G}
BENCH_USER=${BENCH_USER:-boxtest-sub}
REGISTRY=127.0.0.1:5000
IMAGE=${IMAGE:-debian:bookworm}
podman_as=$(cd "$repo/../shared/bench" 2>/dev/null && pwd)/podman-as

die() { echo "bench/pull.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root: sudo bench/pull.sh"
for t in hyperfine podman curl jq gzip tar setpriv; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install -y hyperfine podman curl jq)"
done
[ -x /usr/bin/time ] || die "missing /usr/bin/time (apt-get install -y time)"
[ -x "$podman_as" ] || die "missing $podman_as (the shared podman wrapper)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
case $BENCH_FS in loop|none) ;; *) die "BENCH_FS must be loop or none" ;; esac

# --- 1. registry, user, layer digest --------------------------------------------------------
curl -sf "http://$REGISTRY/v2/_catalog" >/dev/null \
  || die "no registry on $REGISTRY: run 'sudo tests/run.sh --setup-only' first"
getent passwd "$BENCH_USER" >/dev/null \
  || die "no user $BENCH_USER: run 'sudo tests/run.sh --setup-only' first"
grep -q "^$BENCH_USER:" /etc/subuid || die "$BENCH_USER has no subuid range"
uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)

repo_name=${IMAGE%%:*}; tag=${IMAGE#*:}
manifest=$(curl -sf \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/$repo_name/manifests/$tag") \
  || die "$REGISTRY has no $IMAGE: run 'sudo tests/run.sh --setup-only'"
[ "$(jq '.layers | length' <<<"$manifest")" = 1 ] || die "$IMAGE is not a single-layer image"
layer=$(jq -r '.layers[0].digest' <<<"$manifest")
layer_type=$(jq -r '.layers[0].mediaType' <<<"$manifest")
layer_size=$(jq -r '.layers[0].size' <<<"$manifest")
case $layer_type in *gzip*) ;; *) die "$IMAGE's layer is $layer_type, not gzip" ;; esac
blob_url="http://$REGISTRY/v2/$repo_name/blobs/$layer"

# --- 2 and 3. box binary and benchmark filesystem (shared) ---------------------------------
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

# --- 4. commands ------------------------------------------------------------------------------
# Layout on $W (all owned by $BENCH_USER; the prepares recreate the per-run parts):
#   box/data  XDG_DATA_HOME for box (the store is box/data/box);  box/run  XDG_RUNTIME_DIR
#   podman/storage, podman/run   podman --root / --runroot
#   floor/x.tgz  downloaded blob;  floor/root  unpacked tree
install -d -m 0755 -o "$uid" -g "$gid" "$W/box" "$W/podman" "$W/floor"
install -d -m 0700 -o "$uid" -g "$gid" "$W/podman/storage" "$W/podman/run"
as_user="setpriv --reuid=$uid --regid=$gid --init-groups"
fresh() { # fresh DIR...: command string that recreates DIRs empty and owned by the user
  local s="rm -rf" d; for d in "$@"; do s+=" '$d'"; done
  s+=" && install -d -m 0700 -o $uid -g $gid"; for d in "$@"; do s+=" '$d'"; done
  echo "$s"
}

box_prepare="$(fresh "$W/box/data" "$W/box/run") && sync"
box_cmd="$as_user env -i HOME='$home' XDG_DATA_HOME='$W/box/data' XDG_RUNTIME_DIR='$W/box/run' PATH=/usr/bin:/bin '$box' pull -q $REGISTRY/$IMAGE"

podman_root="--root '$W/podman/storage' --runroot '$W/podman/run'"
podman_prepare="'$podman_as' $BENCH_USER $podman_root rmi -a -f >/dev/null 2>&1 && sync"
podman_cmd="'$podman_as' $BENCH_USER $podman_root pull -q $REGISTRY/$IMAGE"

# Device nodes in the layer: an unprivileged tar cannot mknod them (and would exit 2).
exclude=$BENCH_WORK/floor-exclude
curl -sf "$blob_url" | gzip -dc | tar -tv | awk '/^[cb]/ {print $NF}' > "$exclude"
chmod 0644 "$exclude"
floor_prepare="rm -f '$W/floor/x.tgz' && $(fresh "$W/floor/root") && sync"
floor_cmd="$as_user env -i PATH=/usr/bin:/bin sh -c \"curl -sf '$blob_url' -o '$W/floor/x.tgz' && gzip -dc '$W/floor/x.tgz' | tar -x -X '$exclude' -C '$W/floor/root'\""

# --- 5. sanity pass: each command works, and each prepare really resets -----------------------
say "sanity pass (box $box_version, $IMAGE layer ${layer:7:12}, $((layer_size / 1000000)) MB)"
podman_images() { sh -c "'$podman_as' $BENCH_USER $podman_root images -q" 2>/dev/null; }
podman_layers() { find "$W/podman/storage/overlay" -mindepth 1 -maxdepth 1 -type d ! -name l \
  2>/dev/null | wc -l; }
kb() { du -sk "$1" 2>/dev/null | cut -f1; }

sh -c "$box_prepare"
sh -c "$box_cmd" >/dev/null 2>&1 || die "box pull failed: $box_cmd"
[ "$(kb "$W/box/data/box")" -gt 100000 ] || die "box pull left less than 100 MB in its store"
sh -c "$box_prepare"
[ -z "$(ls -A "$W/box/data")" ] || die "box prepare did not empty the store"

sh -c "$podman_cmd" >/dev/null 2>&1 || die "podman pull failed: $podman_cmd"
[ -n "$(podman_images)" ] || die "podman pull left no image"
[ "$(kb "$W/podman/storage")" -gt 100000 ] || die "podman pull left less than 100 MB in its store"
sh -c "$podman_prepare" || die "podman rmi failed"
[ -z "$(podman_images)" ] || die "podman rmi -a -f left images"
[ "$(podman_layers)" = 0 ] || die "podman rmi -a -f left layers in $W/podman/storage/overlay"

sh -c "$floor_prepare"
sh -c "$floor_cmd" || die "floor command failed: $floor_cmd"
[ "$(kb "$W/floor/root")" -gt 100000 ] || die "floor unpacked less than 100 MB"

# --- 6. timings ------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$RESULTS_DIR/pull-$stamp.json
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "hyperfine: $RUNS runs each (+1 warmup)"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" \
  -n box    --prepare "$box_prepare"    "$box_cmd" \
  -n podman --prepare "$podman_prepare" "$podman_cmd" \
  -n floor  --prepare "$floor_prepare"  "$floor_cmd" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 7. peak memory ----------------------------------------------------------------------------
maxrss() { # maxrss PREPARE CMD -> kB
  local out; out=$(mktemp)
  sh -c "$1"
  /usr/bin/time -v -o "$out" sh -c "$2" >/dev/null 2>&1 || { cat "$out" >&2; die "failed: $2"; }
  awk -F': ' '/Maximum resident set size/ {print $2}' "$out"; rm -f "$out"
}
say "peak memory (/usr/bin/time -v)"
rss_box=$(maxrss "$box_prepare" "$box_cmd")
rss_podman=$(maxrss "$podman_prepare" "$podman_cmd")

# --- 8. summary ---------------------------------------------------------------------------------
summary=$RESULTS_DIR/pull-$stamp.txt
jq -r --arg rss_box "$rss_box" --arg rss_podman "$rss_podman" \
      --arg load "$load_before -> $load_after" --arg ver "$box_version" --arg fs "$BENCH_FS" \
      --arg img "$REGISTRY/$IMAGE" --arg cpus "$(nproc)" --arg when "$stamp" '
  def r(x): (x * 1000 | round) / 1000;
  def m(n): (.results[] | select(.command == n));
  def st(n): m(n) | "\(n + "       " | .[0:7]) mean \(r(.mean))s  ± \(r(.stddev))s  (min \(r(.min)), max \(r(.max)), n=\(.times | length))";
  def goal(x; g): "\(r(x))  (goal <= \(g): \(if x <= g then "PASS" else "MISS" end))";
  (m("box").mean) as $b | (m("podman").mean) as $p | (m("floor").mean) as $f |
  "pull benchmark \($when): \($img), \($ver), \($cpus) cpus, fs \($fs), load \($load)",
  st("box"), st("podman"), st("floor"),
  "box/podman  " + goal($b / $p; 0.6),
  "box/floor   " + goal($b / $f; 1.3),
  "peak RSS    box \(($rss_box | tonumber) / 1024 | round) MB, podman \(($rss_podman | tonumber) / 1024 | round) MB (largest process, /usr/bin/time -v)"
' "$json" | tee "$summary"
cp "$json" "$RESULTS_DIR/pull-latest.json"; cp "$summary" "$RESULTS_DIR/pull-latest.txt"
echo "(JSON: $json)"

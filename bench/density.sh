#!/usr/bin/env bash
# bench/density.sh: many idle containers at once. How long each start takes, how much memory
# each container costs, and how fast `box ps` lists them, beside rootless podman.
#
# What it does (as the unprivileged user boxtest-sub, image 127.0.0.1:5000/busybox:latest,
# pulled beforehand into each store, so no command pulls):
#   box     starts BOX_N (default 1000) containers, one after the other, with
#             box run -d --network none IMAGE sleep 100000
#           then measures the memory they take (below), times `box ps` and `box ps -a` with
#           hyperfine (--warmup 2 --runs 10, no shell), and times `box rm -f $(box ps -aq)`.
#           On the way, when PODMAN_N containers run, it times `box ps` too, for a comparison
#           with podman at the same count.
#   podman  the same with Debian's rootless podman (via ../shared/bench/podman-as: native
#           overlay, cgroups off, crun, its own store with --root) for PODMAN_N (default 100)
#           containers: podman run -d --network none IMAGE sleep 100000, podman ps (-a), and
#           podman rm -af -t 0.
# Both use --network none: both defaults (box: pasta, else slirp4netns; podman: slirp4netns)
# would add a network helper process per container, which is network.sh's business.
#
# Time per start: the sum of the wall times of the BOX_N (PODMAN_N) start commands, divided
# by the count; each includes `setpriv ... env -i` (~2.5 ms; podman's wrapper adds sh +
# unshare + sh). The mean of the first and the last tenth of the starts shows whether a start
# slows down as containers accumulate.
# Memory per container, SETTLE (default 5) s after the last start, divided by the count:
#   MemAvailable  the drop of MemAvailable (/proc/meminfo) from just before the first start
#                 to after the last, each read after `sync; echo 3 > /proc/sys/vm/drop_caches`
#                 (median of 5 reads). System-wide: it includes what the kernel keeps per
#                 container, and also whatever else the machine did meanwhile. Beside it, the
#                 same less the growth of the other processes' anonymous memory (Pss_Anon +
#                 Pss_Shmem of every process that is not a container's), which removes some
#                 of that noise, not all: on a busy machine both are noisy (hundreds of MB).
#   Pss           the sum of Pss (/proc/PID/smaps_rollup) of every box shim (podman: conmon)
#                 and every process below it (the containers' `sleep`).
#   kernel        the growth of SUnreclaim + KernelStack + PageTables + Percpu (/proc/meminfo,
#                 after dropping caches, median of 5 reads): the kernel's memory for the
#                 containers' namespaces, mounts, processes, stacks and page tables, which Pss
#                 does not see. Far less disturbed by other work than MemAvailable.
#   Pss + kernel  the sum of the two: the steadiest estimate of the whole cost.
# Podman's per-user pause process (catatonit) is shown, not counted.
#
# Where the stores live: on a fresh, journaled ext4 loop filesystem, as for the other
# benchmarks (bench/lib.sh; BENCH_FS=none: $BENCH_WORK). Everything started here is removed
# at the end, also when the script fails or is interrupted: box rm -f of every container in
# the store, then SIGKILL to any shim of this box binary that is left (with the processes
# below it); podman rm -af -t 0, then SIGKILL to any conmon of this store left (and below).
#
# Limits: it prints the per-user limits that bound the number of containers (RLIMIT_NPROC
# and RLIMIT_NOFILE as the user gets them here, /proc/sys/user/max_*_namespaces) and
# kernel.pid_max / kernel.threads-max. If kernel.pid_max is too low for the processes it will
# start (two per container), it raises it to 4194304, systemd's default on 64-bit machines
# (so what a laptop has anyway), and puts it back at the end.
#
# Goal:    box ps with BOX_N = 1000 containers under 0.2 s (hyperfine mean)
#
# How to run (as root; needs the fixture registry and user from the test harness):
#   sudo tests/run.sh --setup-only      # once, if 127.0.0.1:5000 is not up
#   sudo bench/density.sh               # takes a few minutes
# Environment knobs:
#   BOX_N=n, PODMAN_N=n containers for box (default 1000) and podman (default 100)
#   SETTLE=s            seconds to wait after the last start before reading memory (default 5)
#   RESULTS_DIR=dir     where the JSON and summary go (default bench/results/)
#   BENCH_WORK=dir      scratch space (default /tmp/box-bench-density: not the other benchmarks'
#                       /tmp/box-bench, so that it can run beside them); box is copied here
#   BENCH_FS=loop|none  see bench/lib.sh (default loop; BENCH_FS_SIZE, default 2G)
#   BOX_BIN=path        use this box binary instead of building one
#   CARGO_TARGET_DIR    honoured by the build (under sudo it builds as $SUDO_USER)
#   BENCH_USER          the user to run as (default boxtest-sub; needs a subuid range)
#   IMAGE               repository:tag in the registry (default busybox:latest; needs sleep)
# Needs: hyperfine, podman, curl, jq (apt: hyperfine podman curl jq).
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BOX_N=${BOX_N:-1000}
PODMAN_N=${PODMAN_N:-100}
SETTLE=${SETTLE:-5}
RESULTS_DIR=${RESULTS_DIR:-$repo/bench/results}
BENCH_WORK=${BENCH_WORK:-/tmp/box-bench-density}
BENCH_FS=${BENCH_FS:-loop}
BENCH_FS_SIZE=${BENCH_FS_SIZE:-2G}
BENCH_USER=${BENCH_USER:-boxtest-sub}
REGISTRY=127.0.0.1:5000
IMAGE=${IMAGE:-busybox:latest}
podman_as=$(cd "$repo/../shared/bench" 2>/dev/null && pwd)/podman-as

die() { echo "bench/density.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root: sudo bench/density.sh"
for t in hyperfine podman curl jq setpriv pgrep; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install -y hyperfine podman curl jq)"
done
[ -x "$podman_as" ] || die "missing $podman_as (the shared podman wrapper)"
[[ $BOX_N =~ ^[1-9][0-9]*$ ]] || die "BOX_N must be a positive integer"
[[ $PODMAN_N =~ ^[1-9][0-9]*$ ]] || die "PODMAN_N must be a positive integer"
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

# --- 4. stores, commands, clean-up ------------------------------------------------------------
install -d -m 0755 -o "$uid" -g "$gid" "$W/box" "$W/podman"
install -d -m 0700 -o "$uid" -g "$gid" "$W/box/data" "$W/box/run" \
  "$W/podman/storage" "$W/podman/run"
as_user="setpriv --reuid=$uid --regid=$gid --init-groups"
box_user="$as_user env -i HOME=$home XDG_DATA_HOME=$W/box/data XDG_RUNTIME_DIR=$W/box/run PATH=/usr/bin:/bin $box"
podman_user_cmd="$podman_as $BENCH_USER --root $W/podman/storage --runroot $W/podman/run"
box_store=$W/box/data/box/containers

shim_match="^$box __shim "
conmon_match="^(/usr/bin/)?conmon .*$W/podman/storage/"
scratch=$BENCH_WORK/density-tmp
rm -rf "$scratch"; mkdir -p "$scratch"

# descendants PID...: every process below the given ones (not themselves), one per line.
descendants() {
  local level=("$@") next
  while [ "${#level[@]}" -gt 0 ]; do
    mapfile -t next < <(pgrep -P "$(IFS=,; echo "${level[*]}")" || true)
    [ "${#next[@]}" -gt 0 ] && printf '%s\n' "${next[@]}"
    level=("${next[@]}")
  done
}
# kill_trees MATCH: SIGKILL to the user's processes matching MATCH and everything below them.
kill_trees() {
  local tops
  mapfile -t tops < <(pgrep -u "$uid" -f -- "$1" || true)
  [ "${#tops[@]}" -gt 0 ] || return 0
  # shellcheck disable=SC2046
  kill -KILL "${tops[@]}" $(descendants "${tops[@]}") 2>/dev/null || true
}
# Every container this script started goes, also on failure, before lib.sh's cleanup
# unmounts $W (the shims and conmons keep files open there).
pid_max_old=""
stop_all() {
  set +e
  local ids left=0
  mapfile -t ids < <(find "$box_store" -mindepth 1 -maxdepth 1 -regextype egrep \
    -regex '.*/[0-9a-f]{64}' -printf '%f\n' 2>/dev/null)
  if [ "${#ids[@]}" -gt 0 ]; then
    say "clean-up: removing ${#ids[@]} box containers"
    $box_user rm -f "${ids[@]}" >/dev/null 2>&1
  fi
  kill_trees "$shim_match"
  if pgrep -u "$uid" -f -- "$conmon_match" >/dev/null; then
    say "clean-up: removing podman's containers"
    $podman_user_cmd rm -af -t 0 >/dev/null 2>&1
  fi
  kill_trees "$conmon_match"
  for _ in $(seq 50); do
    left=$({ pgrep -u "$uid" -f -- "$shim_match|$conmon_match" || true; } | wc -l)
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  [ "$left" = 0 ] || echo "bench/density.sh: $left shims/conmons are still there" >&2
  if [ -n "$pid_max_old" ]; then echo "$pid_max_old" > /proc/sys/kernel/pid_max; fi
}
trap 'stop_all; cleanup' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

# --- 5. limits --------------------------------------------------------------------------------
# shellcheck disable=SC2016
read -r nproc_limit nofile_limit < <($as_user bash -c 'echo "$(ulimit -u) $(ulimit -n)"')
sysv() { cat "/proc/sys/$1" 2>/dev/null || echo "?"; }
user_procs() { { ps -L -u "$uid" -o lwp= || true; } | wc -l; }  # threads count against RLIMIT_NPROC
max_n=$(( BOX_N > PODMAN_N ? BOX_N : PODMAN_N ))
limits_text() {
  echo "limits for $BENCH_USER: RLIMIT_NPROC $nproc_limit (its threads now: $(user_procs)), RLIMIT_NOFILE $nofile_limit"
  echo "  /proc/sys/user: $(for k in user mnt pid net ipc uts cgroup; do printf 'max_%s_namespaces %s  ' "$k" "$(sysv "user/max_${k}_namespaces")"; done)"
  echo "  kernel.pid_max $(sysv kernel/pid_max), kernel.threads-max $(sysv kernel/threads-max), fs.mount-max $(sysv fs/mount-max) (per mount namespace), user.max_inotify_instances $(sysv user/max_inotify_instances)"
}
limits_text >&2
# Two processes per container (shim or conmon, and the container's sleep), plus what runs.
need=$(( 2 * max_n + $(ls -d /proc/[0-9]* | wc -l) + 1000 ))
if [ "$(sysv kernel/pid_max)" -lt "$need" ]; then
  pid_max_old=$(sysv kernel/pid_max)
  say "kernel.pid_max $pid_max_old is below the ~$need pids this needs: raising it to 4194304 (systemd's default) for the run"
  echo 4194304 > /proc/sys/kernel/pid_max
fi
if [ "$nproc_limit" != unlimited ] && [ "$nproc_limit" -lt $(( 2 * max_n + $(user_procs) + 100 )) ]; then
  die "RLIMIT_NPROC of $BENCH_USER ($nproc_limit) is too low for $max_n containers (two processes each)"
fi
for k in user mnt pid net ipc uts cgroup; do
  [ "$(sysv "user/max_${k}_namespaces")" -ge $(( max_n + 100 )) ] \
    || die "/proc/sys/user/max_${k}_namespaces is below $max_n: cannot run $max_n containers"
done

say "pulling $img into box's and podman's stores (box $box_version)"
$box_user pull -q "$img" >/dev/null || die "box pull $img failed"
$podman_user_cmd pull -q "$img" >/dev/null || die "podman pull $img failed"

# --- 6. helpers -------------------------------------------------------------------------------
# mem_snapshot [PID...]: after sync and dropping the caches, one JSON object (kB): avail, the
# median of 5 reads of MemAvailable, and adjusted, the median of 5 reads of MemAvailable plus
# the anonymous and shmem Pss (Pss_Anon + Pss_Shmem: what MemAvailable cannot reclaim) of every
# process except the given ones (each read: MemAvailable before and after the walk over /proc,
# averaged). The drop of `adjusted` is the drop of MemAvailable less what the rest of the
# machine (the other processes' memory, not the kernel's for them) grew meanwhile. Also
# kernel: the median of 5 reads of SUnreclaim + KernelStack + PageTables + Percpu, the kernel
# memory that namespaces, mounts and processes take (a part of what MemAvailable sees).
mem_snapshot() {
  sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1
  local i a1 a2 o others avails=() adjusted=() kernel=()
  for i in 1 2 3 4 5; do
    others=$(comm -23 <(printf '%s\n' /proc/[0-9]* | sed 's|^/proc/||' | sort) \
      <(printf '%s\n' "$@" | sort))
    a1=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    kernel+=("$(awk '/^(SUnreclaim|KernelStack|PageTables|Percpu):/ {s += $2} END {print s}' /proc/meminfo)")
    # shellcheck disable=SC2086
    o=$(PSS_RE='Pss_Anon|Pss_Shmem' pss $others)
    a2=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    avails+=($(( (a1 + a2) / 2 ))); adjusted+=($(( (a1 + a2) / 2 + o )))
    [ "$i" = 5 ] || sleep 0.5
  done
  jq -n --argjson avail "$(printf '%s\n' "${avails[@]}" | sort -n | sed -n 3p)" \
    --argjson adjusted "$(printf '%s\n' "${adjusted[@]}" | sort -n | sed -n 3p)" \
    --argjson kernel "$(printf '%s\n' "${kernel[@]}" | sort -n | sed -n 3p)" \
    --argjson meminfo "$(awk '{sub(":", "", $1); printf "%s\"%s\":%d", (NR > 1 ? "," : "{"), $1, $2} END {print "}"}' /proc/meminfo)" \
    '{avail: $avail, adjusted: $adjusted, kernel: $kernel, meminfo: $meminfo}'
}
# pss PID...: the sum of their Pss in kB (processes gone meanwhile count 0). PSS_RE: which
# smaps_rollup lines to add up (default Pss).
pss() {
  [ "$#" -gt 0 ] || { echo 0; return; }
  # shellcheck disable=SC2046
  { cat $(printf '/proc/%s/smaps_rollup ' "$@") 2>/dev/null || true; } \
    | awk -v re="^(${PSS_RE:-Pss}):" '$0 ~ re {s += $2} END {print s + 0}'
}
# start_all NAME COUNT LOG CMD...: runs CMD (a detached start) COUNT times, one after the
# other; LOG gets "i start end" (EPOCHREALTIME) per start. On the way, when PODMAN_N
# containers run, calls at_podman_n (if defined for NAME). Dies on the first failure.
start_all() {
  local name=$1 count=$2 log=$3 i t0 t1 err=$scratch/start.err; shift 3
  : > "$log"
  for i in $(seq "$count"); do
    t0=$EPOCHREALTIME
    if ! "$@" </dev/null >/dev/null 2>"$err"; then
      cat "$err" >&2
      limits_text >&2
      echo "running for $BENCH_USER now: $(pgrep -u "$uid" -f -- "$shim_match" | wc -l) box shims, $(pgrep -u "$uid" -f -- "$conmon_match" | wc -l) conmons" >&2
      die "$name: start #$i of $count failed: $*"
    fi
    t1=$EPOCHREALTIME
    echo "$i $t0 $t1" >> "$log"
    if [ $(( i % 100 )) = 0 ]; then say "$name: $i running"; fi
    if [ "$name" = box ] && [ "$i" = "$PODMAN_N" ] && [ "$count" -gt "$PODMAN_N" ]; then
      say "box: timing box ps with $i containers (for the comparison with podman)"
      hyperfine -N --warmup 2 --runs 10 --export-json "$scratch/box-ps-at-podman-n.json" \
        -n "box ps ($i)" "$box_user ps" >&2
    fi
  done
}
# start_stats LOG: JSON with the sum, mean, median, p90, max of the start times (s) and the
# means of the first and last tenth.
start_stats() {
  awk '{print $3 - $2}' "$1" | jq -s '
    . as $t | length as $n | (sort) as $s | (if $n >= 10 then ($n / 10 | floor) else 1 end) as $k |
    {n: $n, total: add, mean: (add / $n), median: $s[($n / 2 | floor)],
     p90: $s[($n * 0.9 | floor)], max: $s[-1],
     first_tenth_mean: ($t[0:$k] | add / $k), last_tenth_mean: ($t[-$k:] | add / $k)}'
}
# measure_memory NAME COUNT BASELINE TOP_MATCH: JSON with the memory of COUNT running
# containers: the snapshot BASELINE (JSON, from before the first start) and one now, and the
# Pss of the top processes (TOP_MATCH: shims or conmons) and of everything below them.
measure_memory() {
  local name=$1 count=$2 base=$3 match=$4 tops kids after
  say "$name: waiting ${SETTLE}s, then reading memory"
  sleep "$SETTLE"
  mapfile -t tops < <(pgrep -u "$uid" -f -- "$match" || true)
  [ "${#tops[@]}" = "$count" ] || die "$name: expected $count supervisor processes, found ${#tops[@]}"
  mapfile -t kids < <(descendants "${tops[@]}")
  [ "${#kids[@]}" -ge "$count" ] || die "$name: expected >= $count container processes, found ${#kids[@]}"
  after=$(mem_snapshot "${tops[@]}" "${kids[@]}")
  jq -n --argjson base "$base" --argjson after "$after" --argjson n "$count" \
    --argjson tops "${#tops[@]}" --argjson kids "${#kids[@]}" \
    --argjson pt "$(pss "${tops[@]}")" --argjson pk "$(pss "${kids[@]}")" '
    {before: $base, after: $after,
     mem_available_per_container_kb: (($base.avail - $after.avail) / $n),
     mem_available_adjusted_per_container_kb: (($base.adjusted - $after.adjusted) / $n),
     kernel_per_container_kb: (($after.kernel - $base.kernel) / $n),
     supervisors: $tops, container_processes: $kids,
     pss_supervisors_kb: $pt, pss_containers_kb: $pk,
     pss_per_container_kb: (($pt + $pk) / $n)}'
}

mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 7. box -----------------------------------------------------------------------------------
box_n_before=$({ find "$box_store" -mindepth 1 -maxdepth 1 ! -name names 2>/dev/null || true; } | wc -l)
[ "$box_n_before" = 0 ] || die "box's store is not empty"
base=$(mem_snapshot)
say "box: starting $BOX_N containers (box run -d --network none $img sleep 100000)"
start_all box "$BOX_N" "$scratch/box-starts.txt" $box_user run -d --network none "$img" sleep 100000
start_stats "$scratch/box-starts.txt" > "$scratch/box-starts.json"
measure_memory box "$BOX_N" "$base" "$shim_match" > "$scratch/box-mem.json"
listed=$($box_user ps -q | wc -l)
[ "$listed" = "$BOX_N" ] || die "box ps lists $listed running containers, expected $BOX_N"
say "box: timing box ps and box ps -a with $BOX_N containers"
hyperfine -N --warmup 2 --runs 10 --export-json "$scratch/box-ps.json" \
  -n "box ps" "$box_user ps" -n "box ps -a" "$box_user ps -a" >&2
say "box: removing all (box rm -f \$(box ps -aq))"
t0=$EPOCHREALTIME
# shellcheck disable=SC2046
$box_user rm -f $($box_user ps -aq) >/dev/null || die "box rm -f failed"
t1=$EPOCHREALTIME
box_rm=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
left=$($box_user ps -aq | wc -l)
[ "$left" = 0 ] || die "box ps -a still lists $left containers after box rm -f"
for _ in $(seq 50); do pgrep -u "$uid" -f -- "$shim_match" >/dev/null || break; sleep 0.1; done
pgrep -u "$uid" -f -- "$shim_match" >/dev/null && die "box shims are left after box rm -f"

# --- 8. podman --------------------------------------------------------------------------------
base=$(mem_snapshot)
say "podman: starting $PODMAN_N containers (podman run -d --network none $img sleep 100000)"
start_all podman "$PODMAN_N" "$scratch/podman-starts.txt" \
  $podman_user_cmd run -d --network none "$img" sleep 100000
start_stats "$scratch/podman-starts.txt" > "$scratch/podman-starts.json"
measure_memory podman "$PODMAN_N" "$base" "$conmon_match" > "$scratch/podman-mem.json"
pause=$(pgrep -u "$uid" -x catatonit | head -1 || true)
pause_pss=$(if [ -n "$pause" ]; then pss "$pause"; else echo null; fi)
listed=$($podman_user_cmd ps -q | wc -l)
[ "$listed" = "$PODMAN_N" ] || die "podman ps lists $listed running containers, expected $PODMAN_N"
say "podman: timing podman ps and podman ps -a with $PODMAN_N containers"
hyperfine -N --warmup 2 --runs 10 --export-json "$scratch/podman-ps.json" \
  -n "podman ps" "$podman_user_cmd ps" -n "podman ps -a" "$podman_user_cmd ps -a" >&2
say "podman: removing all (podman rm -af -t 0)"
t0=$EPOCHREALTIME
$podman_user_cmd rm -af -t 0 >/dev/null || die "podman rm -af failed"
t1=$EPOCHREALTIME
podman_rm=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
[ -z "$($podman_user_cmd ps -aq)" ] || die "podman ps -a still lists containers after podman rm -af"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 9. summary -------------------------------------------------------------------------------
json=$RESULTS_DIR/density-$stamp.json
ps_at=null
[ -f "$scratch/box-ps-at-podman-n.json" ] && ps_at=$(jq '.results[0]' "$scratch/box-ps-at-podman-n.json")
jq -n --arg when "$stamp" --arg ver "$box_version" --arg img "$img" --arg cpus "$(nproc)" \
  --arg kernel "$(uname -r)" --arg pv "$(podman --version)" --arg fs "$BENCH_FS" \
  --arg load "$load_before -> $load_after" --arg limits "$(limits_text)" \
  --argjson box_n "$BOX_N" --argjson podman_n "$PODMAN_N" \
  --slurpfile bs "$scratch/box-starts.json" --slurpfile ps "$scratch/podman-starts.json" \
  --slurpfile bm "$scratch/box-mem.json" --slurpfile pm "$scratch/podman-mem.json" \
  --slurpfile bp "$scratch/box-ps.json" --slurpfile pp "$scratch/podman-ps.json" \
  --argjson bpa "$ps_at" --argjson brm "$box_rm" --argjson prm "$podman_rm" \
  --argjson pause "$pause_pss" '
  {when: $when, box_version: $ver, image: $img, cpus: $cpus, kernel: $kernel,
   podman_version: $pv, fs: $fs, load: $load, limits: $limits,
   box: {n: $box_n, starts: $bs[0], memory: $bm[0], ps: $bp[0].results,
         ps_at_podman_n: $bpa, rm_all_s: $brm},
   podman: {n: $podman_n, starts: $ps[0], memory: $pm[0], ps: $pp[0].results,
            rm_all_s: $prm, pause_pss_kb: $pause}}' > "$json"

summary=$RESULTS_DIR/density-$stamp.txt
jq -r '
  def r(x; d): (x * d | round) / d;
  def ms(x): "\(r(x * 1000; 10)) ms";
  def mb(kb): "\(r(kb / 1024; 100)) MB";
  def pad(s; w): (s + "                                        ") | .[0:w];
  def ps(side; name): (side.ps[] | select(.command == name));
  .box as $b | .podman as $p |
  ps($b; "box ps") as $bps | ps($b; "box ps -a") as $bpsa |
  ps($p; "podman ps") as $pps | ps($p; "podman ps -a") as $ppsa |
  def row(what; bv; pv; fmt): pad(what; 36) + pad(bv | fmt; 14) + pad(pv | fmt; 14) + "\(r(bv / pv; 1000))";
  "density benchmark \(.when): \(.image), \(.box_version), \(.podman_version), \(.cpus) cpus, Linux \(.kernel), fs \(.fs), load \(.load)",
  .limits,
  "",
  pad(""; 36) + pad("box (\($b.n))"; 14) + pad("podman (\($p.n))"; 14) + "box/podman",
  row("start, per container (mean)"; $b.starts.mean; $p.starts.mean; ms(.)),
  row("  median"; $b.starts.median; $p.starts.median; ms(.)),
  row("  first tenth of the starts"; $b.starts.first_tenth_mean; $p.starts.first_tenth_mean; ms(.)),
  row("  last tenth of the starts"; $b.starts.last_tenth_mean; $p.starts.last_tenth_mean; ms(.)),
  row("  max"; $b.starts.max; $p.starts.max; ms(.)),
  row("memory/container, MemAvailable"; $b.memory.mem_available_per_container_kb; $p.memory.mem_available_per_container_kb; mb(.)),
  row("  less growth of other processes"; $b.memory.mem_available_adjusted_per_container_kb; $p.memory.mem_available_adjusted_per_container_kb; mb(.)),
  row("memory/container, Pss"; $b.memory.pss_per_container_kb; $p.memory.pss_per_container_kb; mb(.)),
  row("  supervisor (shim / conmon)"; $b.memory.pss_supervisors_kb / $b.n; $p.memory.pss_supervisors_kb / $p.n; mb(.)),
  row("  container processes"; $b.memory.pss_containers_kb / $b.n; $p.memory.pss_containers_kb / $p.n; mb(.)),
  row("memory/container, kernel"; $b.memory.kernel_per_container_kb; $p.memory.kernel_per_container_kb; mb(.)),
  row("memory/container, Pss + kernel"; $b.memory.pss_per_container_kb + $b.memory.kernel_per_container_kb; $p.memory.pss_per_container_kb + $p.memory.kernel_per_container_kb; mb(.)),
  row("ps, all running (mean)"; $bps.mean; $pps.mean; ms(.)),
  row("ps -a (mean)"; $bpsa.mean; $ppsa.mean; ms(.)),
  (if $b.ps_at_podman_n then row("ps with \($p.n) each (mean)"; $b.ps_at_podman_n.mean; $pps.mean; ms(.)) else empty end),
  row("rm all, per container"; $b.rm_all_s / $b.n; $p.rm_all_s / $p.n; ms(.)),
  "",
  "box ps with \($b.n) containers: mean \(ms($bps.mean)) ± \(ms($bps.stddev)) (goal < 200 ms: \(if $bps.mean < 0.2 then "PASS" else "MISS" end)); box ps -a \(ms($bpsa.mean))",
  "kernel: growth of SUnreclaim + KernelStack + PageTables + Percpu (/proc/meminfo; namespaces, mounts, task structs, stacks, page tables), after dropping caches",
  "box: \($b.n) starts took \(r($b.starts.total; 100)) s; rm -f of all \(r($b.rm_all_s; 100)) s. podman: \($p.n) starts \(r($p.starts.total; 100)) s; rm -af \(r($p.rm_all_s; 100)) s",
  "MemAvailable dropped by \(mb($b.memory.before.avail - $b.memory.after.avail)) with box (\($b.n)), \(mb($p.memory.before.avail - $p.memory.after.avail)) with podman (\($p.n)) (less the growth of all other processes: \(mb($b.memory.before.adjusted - $b.memory.after.adjusted)) and \(mb($p.memory.before.adjusted - $p.memory.after.adjusted))): system-wide, noisy on a busy machine",
  (if $p.pause_pss_kb then "podman pause process (not counted): Pss \(mb($p.pause_pss_kb))" else empty end)
' "$json" | tee "$summary"
cp "$json" "$RESULTS_DIR/density-latest.json"; cp "$summary" "$RESULTS_DIR/density-latest.txt"
echo "(JSON: $json)"

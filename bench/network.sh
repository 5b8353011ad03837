#!/usr/bin/env bash
# bench/network.sh: box's user-mode networks (pasta, slirp4netns) beside rootless podman's default
# network, on the same machine: bulk TCP both ways, HTTP requests per second through a published
# port, and what a network adds to a container's start.
#
# Sides (all as the unprivileged user boxtest-sub, images pulled beforehand into each store):
#   box              box's default network: pasta (package passt; the script checks `box info`)
#   box-slirp        box run --network slirp4netns
#   podman           Debian 12's rootless podman 4.3 with its default network, which is
#                    slirp4netns (its default rootless network command before podman 5 made pasta
#                    the default; the script checks the NetworkMode of a container it creates);
#                    published ports go through podman's rootlessport proxy (slirp4netns's
#                    port_handler=rootlesskit, the default), not through slirp4netns
#   podman-slirp     (information) podman with --network slirp4netns:port_handler=slirp4netns:
#                    published ports through slirp4netns's own forwarding, as box-slirp does
#   host             (information, the ceiling) box run --network host: the same programs at both
#                    ends talking over the host's loopback with no helper between them, which is
#                    as fast as these endpoints go on this machine
#
# What it measures:
#   1. container -> host loopback: a sink on the host's 127.0.0.1:PORT counts MB MiB sent by
#      `dd if=/dev/zero bs=1M count=MB` in a debian:bookworm container (bash's /dev/tcp)
#      through the host gateway: box with --add-host host.box.internal:host-gateway (pasta maps
#      the gateway address to the host's loopback; slirp4netns: 10.0.2.2 with host loopback
#      allowed), podman with --network slirp4netns:allow_host_loopback=true and 10.0.2.2
#      (podman denies the host's loopback by default: its host.containers.internal is the host's
#      non-loopback address, where a sink on 127.0.0.1 is not). MB/s from the sink's first byte
#      to its last. The sink then answers "ok", and the client waits for that before it exits:
#      a container's helper dies with it, and data still in the helper would be lost.
#   2. host -> container through a published port (-p 127.0.0.1:PORT:80): a perl sink in a
#      debian:bookworm container; the host connects, waits for the sink's "ready" (so that a
#      connection accepted by the port forwarder before the container listens is retried),
#      sends MB MiB and waits for the sink's "ok" after the last byte. MB/s over that.
#   3. HTTP: busybox httpd -f serving a 1 KiB file in a busybox container, published on a host
#      port; ab (apache2-utils) from the host, HTTP_CONC connections, HTTP_SECONDS seconds, no
#      keep-alive (busybox httpd closes each connection), after a 1 s warm-up. Requests/s.
#   4. start latency: hyperfine -N of `box run --rm busybox true` with the default network, with
#      --network slirp4netns, and with --network none, and of podman run --rm busybox true with
#      its default network and with --network none: START_ROUNDS hyperfine runs (2 warmup runs
#      + RUNS / START_ROUNDS timed runs of each command, rotated), times pooled. What a network
#      adds = the difference of the medians.
# Tests 1-3 run XFER_RUNS / HTTP_RUNS rounds, each round going through all sides in turn (so
# that a change of the machine's load falls on all of them), each round starting one side later;
# the summary takes the medians and prints every run.
# A failed transfer (no progress for XFER_STALL s, longer than XFER_TIMEOUT, a reset) is counted
# and shown, not fatal, and left out of the medians.
#
# Goals (issue 5):  box (pasta) / podman >= 2 on throughput (tests 1 and 2),
#                   box (pasta) / podman >= 1 on HTTP requests per second,
#                   box's added start latency (default network - none) < 30 ms.
#
# Where the stores live: on a fresh, journaled ext4 loop filesystem, as for bench/start.sh
# (BENCH_FS=none: $BENCH_WORK). Everything the script starts is removed at the end, also when it
# fails or is interrupted.
#
# How to run (as root; needs the fixture registry, with debian:bookworm, and user from the
# test harness):
#   sudo tests/run.sh --setup-only      # once, if 127.0.0.1:5000 is not up
#   sudo bench/network.sh
#   sudo MB=64 XFER_RUNS=1 HTTP_SECONDS=2 HTTP_RUNS=1 RUNS=4 START_ROUNDS=2 bench/network.sh  # quick
# Environment knobs:
#   MB=n                MiB per transfer in tests 1 and 2 (default 512)
#   XFER_RUNS=n         transfers per side and test (default 7)
#   XFER_TIMEOUT=s      give up on one transfer after s seconds (default 60)
#   XFER_STALL=s        ... or after s seconds without progress (default 20; TCP's retransmission
#                       back-off reaches 13 s only after six losses of the same segment in a row)
#   HTTP_SECONDS=s      length of one ab run (default 10);  HTTP_CONC=n  its connections (4)
#   HTTP_RUNS=n         ab runs per side (default 3)
#   RUNS=n              timed runs per command in test 4 (default 30), split over
#   START_ROUNDS=n      hyperfine runs (default 3)
#   PORT_BASE=p         host ports p .. p+10 are used (default 18470); they must be free
#   RESULTS_DIR=dir     where the summary and JSON go (default bench/results/)
#   BENCH_WORK=dir      scratch space (default /tmp/box-bench-network); the box binary goes here
#   BENCH_FS=loop|none  see bench/start.sh (default loop; BENCH_FS_SIZE, default 2G)
#   BOX_BIN=path        use this box binary instead of building one
#   CARGO_TARGET_DIR    honoured by the build (under sudo it builds as $SUDO_USER)
#   BENCH_USER          the user to run as (default boxtest-sub; needs a subuid range)
#   IMAGE               busybox image for tests 3 and 4 (default busybox:latest; needs httpd)
#   DEBIAN_IMAGE        image for tests 1 and 2 (default debian:bookworm; needs bash, dd, perl)
# Needs: pasta (passt), slirp4netns, podman, hyperfine, ab (apache2-utils), python3, curl, jq
#        (apt: passt slirp4netns podman hyperfine apache2-utils python3 curl jq).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MB=${MB:-512}
XFER_RUNS=${XFER_RUNS:-7}
XFER_TIMEOUT=${XFER_TIMEOUT:-60}
XFER_STALL=${XFER_STALL:-20}
HTTP_SECONDS=${HTTP_SECONDS:-10}
HTTP_CONC=${HTTP_CONC:-4}
HTTP_RUNS=${HTTP_RUNS:-3}
RUNS=${RUNS:-30}
START_ROUNDS=${START_ROUNDS:-3}
PORT_BASE=${PORT_BASE:-18470}
RESULTS_DIR=${RESULTS_DIR:-$repo/bench/results}
BENCH_WORK=${BENCH_WORK:-/tmp/box-bench-network}
BENCH_FS=${BENCH_FS:-loop}
BENCH_FS_SIZE=${BENCH_FS_SIZE:-2G}
BENCH_USER=${BENCH_USER:-boxtest-sub}
REGISTRY=127.0.0.1:5000
IMAGE=${IMAGE:-busybox:latest}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm}
podman_as=$(cd "$repo/../shared/bench" 2>/dev/null && pwd)/podman-as
PY=/usr/bin/python3

die() { echo "bench/network.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root: sudo bench/network.sh"
for t in pasta slirp4netns podman hyperfine ab curl jq setpriv pgrep ss; do
  command -v "$t" >/dev/null \
    || die "missing $t (apt-get install -y passt slirp4netns podman hyperfine apache2-utils curl jq)"
done
[ -x "$PY" ] || die "missing $PY (apt-get install -y python3)"
[ -x "$podman_as" ] || die "missing $podman_as (the shared podman wrapper)"
for v in MB XFER_RUNS XFER_TIMEOUT XFER_STALL HTTP_SECONDS HTTP_CONC HTTP_RUNS RUNS START_ROUNDS PORT_BASE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
case $BENCH_FS in loop|none) ;; *) die "BENCH_FS must be loop or none" ;; esac
# Host ports: PORT_BASE the sink of test 1; +1..+5 the published sinks of test 2 (one per
# side); +6..+10 the published HTTP servers of test 3.
for p in $(seq "$PORT_BASE" $((PORT_BASE + 10))); do
  if ss -Htln "sport = :$p" | grep -q .; then die "host port $p is taken (set PORT_BASE)"; fi
done

# --- 1. registry, user, images ----------------------------------------------------------------
curl -sf "http://$REGISTRY/v2/_catalog" >/dev/null \
  || die "no registry on $REGISTRY: run 'sudo tests/run.sh --setup-only' first"
getent passwd "$BENCH_USER" >/dev/null \
  || die "no user $BENCH_USER: run 'sudo tests/run.sh --setup-only' first"
grep -q "^$BENCH_USER:" /etc/subuid || die "$BENCH_USER has no subuid range"
uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
img=$REGISTRY/$IMAGE
deb=$REGISTRY/$DEBIAN_IMAGE
for i in "$IMAGE" "$DEBIAN_IMAGE"; do
  curl -sf -o /dev/null \
    -H 'Accept: application/vnd.oci.image.index.v1+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/${i%%:*}/manifests/${i#*:}" \
    || die "$REGISTRY has no $i: run 'sudo tests/run.sh --setup-only' (with debian:bookworm)"
done

# --- 2 and 3. box binary and benchmark filesystem (shared) ---------------------------------
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

# --- 4. stores, helpers, clean-up --------------------------------------------------------------
install -d -m 0755 -o "$uid" -g "$gid" "$W/box" "$W/podman"
install -d -m 0700 -o "$uid" -g "$gid" "$W/box/data" "$W/box/run" \
  "$W/podman/storage" "$W/podman/run"
as_user="setpriv --reuid=$uid --regid=$gid --init-groups"
box_user="$as_user env -i HOME=$home XDG_DATA_HOME=$W/box/data XDG_RUNTIME_DIR=$W/box/run PATH=/usr/bin:/bin $box"
podman_user_cmd="$podman_as $BENCH_USER --root $W/podman/storage --runroot $W/podman/run"
box_store=$W/box/data/box/containers
shim_match="^$box __shim "
conmon_match="^(/usr/bin/)?conmon .*$W/podman/storage/"
tmp=$BENCH_WORK/network-tmp
rm -rf "$tmp"; mkdir -p "$tmp"

# The host's side of tests 1 and 2: a sink that counts bytes and a sender, in Python (one
# recv_into / send of 1 MiB at a time, so that neither is the bottleneck).
cat > "$tmp/nettool.py" <<'EOF'
import json, socket, sys, time

def sink(port, nbytes, timeout, stall):
    """Listens on 127.0.0.1:PORT, says 'ready', counts NBYTES from one connection (waiting at
    most TIMEOUT s for it, giving up after STALL s without a byte, or TIMEOUT s in all),
    answers 'ok N' and prints {"bytes", "seconds"} (first byte to last)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(4); ls.settimeout(timeout)
    print("ready", flush=True)
    n, t0, t1 = 0, None, None
    try:
        c, _ = ls.accept(); c.settimeout(stall)
        deadline = time.monotonic() + timeout
        view = memoryview(bytearray(1 << 20))
        while n < nbytes:
            r = c.recv_into(view)
            if r == 0:
                print("sink: the connection ended (EOF) after %d bytes" % n, file=sys.stderr)
                break
            if t0 is None:
                t0 = time.monotonic()
            n += r
            if time.monotonic() > deadline:
                raise TimeoutError("%d s in all" % timeout)
        t1 = time.monotonic()
        c.sendall(b"ok %d\n" % n)
        c.close()
    except OSError as e:
        print("sink: %s after %d bytes" % (e or type(e).__name__, n), file=sys.stderr)
    t1 = t1 or time.monotonic()
    print(json.dumps({"bytes": n, "seconds": t1 - (t0 or t1)}), flush=True)
    sys.exit(0 if n >= nbytes else 1)

def send(port, nbytes, timeout, stall):
    """Connects to 127.0.0.1:PORT until the peer says 'ready' (for at most TIMEOUT s), sends
    NBYTES, waits for 'ok N' and prints {"bytes" (as the peer counted them; -1 if it never
    said), "seconds"}. Gives up after STALL s without progress, or TIMEOUT s in all."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            if s.recv(64).startswith(b"ready"):
                break
            s.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("no 'ready' from 127.0.0.1:%d in %d s" % (port, timeout))
        time.sleep(0.05)
    s.settimeout(stall)
    chunk, left, answer = memoryview(bytes(1 << 20)), nbytes, b""
    t0 = time.monotonic(); deadline = t0 + timeout
    try:
        while left > 0:
            left -= s.send(chunk[:min(left, len(chunk))])
            if time.monotonic() > deadline:
                raise TimeoutError("%d s in all" % timeout)
        while not answer.endswith(b"\n"):
            r = s.recv(64)
            if not r:
                break
            answer += r
    except OSError as e:
        print("send: %s with %d of %d bytes sent, answer %r" % (e or type(e).__name__,
              nbytes - left, nbytes, answer), file=sys.stderr)
    t1 = time.monotonic()
    s.close()
    got = int(answer.split()[1]) if answer.startswith(b"ok ") else -1
    print(json.dumps({"bytes": got, "seconds": t1 - t0}), flush=True)
    sys.exit(0 if got == nbytes else 1)

if __name__ == "__main__":
    mode, port, nbytes, timeout, stall = sys.argv[1], *map(int, sys.argv[2:6])
    {"sink": sink, "send": send}[mode](port, nbytes, timeout, stall)
EOF

# Every container started here goes, also on failure, before lib.sh's cleanup unmounts $W.
host_pids=()
stop_all() {
  set +e
  local ids p
  for p in "${host_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  mapfile -t ids < <(find "$box_store" -mindepth 1 -maxdepth 1 -regextype egrep \
    -regex '.*/[0-9a-f]{64}' -printf '%f\n' 2>/dev/null)
  if [ "${#ids[@]}" -gt 0 ]; then $box_user rm -f "${ids[@]}" >/dev/null 2>&1; fi
  # A shim still there is killed by its pid; its container and helper die with it.
  for p in $(pgrep -u "$uid" -f -- "$shim_match"); do kill -KILL "$p"; done
  $podman_user_cmd rm -af -t 0 >/dev/null 2>&1
  for _ in $(seq 50); do
    pgrep -u "$uid" -f -- "$shim_match|$conmon_match" >/dev/null || break
    sleep 0.1
  done
}
trap 'stop_all; cleanup' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

say "pulling $img and $deb into box's and podman's stores ($box_version)"
for i in "$img" "$deb"; do
  $box_user pull -q "$i" >/dev/null || die "box pull $i failed"
  $podman_user_cmd pull -q "$i" >/dev/null 2>"$tmp/pull.err" \
    || { cat "$tmp/pull.err" >&2; die "podman pull $i failed"; }
done

# What the defaults are, checked rather than assumed.
box_default=$($box_user info 2>/dev/null | sed -n 's/^Network: \([a-z0-9]*\).*/\1/p')
[ "$box_default" = pasta ] \
  || die "box's default network here is '${box_default:-?}', not pasta (is passt installed?)"
$podman_user_cmd create --name boxnet-probe "$img" true >/dev/null 2>&1 \
  || die "podman create failed"
podman_default=$($podman_user_cmd inspect --format '{{.HostConfig.NetworkMode}}' boxnet-probe 2>/dev/null)
$podman_user_cmd rm boxnet-probe >/dev/null 2>&1
[ "$podman_default" = slirp4netns ] \
  || die "podman's default rootless network here is '$podman_default', not slirp4netns"
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
podman_version=$($podman_user_cmd --version 2>/dev/null | awk '{print $NF}')
say "box's default network: pasta (passt $(ver passt)); podman $podman_version's default" \
    "rootless network: slirp4netns $(ver slirp4netns) (ports through rootlessport)"

sides=(box box-slirp podman podman-slirp host)
out_sides=(box box-slirp podman host)      # podman-slirp differs from podman only in its ports
side_port() { # side_port SIDE TEST: the host port of SIDE's server in test `in` or `http`
  local i; for i in "${!sides[@]}"; do [ "${sides[$i]}" = "$1" ] && break; done
  case $2 in in) echo $((PORT_BASE + 1 + i)) ;; http) echo $((PORT_BASE + 6 + i)) ;; esac
}
# listen_on SIDE TEST: where SIDE's server listens inside its container (with --network host, on
# the host's loopback and port itself: an unprivileged user cannot bind port 80 there).
listen_on() { if [ "$1" = host ]; then echo "127.0.0.1:$(side_port "$1" "$2")"; else echo 0.0.0.0:80; fi; }
# run_args SIDE TEST: the `run` arguments (before the image) of SIDE in TEST (out, in, http).
run_args() {
  case $1/$2 in
    box/out)        echo "--add-host host.box.internal:host-gateway" ;;
    box-slirp/out)  echo "--network slirp4netns --add-host host.box.internal:host-gateway" ;;
    podman/out)     echo "--network slirp4netns:allow_host_loopback=true" ;;
    host/*)         echo "--network host" ;;
    box/*)          echo "-p 127.0.0.1:$(side_port "$1" "$2"):80" ;;
    box-slirp/*)    echo "--network slirp4netns -p 127.0.0.1:$(side_port "$1" "$2"):80" ;;
    podman/*)       echo "-p 127.0.0.1:$(side_port "$1" "$2"):80" ;;
    podman-slirp/*) echo "--network slirp4netns:port_handler=slirp4netns -p 127.0.0.1:$(side_port "$1" "$2"):80" ;;
    *)              die "no arguments for $1 in test $2" ;;
  esac
}
engine() { case $1 in box*|host) echo "$box_user" ;; *) echo "$podman_user_cmd" ;; esac; }
# remove SIDE NAME: removes SIDE's container NAME at once. Its PID 1 (perl, httpd) ignores
# SIGTERM, so podman gets -t 0 (else rm -f waits its 10 s stop timeout); box rm -f kills.
remove() {
  case $1 in
    podman*) $podman_user_cmd rm -f -t 0 "$2" >/dev/null 2>&1 || true ;;
    *)       $box_user rm -f "$2" >/dev/null 2>&1 || true ;;
  esac
}
# rotate R SIDE...: the sides in the order of round R, each round starting one side later, so
# that no side always runs first (right after a container start, or a pause) or last.
rotate() {
  local r=$1; shift
  local n=$# i; local a=("$@")
  for i in $(seq 0 $((n - 1))); do echo "${a[$(((i + r - 1) % n))]}"; done
}
results=$tmp/results.ndjson; : > "$results"
record() { # record TEST SIDE RUN JSON
  jq -c --arg t "$1" --arg s "$2" --argjson r "$3" '{test: $t, side: $s, run: $r} + .' <<<"$4" >> "$results"
}

# --- 5. test 1: container -> host loopback -----------------------------------------------------
nbytes=$((MB << 20))
# to_host SIDE BYTES: one transfer; sets res to the sink's JSON (bytes, seconds).
to_host() {
  local side=$1 bytes=$2 host=host.box.internal out=$tmp/sink.out sp rc=0
  case $side in podman*) host=10.0.2.2 ;; host) host=127.0.0.1 ;; esac
  : > "$out"
  $PY -I "$tmp/nettool.py" sink "$PORT_BASE" "$bytes" "$XFER_TIMEOUT" "$XFER_STALL" > "$out" 2>"$tmp/sink.err" &
  sp=$!; host_pids=("$sp")
  for _ in $(seq 250); do grep -q ready "$out" && break; sleep 0.02; done
  grep -q ready "$out" || die "the host's sink did not start: $(cat "$tmp/sink.err")"
  # shellcheck disable=SC2046
  $(engine "$side") run --rm $(run_args "$side" out) "$deb" timeout "$XFER_TIMEOUT" bash -c \
    "exec 3<>/dev/tcp/$host/$PORT_BASE && dd if=/dev/zero bs=1M count=$((bytes >> 20)) status=none >&3 && read -r -u 3 ok n" \
    >"$tmp/client.out" 2>&1 || rc=$?
  wait "$sp" || true; host_pids=()
  res=$(tail -n 1 "$out")
  [[ $res == '{'* ]] || res='{"bytes": -1, "seconds": 0}'
  [ "$rc" = 0 ] || echo "bench/network.sh: $side: container -> host transfer exited $rc:" \
    "$(grep -v 'not a shared mount' "$tmp/client.out" | tail -n 2)" >&2
  [ "$(jq .bytes <<<"$res")" -ge "$bytes" ] || echo "bench/network.sh: $side: the host's sink:" \
    "$(tail -n 1 "$tmp/sink.err")" >&2
}
say "sanity pass: 1 MiB container -> host for each side"
for side in "${out_sides[@]}"; do
  to_host "$side" $((1 << 20))
  [ "$(jq .bytes <<<"$res")" = $((1 << 20)) ] || die "$side: 1 MiB container -> host failed: $res"
done
say "test 1: container -> host loopback, $MB MiB x $XFER_RUNS per side"
for r in $(seq "$XFER_RUNS"); do
  for side in $(rotate "$r" "${out_sides[@]}"); do
    to_host "$side" "$nbytes"
    record out "$side" "$r" "$res"
    say "  run $r $side: $(jq -r --argjson n "$nbytes" 'if .bytes >= $n then "\(.bytes / 1048576 / .seconds | floor) MB/s" else "FAILED (\(.bytes) bytes in \(.seconds | floor) s)" end' <<<"$res")"
  done
done

# --- 6. test 2: host -> container through a published port ------------------------------------
# A perl sink in debian:bookworm: says "ready" on each connection, counts MB MiB, answers "ok N".
# shellcheck disable=SC2016
perl_sink='use IO::Socket::INET; my ($N, $addr) = @ARGV;
my $s = IO::Socket::INET->new(LocalAddr => $addr, Listen => 8, ReuseAddr => 1) or die "listen: $!\n";
while (my $c = $s->accept) { syswrite($c, "ready\n"); my ($n, $b) = (0, "");
  while ($n < $N) { my $r = sysread($c, $b, 1 << 20); last unless $r; $n += $r }
  syswrite($c, "ok $n\n"); close $c }'
say "test 2: host -> container through a published port, $MB MiB x $XFER_RUNS per side"
for side in "${sides[@]}"; do
  # shellcheck disable=SC2046
  $(engine "$side") run -d --name "boxnet-in-$side" $(run_args "$side" in) "$deb" \
    perl -e "$perl_sink" "$nbytes" "$(listen_on "$side" in)" >/dev/null 2>"$tmp/run.err" \
    || { cat "$tmp/run.err" >&2; die "$side: cannot start the sink container"; }
done
for r in $(seq "$XFER_RUNS"); do
  for side in $(rotate "$r" "${sides[@]}"); do
    res=$($PY -I "$tmp/nettool.py" send "$(side_port "$side" in)" "$nbytes" "$XFER_TIMEOUT" "$XFER_STALL" 2>"$tmp/send.err") \
      || echo "bench/network.sh: $side: host -> container transfer failed: $(cat "$tmp/send.err")" >&2
    [ -n "$res" ] || res='{"bytes": -1, "seconds": 0}'
    record in "$side" "$r" "$res"
    say "  run $r $side: $(jq -r --argjson n "$nbytes" 'if .bytes == $n then "\(.bytes / 1048576 / .seconds | floor) MB/s" else "FAILED (\(.bytes) bytes in \(.seconds | floor) s)" end' <<<"$res")"
  done
done
for side in "${sides[@]}"; do remove "$side" "boxnet-in-$side"; done

# --- 7. test 3: HTTP requests per second through a published port -----------------------------
# shellcheck disable=SC2016
httpd_cmd='mkdir -p /www && head -c 1024 /dev/zero | tr "\0" x > /www/index.html && exec httpd -f -p "$0" -h /www'
say "test 3: HTTP through a published port: ab -c $HTTP_CONC, ${HTTP_SECONDS} s x $HTTP_RUNS per side"
for side in "${sides[@]}"; do
  # shellcheck disable=SC2046
  $(engine "$side") run -d --name "boxnet-http-$side" $(run_args "$side" http) "$img" \
    sh -c "$httpd_cmd" "$(listen_on "$side" http)" >/dev/null 2>"$tmp/run.err" \
    || { cat "$tmp/run.err" >&2; die "$side: cannot start the httpd container"; }
  url=http://127.0.0.1:$(side_port "$side" http)/index.html
  for _ in $(seq 200); do curl -sf -o /dev/null "$url" && break; sleep 0.05; done
  curl -sf -o /dev/null "$url" || die "$side: no answer from $url"
  ab -q -r -t 1 -n 1000000 -c "$HTTP_CONC" "$url" >/dev/null 2>&1 || true     # warm-up
done
# ab's -t must come before -n: -t alone sets -n to 50000. -r: a reset or failed receive is
# counted as a failed request instead of ending the run.
for r in $(seq "$HTTP_RUNS"); do
  for side in $(rotate "$r" "${sides[@]}"); do
    url=http://127.0.0.1:$(side_port "$side" http)/index.html
    ab -q -r -t "$HTTP_SECONDS" -n 1000000 -c "$HTTP_CONC" "$url" > "$tmp/ab.out" 2>&1 || true
    rps=$(awk '/^Requests per second:/ {print $4}' "$tmp/ab.out")
    done_n=$(awk '/^Complete requests:/ {print $3}' "$tmp/ab.out")
    failed=$(awk '/^Failed requests:/ {print $3}' "$tmp/ab.out")
    non2xx=$(awk '/^Non-2xx responses:/ {print $3}' "$tmp/ab.out")
    # A run ab could not finish has no rate: null, left out of the median, shown as FAILED.
    if [ -z "$rps" ]; then
      echo "bench/network.sh: $side: ab failed: $(tail -n 2 "$tmp/ab.out" | tr '\n' ' ')" >&2
      rps=null; done_n=0; failed=-1
    fi
    record http "$side" "$r" "{\"rps\": $rps, \"requests\": ${done_n:-0}, \"failed\": ${failed:-0}, \"non2xx\": ${non2xx:-0}}"
    say "  run $r $side: ${rps/null/FAILED} requests/s ($done_n done, ${failed:-?} failed, ${non2xx:-0} non-2xx)"
  done
done
for side in "${sides[@]}"; do remove "$side" "boxnet-http-$side"; done

# --- 8. test 4: start latency --------------------------------------------------------------------
# hyperfine runs one command's runs back to back, so a change of the machine's load during
# them would fall on one command only, and the differences below are small. Hence
# START_ROUNDS hyperfine runs (each command RUNS / START_ROUNDS times after 2 warm-up runs,
# in the rotated order), whose times are pooled for the medians.
declare -A start_cmd=(
  [box-none]="$box_user run --rm --network none $img true"
  [box]="$box_user run --rm $img true"
  [box-slirp]="$box_user run --rm --network slirp4netns $img true"
  [podman-none]="$podman_user_cmd run --rm --network none $img true"
  [podman]="$podman_user_cmd run --rm $img true"
)
start_names=(box-none box box-slirp podman-none podman)
per_round=$(( (RUNS + START_ROUNDS - 1) / START_ROUNDS ))
say "test 4: start latency: $START_ROUNDS hyperfine rounds of $per_round runs per command (+2 warmup)"
$box_user run --rm "$img" true || die "box run --rm $img true failed"
$box_user run --rm --network slirp4netns "$img" true || die "box run --rm --network slirp4netns $img true failed"
$podman_user_cmd run --rm "$img" true 2>/dev/null || die "podman run --rm $img true failed"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
hf_json=$tmp/hyperfine.json
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$START_ROUNDS"); do
  hf_args=()
  for n in $(rotate "$r" "${start_names[@]}"); do hf_args+=(-n "$n" "${start_cmd[$n]}"); done
  hyperfine -N --warmup 2 --runs "$per_round" --export-json "$tmp/hyperfine-$r.json" "${hf_args[@]}" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# Pooled: every command's times from all rounds, and their statistics, in hyperfine's shape.
$PY -I - "$hf_json" "$tmp"/hyperfine-*.json <<'EOF'
import json, statistics, sys
pool = {}
for f in sys.argv[2:]:
    for r in json.load(open(f))["results"]:
        pool.setdefault(r["command"], []).extend(r["times"])
json.dump({"rounds": len(sys.argv) - 2, "results": [
    {"command": c, "times": t, "mean": statistics.mean(t), "median": statistics.median(t),
     "stddev": statistics.stdev(t) if len(t) > 1 else 0.0, "min": min(t), "max": max(t)}
    for c, t in pool.items()]}, open(sys.argv[1], "w"))
EOF
left=$(find "$box_store" -mindepth 1 -maxdepth 1 -regextype egrep -regex '.*/[0-9a-f]{64}' | wc -l)
[ "$left" = 0 ] || die "box run --rm left $left containers behind"

# --- 9. results ----------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
json=$RESULTS_DIR/network-$stamp.json
summary=$RESULTS_DIR/network-$stamp.txt
jq -n --slurpfile runs "$results" --slurpfile hf "$hf_json" \
  --arg when "$stamp" --arg box "$box_version" --arg podman "$podman_version" \
  --arg passt "$(ver passt)" --arg slirp "$(ver slirp4netns)" --arg cpus "$(nproc)" \
  --arg kernel "$(uname -r)" --arg load "$load_before -> $load_after" \
  --argjson mb "$MB" --argjson http_seconds "$HTTP_SECONDS" --argjson http_conc "$HTTP_CONC" '
  {when: $when, box: $box, podman: $podman, passt: $passt, slirp4netns: $slirp, cpus: $cpus,
   kernel: $kernel, load_during_hyperfine: $load, mib_per_transfer: $mb,
   http_seconds: $http_seconds, http_connections: $http_conc,
   podman_default_network: "slirp4netns (ports: rootlessport)", box_default_network: "pasta",
   runs: $runs, hyperfine: $hf[0]}' > "$json"
$PY -I - "$json" <<'EOF' | tee "$summary"
import json, statistics, sys
d = json.load(open(sys.argv[1]))
nbytes = d["mib_per_transfer"] << 20
sides = ["box", "box-slirp", "podman", "podman-slirp", "host"]
names = {"box": "box (pasta)", "box-slirp": "box slirp4netns", "podman": "podman default",
         "podman-slirp": "podman slirp-ports", "host": "host (ceiling)"}
cols = "%-34s %12s %16s %15s %19s %15s   %-10s %s"

def mbps(test, side):
    """Per-run MB/s (None for a failed run) of SIDE in TEST."""
    return [r["bytes"] / 1048576 / r["seconds"] if r["bytes"] == nbytes and r["seconds"] > 0 else None
            for r in d["runs"] if r["test"] == test and r["side"] == side]

def med(xs):
    ok = [x for x in xs if x is not None]
    return statistics.median(ok) if ok else None

hf = {r["command"]: r for r in d["hyperfine"]["results"]}
ms = lambda n: hf[n]["median"] * 1000
rows = []
for test, label in (("out", "container -> host loopback, MB/s"), ("in", "host -> container (-p), MB/s")):
    rows.append((label, {s: med(mbps(test, s)) for s in sides}, 2, ">="))
rps = {s: med([r["rps"] for r in d["runs"] if r["test"] == "http" and r["side"] == s] or [None])
       for s in sides}
rows.append(("HTTP requests/s (-p)", rps, 1, ">="))
added = {"box": ms("box") - ms("box-none"), "box-slirp": ms("box-slirp") - ms("box-none"),
         "podman": ms("podman") - ms("podman-none"), "podman-slirp": None, "host": None}
fmt = lambda v: "-" if v is None else ("%.0f" % v if abs(v) >= 100 else "%.1f" % v)
print("network benchmark %s: %s (pasta: passt %s; slirp4netns %s), podman %s, %s cpus, "
      "Linux %s, %d MiB per transfer, ab -c %d for %d s, load during hyperfine %s"
      % (d["when"], d["box"], d["passt"], d["slirp4netns"], d["podman"], d["cpus"], d["kernel"],
         d["mib_per_transfer"], d["http_connections"], d["http_seconds"], d["load_during_hyperfine"]))
print("podman's default rootless network (podman 4.3): slirp4netns; its published ports go "
      "through rootlessport. 'podman slirp-ports' = --network slirp4netns:port_handler=slirp4netns "
      "(information); podman reaches the host's loopback only with allow_host_loopback=true. "
      "'host (ceiling)' = box --network host: the same two ends over the host's loopback, no helper.")
print(cols % ("", *[names[s] for s in sides], "box/podman", "goal"))
def goal_line(label, vals, goal, op):
    b, p = vals["box"], vals["podman"]
    ratio = b / p if b is not None and p else None
    verdict = "-" if ratio is None else ("PASS" if ratio >= goal else "MISS")
    print(cols % (label, *[fmt(vals[s]) for s in sides],
          "-" if ratio is None else "%.2f" % ratio, "%s %s: %s" % (op, goal, verdict)))
for row in rows:
    goal_line(*row)
fails = []
for test, label in (("out", "container -> host"), ("in", "host -> container")):
    for s in sides:
        runs = mbps(test, s)
        if None in runs:
            fails.append("%s %s %d of %d" % (label, s, runs.count(None), len(runs)))
for s in sides:
    rr = [r for r in d["runs"] if r["test"] == "http" and r["side"] == s]
    if any(r["rps"] is None for r in rr):
        fails.append("HTTP %s %d of %d" % (s, sum(r["rps"] is None for r in rr), len(rr)))
print("failed runs (left out of the medians): " + ("; ".join(fails) if fails else "none"))
print(cols % ("start latency added, ms (median)", *[fmt(added[s]) for s in sides], "",
    "< 30 ms: %s" % ("PASS" if added["box"] < 30 else "MISS")))
print("start, median ms: " + ", ".join("%s %.1f" % (n, ms(n)) for n in
      ("box-none", "box", "box-slirp", "podman-none", "podman")) +
      "  (means: " + ", ".join("%s %.1f ± %.1f" % (n, hf[n]["mean"] * 1000, hf[n]["stddev"] * 1000)
      for n in ("box-none", "box", "box-slirp", "podman-none", "podman")) + ")")
for test, label in (("out", "container -> host"), ("in", "host -> container")):
    for s in sides:
        runs = mbps(test, s)
        if runs:
            print("  %s %-13s MB/s per run: %s" % (label, s, " ".join(
                "FAILED" if x is None else "%.0f" % x for x in runs)))
for s in sides:
    rr = [r for r in d["runs"] if r["test"] == "http" and r["side"] == s]
    print("  HTTP %-13s requests/s per run: %s (failed requests: %d)" % (
        s, " ".join("FAILED" if r["rps"] is None else "%.0f" % r["rps"] for r in rr),
        sum(max(r["failed"], 0) + r["non2xx"] for r in rr)))
EOF
cp "$json" "$RESULTS_DIR/network-latest.json"; cp "$summary" "$RESULTS_DIR/network-latest.txt"
echo "(JSON: $json)"

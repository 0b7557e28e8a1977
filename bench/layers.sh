#!/usr/bin/env bash
# layers.sh PROFILE VISITS: splits a node's CPU profile (Go's pprof format,
# from --debug-addr's /debug/pprof/profile) into the layers a visit goes
# through, and prints each layer's CPU time in microseconds per visit,
# VISITS being the new visits the cluster answered while the profile ran.
#
# A sample counts for the first layer in the list below that any frame of
# its stack matches: the inner layers come first (the fsync inside bolt's
# write, the JSON inside a handler, the Apply inside Raft's FSM loop), so
# a handler's own time is what is left once the layers it calls are taken.
# BENCHMARKS.md, "Where a visit's time goes", has the commands around it.
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 PROFILE VISITS" >&2
	exit 2
fi
profile=$1 visits=$2

layers=(
	"fsync|syscall\.Fdatasync|syscall\.Fsync|os\.\(\*File\)\.Sync"
	"bolt (raft log writes)|go\.etcd\.io/bbolt|raft-boltdb"
	"GC|runtime\.gcBgMarkWorker|runtime\.gcAssistAlloc|runtime\.bgsweep|runtime\.bgscavenge|runtime\.gcStart|runtime\.gcMarkTermination"
	"TLS between nodes|crypto/"
	"network syscalls|syscall\.Syscall|syscall\.RawSyscall|internal/runtime/syscall|runtime\.netpoll"
	"metrics|prometheus|go-metrics"
	"JSON|encoding/json"
	"Apply (state machine)|dni/fsm\.\(\*FSM\)\.Apply|dni/fsm\.\(\*FSM\)\.Snapshot|dni/fsm\.\(\*FSM\)\.Restore"
	"follower-to-leader forward|dni/httpapi\.\(\*Client\)|dni/httpapi\.\(\*Server\)\.serveInternal|dni/cluster\.\(\*Node\)\.CommitForwarded"
	"Raft (encode, append, replicate, commit)|hashicorp/raft|hashicorp/go-msgpack"
	"group commit (batcher)|dni/cluster\."
	"client checks (limits, bots)|dni/httpapi\.\(\*limiter|dni/httpapi\..*[Bb]ot|dni/httpapi\.\(\*Server\)\.clientIP|dni/httpapi\..*[Ll]imit"
	"handlers' reads of the state|dni/allocator\.|dni/fsm\."
	"handlers|dni/httpapi\."
	"HTTP parse and answer|fasthttp"
	"scheduler and runtime|runtime\."
	"other|."
)

# total prints the CPU seconds of the samples pprof keeps with these flags.
total() {
	go tool pprof -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -unit=s "$@" "$profile" 2>/dev/null |
		awk '/Showing nodes accounting for/ { gsub(/s,/, "", $5); print $5; found=1; exit } END { if (!found) print 0 }'
}

all=$(total)
printf '%-44s %10s %8s\n' "layer" "µs/visit" "share"
taken=""
for entry in "${layers[@]}"; do
	name=${entry%%|*} re=${entry#*|}
	if [ -z "$taken" ]; then
		s=$(total -focus="$re")
	else
		s=$(total -focus="$re" -ignore="$taken")
	fi
	taken=${taken:+$taken|}$re
	awk -v n="$name" -v s="$s" -v v="$visits" -v a="$all" 'BEGIN { printf "%-44s %10.2f %7.1f%%\n", n, s*1e6/v, (a>0 ? 100*s/a : 0) }'
done
awk -v s="$all" -v v="$visits" 'BEGIN { printf "%-44s %10.2f %7.1f%%\n", "all", s*1e6/v, 100 }'

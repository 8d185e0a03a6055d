# shellcheck shell=bash
#
# What the hack/bench-* scripts share; they source this file, which makes
# the temp dir $bench_dir (removed on exit) and defines:
#
#   bench_compile PKG          build PKG's test binary once, for bench_run
#   bench_run REGEX BENCHTIME [FLAG...]
#                              one pass of the benchmarks matching REGEX,
#                              run in PKG's directory, appended to
#                              $bench_raw
#   bench_awk PROGRAM [FILE...]
#                              awk with hack/lib/stats.awk loaded before
#                              PROGRAM (its text)
#   bench_ratios [-v ...] [FILE...]
#                              awk with stats.awk and ratios.awk
#
# Passes of bench_run, not `go test -count`: -count runs one side of one
# case COUNT times in a row, so a second of noise on this machine lands on
# every run of that side, and the median keeps it; passes over all cases
# put the runs of a case a pass apart.

bench_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_dir=$(mktemp -d)
trap 'rm -rf "$bench_dir"' EXIT
bench_bin=$bench_dir/test.bin
bench_raw=$bench_dir/bench.txt
bench_pkg=
: >"$bench_raw"

bench_compile() {
	bench_pkg=$1
	go test -c -o "$bench_bin" "./$bench_pkg"
}

bench_run() {
	local regex=$1 benchtime=$2
	shift 2
	(cd "$bench_pkg" && "$bench_bin" -test.run '^$' -test.bench "$regex" -test.benchtime "$benchtime" "$@") >>"$bench_raw"
}

bench_awk() {
	local program=$1
	shift
	awk -f "$bench_lib/stats.awk" -f <(printf '%s\n' "$program") "$@"
}

bench_ratios() { awk -f "$bench_lib/stats.awk" -f "$bench_lib/ratios.awk" "$@"; }

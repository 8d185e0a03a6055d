# hack/lib/stats.awk: the statistics every hack/bench-* script uses. Load it
# before the script's own program (awk -f hack/lib/stats.awk -f PROGRAM);
# hack/lib/bench.sh's bench_awk does.
#
# It reads `go test -bench` lines of a benchmark with one sub-benchmark per
# case and side (NAME/CASE/SIDE): each run's ns/op goes to add(CASE SUBSEP
# SIDE, ns), its allocs/op (with -benchmem) to allocs[CASE SUBSEP SIDE], and
# order[1..ncases] lists the cases as first seen. A program that reads other
# samples calls add itself.
#
#   add(key, v)       one more sample of key
#   median(key)       the median of key's samples
#   median_of(v, n)   the median of v[1..n], which it sorts

function add(key, v) { runs[key]++; samples[key, runs[key]] = v + 0 }

function median_of(v, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

function median(key,   i, v) {
	for (i = 1; i <= runs[key]; i++) v[i] = samples[key, i]
	return median_of(v, runs[key])
}

/^Benchmark[A-Za-z]+\// {
	split($1, stats_p, "/"); stats_case = stats_p[2]; stats_side = stats_p[3]; sub(/-[0-9]+$/, "", stats_side)
	add(stats_case SUBSEP stats_side, $3)
	allocs[stats_case SUBSEP stats_side] = $7
	if (!(stats_case in stats_seen)) { stats_seen[stats_case] = 1; order[++ncases] = stats_case }
}

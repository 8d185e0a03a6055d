# hack/lib/ratios.awk: read `go test -bench` lines of a benchmark with one
# sub-benchmark per case and side (NAME/CASE/SIDE), take the median of the
# runs of each, and print the median and worst ratio of side B to side A
# over the cases, and with T set, how many cases are above T, and which. Set A, B
# (and T) with -v. With NEAR set instead, print only the names of the cases
# whose ratio is above NEAR, one per line.
function median(key,   i, j, t, m, v) {
	m = k[key]
	for (i = 1; i <= m; i++) v[i] = ns[key, i] + 0
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
/^Benchmark[A-Za-z]+\// {
	split($1, p, "/"); c = p[2]; side = p[3]; sub(/-[0-9]+$/, "", side)
	key = c SUBSEP side; k[key]++; ns[key, k[key]] = $3; cases[c] = 1
}
END {
	if (NEAR != "") {
		for (c in cases) if (median(c SUBSEP B) / median(c SUBSEP A) > NEAR + 0) print c
		exit
	}
	for (c in cases) { r = median(c SUBSEP B) / median(c SUBSEP A); rs[++n] = r; if (r > worst) { worst = r; wc = c }; if (T != "" && r > T + 0) { above++; list = list sprintf(" %s:%.2f", c, r) } }
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (rs[j] < rs[i]) { x = rs[i]; rs[i] = rs[j]; rs[j] = x }
	printf "cases: %d  median ratio %s/%s: %.2f  worst: %.2f (case %s)", n, B, A, rs[int((n + 1) / 2)], worst, wc
	if (T != "") printf "  above %s: %d%s", T, above + 0, list
	printf "\n"
}

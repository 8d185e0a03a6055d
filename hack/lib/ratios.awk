# hack/lib/ratios.awk, loaded after hack/lib/stats.awk (bench_ratios in
# hack/lib/bench.sh): the median of the runs of each case's side, and the
# median and worst ratio of side B to side A over the cases, and with T set,
# how many cases are above T, and which. Set A, B (and T) with -v. With NEAR
# set instead, print only the names of the cases whose ratio is above NEAR,
# one per line.
END {
	for (i = 1; i <= ncases; i++) {
		c = order[i]; r = median(c SUBSEP B) / median(c SUBSEP A); rs[i] = r
		if (NEAR != "") { if (r > NEAR + 0) print c; continue }
		if (r > worst) { worst = r; wc = c }
		if (T != "" && r > T + 0) { above++; list = list sprintf(" %s:%.2f", c, r) }
	}
	if (NEAR != "") exit
	printf "cases: %d  median ratio %s/%s: %.2f  worst: %.2f (case %s)", ncases, B, A, median_of(rs, ncases), worst, wc
	if (T != "") printf "  above %s: %d%s", T, above + 0, list
	printf "\n"
}

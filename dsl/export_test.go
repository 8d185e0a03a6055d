package dsl

// RecordSites turns the recording of builder call sites on or off, for
// BenchmarkSourceLocations.
func RecordSites(on bool) { noSites.Store(!on) }

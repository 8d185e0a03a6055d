package cli

import (
	"flag"
	"strings"

	"github.com/slipway-build/slipway/internal/cmdutil"
)

// registerFlags declares slipway's flags (those regs declare) on fs, the
// set the program may have declared its own flags on already. A flag of
// the program's that has the name of one of ours is an error naming it,
// not the flag package's panic.
func registerFlags(fs *flag.FlagSet, regs ...func(*flag.FlagSet)) error {
	ours := flag.NewFlagSet("slipway", flag.ContinueOnError)
	for _, r := range regs {
		r(ours)
	}
	var clash []string
	ours.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) != nil {
			clash = append(clash, "-"+f.Name)
		}
	})
	if len(clash) > 0 {
		return cmdutil.Usagef("the program declares the flag %s, which slipway's command line has already: rename the program's flag", strings.Join(clash, ", "))
	}
	ours.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	return nil
}

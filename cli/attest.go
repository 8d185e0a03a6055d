package cli

// The flags for attestations and reproducible images, named as buildx
// names them: --attest, --provenance, --sbom, --attest-index and
// --source-date-epoch (with $SOURCE_DATE_EPOCH).

import (
	"flag"
	"os"
	"strconv"
	"strings"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// attestFlags are the attestation and reproducibility flags of build.
type attestFlags struct {
	attest     cmdutil.StringList
	provenance shorthandFlag
	sbom       shorthandFlag
	index      bool
	epoch      string
}

func (o *attestFlags) register(fs *flag.FlagSet) {
	fs.Var(&o.attest, "attest", "add an attestation: type=provenance[,mode=min|max] or type=sbom[,generator=IMAGE][,scan-stage=true|NAMES] (repeatable; provenance mode=min is on by default for image and OCI outputs)")
	o.provenance.typ, o.sbom.typ = "provenance", "sbom"
	fs.Var(&o.provenance, "provenance", "shorthand for --attest type=provenance: true, false, or mode=min|max")
	fs.Var(&o.sbom, "sbom", "shorthand for --attest type=sbom: true, false, or generator=IMAGE[,scan-stage=true]")
	fs.BoolVar(&o.index, "attest-index", true, "with false, a single-platform image stays a plain manifest: provenance is left out instead of making an image index (no SBOM then)")
	fs.StringVar(&o.epoch, "source-date-epoch", "", "SOURCE_DATE_EPOCH, seconds since 1970 (default: $SOURCE_DATE_EPOCH): the build argument, image times and every layer file's time, for a reproducible digest")
}

// shorthandFlag is --provenance or --sbom: a boolean that also takes the
// fields of an --attest value of its type, as buildx's does.
type shorthandFlag struct {
	typ   string
	set   bool
	value string
}

func (f *shorthandFlag) String() string   { return f.value }
func (f *shorthandFlag) IsBoolFlag() bool { return true }
func (f *shorthandFlag) Set(v string) error {
	f.set, f.value = true, v
	return nil
}

// attestations are the attestations the flags ask for, given the outputs:
// provenance mode=min by default when an output writes an image, as buildx
// does. A bad value is a usage error naming the flag.
func (o attestFlags) attestations(outputs []driver.Output) (driver.Attestations, error) {
	var a driver.Attestations
	provenanceOff := false
	for _, s := range o.attest {
		var err error
		if a, err = driver.ParseAttest(a, s); err != nil {
			return a, cmdutil.Usagef("--attest %q: %v", s, err)
		}
	}
	for _, f := range []*shorthandFlag{&o.provenance, &o.sbom} {
		if !f.set {
			continue
		}
		off := false
		v := f.value
		if b, err := strconv.ParseBool(v); err == nil {
			off, v = !b, ""
		}
		if off {
			if f.typ == "provenance" {
				a.Provenance, provenanceOff = nil, true
			} else {
				a.SBOM = nil
			}
			continue
		}
		spec := "type=" + f.typ
		if v != "" {
			spec += "," + v
		}
		var err error
		if a, err = driver.ParseAttest(a, spec); err != nil {
			return a, cmdutil.Usagef("--%s %q: %v", f.typ, f.value, err)
		}
	}
	if a.Provenance == nil && !provenanceOff && writesImage(outputs) {
		a.Provenance = &driver.ProvenanceAttestation{Mode: "min"}
	}
	a.Unindexed = !o.index
	if a.Unindexed && a.SBOM != nil {
		return a, cmdutil.Usagef("--attest-index=false: an SBOM attestation always makes an image index; drop --sbom or --attest-index=false")
	}
	return a, nil
}

// writesImage reports whether an output writes an image (a registry push,
// an image store, an OCI or Docker archive), the outputs buildx attests by
// default.
func writesImage(outputs []driver.Output) bool {
	for _, o := range outputs {
		switch o.Type {
		case "image", "oci", "docker":
			return true
		}
	}
	return false
}

// sourceDateEpoch reads --source-date-epoch, else $SOURCE_DATE_EPOCH as
// buildx does, and sets the build argument from it unless --build-arg
// already does; nil when neither is set.
func (o attestFlags) sourceDateEpoch(buildArgs map[string]string) (*int64, error) {
	v, name := o.epoch, "--source-date-epoch"
	if v == "" {
		v, name = os.Getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return nil, cmdutil.Usagef("%s %q: want seconds since 1970", name, v)
	}
	if _, ok := buildArgs["SOURCE_DATE_EPOCH"]; !ok {
		buildArgs["SOURCE_DATE_EPOCH"] = strconv.FormatInt(n, 10)
	}
	return &n, nil
}

// applyAttest puts the attestations and SOURCE_DATE_EPOCH into the build
// options of runBuild.
func (inv *invocation) applyAttest(so *driver.BuildOptions) error {
	a, err := inv.opts.build.attest.attestations(so.Outputs)
	if err != nil {
		return err
	}
	so.Attest = a
	so.SourceDateEpoch, err = inv.opts.build.attest.sourceDateEpoch(inv.buildArgs)
	return err
}

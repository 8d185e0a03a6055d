package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// buildOptions are the flags of the build command. The solve flags are
// shared with run, which builds first.
type buildOptions struct {
	outputs      cmdutil.StringList
	push         string
	metadataFile string
	solve        solveFlags
	attest       attestFlags
}

func (o *buildOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.outputs, "output", "export in buildctl's syntax, e.g. type=oci,dest=img.tar or type=local,dest=dir (repeatable)")
	fs.Var(&o.outputs, "o", "shorthand for --output")
	fs.StringVar(&o.push, "push", "", "push the image to this registry reference")
	fs.StringVar(&o.metadataFile, "metadata-file", "", "write the build's metadata (image digest, ...) to this file as JSON, as buildctl does")
	o.solve.register(fs)
	o.attest.register(fs)
}

// solveFlags are the flags, in buildctl's syntax, that shape the solve
// itself: cache backends, secrets, SSH agents, entitlements, no-cache.
type solveFlags struct {
	exportCache cmdutil.StringList
	importCache cmdutil.StringList
	secrets     cmdutil.StringList
	ssh         cmdutil.StringList
	allow       cmdutil.StringList
	noCache     bool
	contextDir  string
	contexts    cmdutil.StringList
}

func (o *solveFlags) register(fs *flag.FlagSet) {
	fs.Var(&o.exportCache, "export-cache", "export the build cache, e.g. type=registry,ref=REG/REPO:cache[,mode=max] or type=local,dest=DIR (repeatable)")
	fs.Var(&o.importCache, "import-cache", "import a build cache, e.g. type=registry,ref=REG/REPO:cache or type=local,src=DIR (repeatable)")
	fs.Var(&o.secrets, "secret", "expose a secret to RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fs.Var(&o.ssh, "ssh", "forward an SSH agent or keys to RUN --mount=type=ssh: default or ID=SOCKET|KEY[,...] (repeatable)")
	fs.Var(&o.allow, "allow", "grant an entitlement: network.host or security.insecure (repeatable)")
	fs.BoolVar(&o.noCache, "no-cache", false, "run every step again, ignoring the cache")
	fs.StringVar(&o.contextDir, "context", ".", "build context: the directory Copy and bind mounts read from")
	fs.Var(&o.contexts, "build-context", "a named build context, NAME=DIR, NAME=docker-image://REF, NAME=oci-layout://PATH[:TAG][@DIGEST], NAME=GIT-URL or NAME=https://URL, which dsl.Context(NAME), FROM NAME and COPY from NAME read (repeatable)")
}

// solveOptions parses the solve flags into the fields of
// driver.BuildOptions they set.
func (o solveFlags) solveOptions() (driver.BuildOptions, error) {
	b := driver.BuildOptions{NoCache: o.noCache, ContextDir: o.contextDir}
	for _, spec := range o.contexts {
		name, dir, ok := strings.Cut(spec, "=")
		if !ok || name == "" || dir == "" {
			return b, fmt.Errorf("--build-context %q: want NAME=DIR or NAME=URL", spec)
		}
		if scheme, _, ok := strings.Cut(dir, "://"); ok && !slices.Contains([]string{"docker-image", "oci-layout", "git", "http", "https"}, scheme) {
			return b, fmt.Errorf("--build-context %q: want a directory, docker-image://REF, oci-layout://PATH, a git URL or an http(s) URL", spec)
		}
		if b.Contexts == nil {
			b.Contexts = map[string]string{}
		}
		b.Contexts[name] = dir
	}
	for _, s := range o.exportCache {
		e, err := parseCacheExport(s)
		if err != nil {
			return b, err
		}
		b.CacheExports = append(b.CacheExports, e)
	}
	for _, s := range o.importCache {
		e, err := parseCacheImport(s)
		if err != nil {
			return b, err
		}
		b.CacheImports = append(b.CacheImports, e)
	}
	if len(o.secrets) > 0 {
		a, err := parseSecrets(o.secrets)
		if err != nil {
			return b, err
		}
		b.Session = append(b.Session, a)
	}
	if len(o.ssh) > 0 {
		a, err := parseSSH(o.ssh)
		if err != nil {
			return b, err
		}
		b.Session = append(b.Session, a)
	}
	for _, s := range o.allow {
		e, err := parseAllow(s)
		if err != nil {
			return b, err
		}
		b.Allow = append(b.Allow, e)
	}
	return b, nil
}

func (o buildOptions) parseOutputs() ([]driver.Output, error) {
	var outs []driver.Output
	for _, s := range o.outputs {
		out, err := parseOutput(s)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	if o.push != "" {
		outs = append(outs, driver.Output{Type: "image", Attrs: map[string]string{"name": o.push, "push": "true"}})
	}
	if len(outs) == 0 {
		name := programName()
		outs = append(outs, driver.Output{
			Type:  "oci",
			Dest:  name + ".oci.tar",
			Attrs: map[string]string{"name": name + ":latest"},
		})
	}
	return outs, nil
}

// buildOptions are the driver options build and run share: the solve
// flags, the platform, the progress display, the lock file and the compile
// options.
func (inv *invocation) buildOptions() (driver.BuildOptions, error) {
	so, err := inv.opts.build.solve.solveOptions()
	if err != nil {
		return so, cmdutil.Usagef("%v", err)
	}
	so.Platform = inv.platform
	if so.Progress, err = parseProgress(inv.opts.progress); err != nil {
		return so, cmdutil.Usagef("%v", err)
	}
	so.ProgressOut = inv.stderr
	so.Resolver = inv.opts.llb.lock.wrapper()
	so.Compile = inv.compileOptions()
	if so.OnError, err = inv.onErrorShell(); err != nil {
		return so, cmdutil.Usagef("%v", err)
	}
	return so, nil
}

// runBuild builds the image on the daemon and exports it.
func runBuild(ctx context.Context, inv *invocation) error {
	outputs, err := inv.opts.build.parseOutputs()
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	so, err := inv.buildOptions()
	if err != nil {
		return err
	}
	so.Outputs = outputs
	so.Platforms = inv.platforms
	if err := inv.applyAttest(&so); err != nil {
		return err
	}
	c, err := connect(ctx, inv)
	if err != nil {
		return err
	}
	defer c.Close()
	if inv.opts.explain.gate == "after" && !inv.opts.explain.record {
		return cmdutil.Usagef("--fail-on-cache-miss=after reads the build's record: it cannot go with --record=false")
	}
	if err := inv.gateBefore(ctx, c, so); err != nil {
		return err
	}
	var rec recorder // the build's record: explain.go
	rec.watch(&so)
	rec.prehash(ctx, inv, &so, nil)
	res, err := c.Build(ctx, inv.stage(), so)
	if err != nil {
		inv.saveRecord(ctx, res, err, so, &rec) // explain says why the steps ran
		return err
	}
	if err := inv.gateAfter(inv.saveRecord(ctx, res, nil, so, &rec)); err != nil {
		return err
	}
	if f := inv.opts.build.metadataFile; f != "" {
		if err := writeMetadataFile(f, res.ExporterResponse); err != nil {
			return err
		}
	}
	if inv.opts.progress != "quiet" {
		for _, out := range outputs {
			describeOutput(inv.stderr, out, res.ImageDigest())
		}
	}
	return nil
}

// describeOutput tells the user where the image went and how to use it.
func describeOutput(w io.Writer, out driver.Output, dgst string) {
	switch {
	case out.Type == "oci" && out.Dest != "":
		name := out.Attrs["name"]
		fmt.Fprintf(w, "wrote %s (OCI image archive, manifest %s)\n", out.Dest, dgst)
		fmt.Fprintf(w, "  load it:  docker load -i %s   (or podman load -i %s)\n", out.Dest, out.Dest)
		if name != "" {
			fmt.Fprintf(w, "  run it:   docker run --rm %s\n", name)
		}
	case out.Type == "image" && out.Attrs["push"] == "true":
		fmt.Fprintf(w, "pushed %s@%s\n", out.Attrs["name"], dgst)
	case out.Dest != "":
		fmt.Fprintf(w, "wrote %s (%s)\n", out.Dest, out.Type)
	}
}

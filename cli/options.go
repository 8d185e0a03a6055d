package cli

// The flags in buildctl's syntax that shape the solve: cache backends,
// secrets, SSH agents, entitlements and the progress display. Each parser
// turns one flag's values into the typed option of driver.BuildOptions it
// sets, with BuildKit's own parser (cmd/buildctl/build) where there is one,
// and names the flag in its errors. --output's is in output.go.

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/client"
	bkbuild "github.com/moby/buildkit/cmd/buildctl/build"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/moby/buildkit/util/entitlements"
	"github.com/moby/buildkit/util/progress/progressui"

	"github.com/slipway-build/slipway/driver"
)

// parseCacheExport parses one --export-cache value in buildctl's syntax
// (with buildctl's parser): "type=registry,ref=REF[,mode=max]",
// "type=local,dest=DIR", "type=inline", or any type the daemon has
// registered. A bare reference means type=registry,ref=REF.
func parseCacheExport(s string) (driver.CacheEntry, error) {
	return parseCache("--export-cache", s, bkbuild.ParseExportCache)
}

// parseCacheImport parses one --import-cache value in buildctl's syntax:
// "type=registry,ref=REF", "type=local,src=DIR", and so on.
func parseCacheImport(s string) (driver.CacheEntry, error) {
	return parseCache("--import-cache", s, bkbuild.ParseImportCache)
}

func parseCache(flag, s string, parse func([]string) ([]client.CacheOptionsEntry, error)) (driver.CacheEntry, error) {
	if strings.TrimSpace(s) == "" {
		return driver.CacheEntry{}, fmt.Errorf("%s is empty: type=<type> is required (registry, local, inline, ...)", flag)
	}
	if strings.Contains(s, "=") && !strings.Contains(s, "type=") {
		// buildctl would take the whole value for a legacy registry ref.
		return driver.CacheEntry{}, fmt.Errorf("%s %q: type=<type> is required (registry, local, inline, ...)", flag, s)
	}
	entries, err := parse([]string{s})
	if err != nil {
		return driver.CacheEntry{}, fmt.Errorf("%s %q: %s", flag, s, strings.TrimPrefix(err.Error(), flag+" "))
	}
	e := entries[0]
	// What the client library would only find at solve time.
	need := map[string]string{}
	switch {
	case e.Type == "registry":
		need["ref"] = "REF"
	case e.Type == "local" && flag == "--export-cache":
		need["dest"] = "DIR"
	case e.Type == "local":
		need["src"] = "DIR"
	}
	for k, v := range need {
		if e.Attrs[k] == "" {
			return driver.CacheEntry{}, fmt.Errorf("%s %q: %s=%s is required for the %s cache", flag, s, k, v, e.Type)
		}
	}
	if m, ok := e.Attrs["mode"]; ok && m != "min" && m != "max" {
		return driver.CacheEntry{}, fmt.Errorf("%s %q: mode=%s: want min or max", flag, s, m)
	}
	return e, nil
}

// parseSecrets parses --secret values in buildctl's syntax
// ("id=ID,src=FILE", "id=ID,env=VAR", "type=env,id=ID") into the session
// attachable that serves them to RUN --mount=type=secret. Files are checked
// now; values are read only when a step asks for them.
func parseSecrets(specs []string) (session.Attachable, error) {
	for _, s := range specs {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("--secret is empty: want id=ID,src=FILE or id=ID,env=VAR")
		}
		if _, err := bkbuild.ParseSecret([]string{s}); err != nil {
			return nil, fmt.Errorf("--secret %q: %s", s, err)
		}
	}
	a, err := bkbuild.ParseSecret(specs)
	if err != nil {
		return nil, fmt.Errorf("--secret: %s", err)
	}
	return a, nil
}

// parseSSH parses --ssh values in buildctl's syntax ("default" for
// $SSH_AUTH_SOCK, "ID=SOCKET|KEY[,...]") into the session attachable that
// forwards them to RUN --mount=type=ssh.
func parseSSH(specs []string) (session.Attachable, error) {
	var confs []sshprovider.AgentConfig
	for _, s := range specs {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("--ssh is empty: want default or ID=SOCKET|KEY")
		}
		c, err := bkbuild.ParseSSH([]string{s})
		if err != nil {
			return nil, fmt.Errorf("--ssh %q: %s", s, err)
		}
		if _, err := sshprovider.NewSSHAgentProvider(c); err != nil {
			return nil, fmt.Errorf("--ssh %q: %s", s, sshErr(err))
		}
		confs = append(confs, c...)
	}
	a, err := sshprovider.NewSSHAgentProvider(confs)
	if err != nil {
		return nil, fmt.Errorf("--ssh: %s", sshErr(err))
	}
	return a, nil
}

// sshErr drops the Go struct dump sshprovider puts in its errors.
func sshErr(err error) string {
	s := err.Error()
	if strings.HasPrefix(s, "failed to convert agent config {") {
		if i := strings.Index(s, "}: "); i >= 0 {
			return s[i+3:]
		}
	}
	return s
}

// parseAllow checks an --allow value: an entitlement BuildKit knows,
// such as network.host or security.insecure.
func parseAllow(s string) (string, error) {
	if _, _, err := entitlements.Parse(s); err != nil {
		return "", fmt.Errorf("--allow %q: unknown entitlement (want network.host or security.insecure)", s)
	}
	return s, nil
}

// parseProgress checks a --progress value: one of BuildKit's display modes.
func parseProgress(s string) (progressui.DisplayMode, error) {
	switch m := progressui.DisplayMode(s); m {
	case progressui.AutoMode, progressui.TtyMode, progressui.PlainMode, progressui.RawJSONMode, progressui.QuietMode:
		return m, nil
	}
	return "", fmt.Errorf("--progress %q: want auto, tty, plain, rawjson or quiet", s)
}

package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tonistiigi/go-csvvalue"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/atomicfile"
)

// parseOutput parses one --output value. Field names are matched without
// regard to case, as buildctl does.
func parseOutput(s string) (driver.Output, error) {
	o := driver.Output{Attrs: map[string]string{}}
	if strings.TrimSpace(s) == "" {
		return o, fmt.Errorf("--output is empty: type=<type> is required (image, oci, docker, local, tar, cacheonly)")
	}
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return o, fmt.Errorf("--output %q: %w", s, err)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return o, fmt.Errorf("--output %q: field %q is not key=value", s, f)
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "output":
			return o, fmt.Errorf("--output %q: output=%s is not supported, you meant dest=%s?", s, v, v)
		default:
			o.Attrs[k] = v
		}
	}
	if o.Type == "" {
		return o, fmt.Errorf("--output %q: type=<type> is required (image, oci, docker, local, tar, cacheonly)", s)
	}
	switch o.DestKind() {
	case driver.DestFile:
		if o.Dest == "" || o.Dest == "-" {
			return o, fmt.Errorf("--output %q: dest=FILE is required for the %s exporter", s, o.Type)
		}
	case driver.DestDir:
		if o.Dest == "" {
			return o, fmt.Errorf("--output %q: dest=DIR is required for the %s exporter", s, o.Type)
		}
	default:
		if o.Dest != "" {
			return o, fmt.Errorf("--output %q: the %s exporter takes no dest", s, o.Type)
		}
	}
	return o, nil
}

// writeMetadataFile writes what the exporters reported as buildctl's
// --metadata-file does: a JSON object of the exporter response, with values
// that are base64-encoded JSON objects decoded in place. The file is
// replaced atomically.
func writeMetadataFile(path string, exporterResponse map[string]string) error {
	out := make(map[string]any, len(exporterResponse))
	for k, v := range exporterResponse {
		out[k] = v
		dt, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(dt, &obj); err == nil && len(obj) > 0 {
			out[k] = json.RawMessage(dt)
		}
	}
	dt, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("writing metadata file %s: %w", path, err)
	}
	if err := atomicfile.Write(path, dt, 0o644); err != nil {
		return fmt.Errorf("writing metadata file %s: %w", path, err)
	}
	return nil
}

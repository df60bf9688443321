package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what epoch version reports, from the build information
// the Go toolchain embeds in the binary.
type versionInfo struct {
	Version  string `json:"version"`  // module version: v1.2.3 when installed with go install …@version, "(devel)" from a clone
	Commit   string `json:"commit"`   // vcs.revision, with "+dirty" when built from a modified tree
	Time     string `json:"time"`     // vcs.time
	Go       string `json:"go"`       // Go version that built it
	Pebble   string `json:"pebble"`   // Pebble module version
	Platform string `json:"platform"` // GOOS/GOARCH
}

// buildCommit names the commit when the toolchain did not stamp one (a build
// with -buildvcs=false): go build -ldflags "-X main.buildCommit=$(git rev-parse HEAD)".
var buildCommit = "unknown"

func readVersion() versionInfo {
	v := versionInfo{Version: "unknown", Commit: buildCommit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = bi.Main.Version
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		v.Commit += "+dirty"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/cockroachdb/pebble/v2" {
			v.Pebble = d.Version
			if d.Replace != nil {
				v.Pebble = d.Replace.Version
			}
		}
	}
	return v
}

func (v versionInfo) String() string {
	s := fmt.Sprintf("epoch %s (commit %s", v.Version, v.Commit)
	if v.Time != "" {
		s += ", " + v.Time
	}
	return s + fmt.Sprintf(") %s %s, pebble %s", v.Go, v.Platform, v.Pebble)
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and Pebble version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(v)
			}
			fmt.Fprintln(cmd.OutOrStdout(), v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

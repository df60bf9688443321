package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Configuration sources of epoch serve, strongest first: command-line
// flags, EPOCH_* environment variables, the --config file, the defaults.
// Every flag has the same name in the file and, upper-cased with '-' as
// '_' and prefixed with EPOCH_, in the environment (--http-addr, http-addr,
// EPOCH_HTTP_ADDR).

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "EPOCH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// parseConfigFile reads a redis.conf-style file: one "name value" per line,
// '#' starts a comment line, blank lines are skipped, the value is the rest
// of the line (surrounding double or single quotes are removed, so "" is
// an empty value). A name given twice keeps its last value.
func parseConfigFile(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			name, value = line[:i], strings.TrimSpace(line[i+1:])
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out[strings.ToLower(name)] = value
	}
	return out, sc.Err()
}

// applySources gives every flag not set on the command line its value from
// the environment, else from the config file. Unknown names in the file are
// an error; the flags in skip cannot come from the file.
func applySources(fs *pflag.FlagSet, file map[string]string, lookupEnv func(string) (string, bool), skip ...string) error {
	for name := range file {
		if fs.Lookup(name) == nil || contains(skip, name) {
			return fmt.Errorf("config file: unknown parameter %q", name)
		}
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := lookupEnv(envName(f.Name))
		src := envName(f.Name)
		if !ok && !contains(skip, f.Name) {
			v, ok = file[f.Name]
			src = "config file parameter " + f.Name
		}
		if !ok {
			return
		}
		if f.Value.Type() == "bool" {
			switch strings.ToLower(v) {
			case "yes":
				v = "true"
			case "no":
				v = "false"
			}
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s: invalid value %q: %v", src, v, e)
		}
	})
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// loadConfigFile reads the config file at path; "" means none.
func loadConfigFile(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	m, err := parseConfigFile(f)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return m, nil
}

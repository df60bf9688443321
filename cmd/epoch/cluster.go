package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newClusterCmd is `epoch cluster status | join | remove`, against a
// running cluster member (--addr), through EPOCH.CLUSTER.
func newClusterCmd() *cobra.Command {
	var s source
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show and change a cluster of epoch serve --cluster nodes",
		Long: `Show and change a cluster of epoch serve --cluster nodes, through the
server at --addr (EPOCH.CLUSTER). join and remove run on the leader: sent to
a follower, they fail with the leader's address.`,
	}
	run := func(args ...any) func(cmd *cobra.Command, _ []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			if s.addr == "" {
				return errors.New("--addr is required: the address of a cluster member")
			}
			c, err := s.client()
			if err != nil {
				return err
			}
			defer c.Close()
			v, err := c.Do(cmd.Context(), append([]any{"EPOCH.CLUSTER"}, args...)...).Result()
			if err != nil {
				return err
			}
			printReply(cmd.OutOrStdout(), v, "")
			return nil
		}
	}
	status := &cobra.Command{Use: "status", Short: "This node's role, the leader, raft's indexes and the members", Args: cobra.NoArgs}
	status.RunE = run("STATUS")
	join := &cobra.Command{Use: "join ID RAFT-ADDR", Short: "Add a node to the cluster (start it first with --cluster)", Args: cobra.ExactArgs(2)}
	join.RunE = func(cmd *cobra.Command, args []string) error { return run("JOIN", args[0], args[1])(cmd, nil) }
	remove := &cobra.Command{Use: "remove ID", Short: "Take a node out of the cluster", Args: cobra.ExactArgs(1)}
	remove.RunE = func(cmd *cobra.Command, args []string) error { return run("REMOVE", args[0])(cmd, nil) }
	for _, sc := range []*cobra.Command{status, join, remove} {
		f := sc.Flags()
		f.StringVar(&s.addr, "addr", "", "a cluster member's RESP address (host:port)")
		f.StringVar(&s.password, "password", "", "the servers' password (--requirepass); also EPOCH_PASSWORD")
		f.BoolVar(&s.tls, "tls", false, "connect over TLS")
		f.StringVar(&s.tlsCA, "tls-ca", "", "PEM file of the CA that signed the server's certificate")
		f.BoolVar(&s.insecure, "tls-insecure", false, "do not verify the server's certificate")
		cmd.AddCommand(sc)
	}
	return cmd
}

// printReply prints a RESP reply as name: value lines (a map's pairs
// flattened), members one per line.
func printReply(w io.Writer, v any, indent string) {
	switch x := v.(type) {
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			if k, ok := x[i].(string); ok {
				if sub, ok := x[i+1].([]any); ok {
					fmt.Fprintf(w, "%s%s:\n", indent, k)
					for _, m := range sub {
						if ms, ok := m.([]any); ok {
							fmt.Fprintf(w, "%s  %v\n", indent, ms)
						}
					}
					continue
				}
				fmt.Fprintf(w, "%s%s: %v\n", indent, k, x[i+1])
			}
		}
	default:
		fmt.Fprintf(w, "%s%v\n", indent, x)
	}
}

package main

import "github.com/spf13/cobra"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "epoch",
		Short:         "EpochDB: a persistent key-value store with TTL, access frequency and metadata",
		SilenceUsage:  true,
		SilenceErrors: false,
		Version:       readVersion().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCmd())
	root.AddCommand(newBackupCommands()...)
	root.AddCommand(newInspectCommands()...)
	root.AddCommand(newTopCmd())
	root.AddCommand(newVersionCmd())
	root.AddCommand(newClusterCmd())
	return root
}

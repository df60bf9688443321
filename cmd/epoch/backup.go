package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/spf13/cobra"
)

// newBackupCommands returns the offline backup, restore and verify
// subcommands. They work on a database directory that no server has open
// (Pebble's lock file refuses a second opener).
func newBackupCommands() []*cobra.Command {
	return []*cobra.Command{newBackupCmd(), newRestoreCmd(), newVerifyCmd()}
}

func newBackupCmd() *cobra.Command {
	var dir, out string
	cmd := &cobra.Command{
		Use:   "backup --dir DIR --out FILE",
		Short: "Write a consistent, compressed, checksummed backup of a database directory to a file",
		Long: `Backup opens the database in DIR (which no server may have open), writes every
live key with its value, deadline and metadata to FILE, and closes it. FILE is
written atomically: to a temporary file beside it, fsynced, then renamed. Use
"epoch verify FILE" to check a backup and "epoch restore" to restore it.
FILE "-" writes the backup to standard output (and the report to standard
error), so that "epoch backup --dir D --out - | epoch restore --in - --dir E"
copies a store. DIR must be an EpochDB store: backup never creates one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := openOffline(dir, &epochdb.Options{NoWALPreallocation: true})
			if err != nil {
				return err
			}
			var info epochdb.BackupInfo
			msg := cmd.OutOrStdout()
			if out == "-" {
				// The backup is the output; the report goes to stderr.
				info, err = db.Backup(cmd.OutOrStdout())
				msg = cmd.ErrOrStderr()
			} else {
				info, err = db.BackupToFile(out)
			}
			if cerr := db.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(msg, "backed up %d keys from %s to %s: %s (%s before compression) in %s\n",
				info.Keys, dir, out, humanBytes(info.Bytes), humanBytes(info.RawBytes), info.Duration.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "database directory (required)")
	cmd.Flags().StringVar(&out, "out", "", `backup file to write (required; replaced atomically if it exists; "-" for standard output)`)
	_ = cmd.MarkFlagRequired("dir")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var in, dir string
	var replace, yes bool
	cmd := &cobra.Command{
		Use:   "restore --in FILE --dir DIR [--replace [--yes]]",
		Short: "Restore a backup file into a new database directory",
		Long: `Restore verifies FILE as it reads it and builds the database in a temporary
directory beside DIR, moving it into place only when the whole file has been
read and checked: a damaged file leaves DIR untouched. DIR must not exist or
be empty; --replace replaces an existing store, which no server may hold
(restore refuses a store a running server has open). --replace says what it
deletes; a DIR that is not an EpochDB store is replaced only with --yes too.
Keys whose deadline has passed since the backup are left out. FILE "-" reads
standard input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			unlock, err := checkRestoreTarget(cmd, dir, replace, yes)
			if err != nil {
				return err
			}
			defer unlock()
			r, closeIn, err := openInput(cmd, in)
			if err != nil {
				return err
			}
			defer closeIn()
			info, err := epochdb.Restore(r, dir, &epochdb.RestoreOptions{Replace: replace, Options: &epochdb.Options{NoWALPreallocation: true}})
			if errors.Is(err, epochdb.ErrTargetNotEmpty) {
				return fmt.Errorf("%w; pass --replace to replace it", err)
			}
			if err != nil {
				return fmt.Errorf("restore from %s failed, %s is unchanged: %w", in, dir, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %d keys from %s into %s (%d expired since the backup left out): read %s in %s\n",
				info.Keys, in, dir, info.Expired, humanBytes(info.Backup.Bytes), info.Duration.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", `backup file to read (required; "-" for standard input)`)
	cmd.Flags().StringVar(&dir, "dir", "", "database directory to create (required)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace DIR if it holds a store (or, with --yes, other files)")
	cmd.Flags().BoolVar(&yes, "yes", false, "with --replace: delete DIR even though it is not an EpochDB store")
	_ = cmd.MarkFlagRequired("in")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a backup file (header, block checksums, records, trailer) without restoring it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeIn, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			info, err := epochdb.VerifyBackup(r)
			if err != nil {
				return fmt.Errorf("%s is not a valid backup: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: %d keys, %s (%s before compression) in %d blocks, format v%d, snapshot at %s; verified in %s\n",
				args[0], info.Keys, humanBytes(info.Bytes), humanBytes(info.RawBytes), info.Blocks, info.Version,
				info.SnapshotAt.UTC().Format(time.RFC3339Nano), info.Duration.Round(time.Millisecond))
			return nil
		},
	}
}

// checkRestoreTarget refuses a target a running server holds, and a
// non-store target that --replace would delete without --yes. It tells on
// stderr what --replace deletes. When the target is a store, it keeps the
// store locked until unlock, so that no server opens it meanwhile.
func checkRestoreTarget(cmd *cobra.Command, dir string, replace, yes bool) (unlock func(), err error) {
	st, err := inspectDir(dir)
	if err != nil {
		return nil, err
	}
	if st.store {
		l, err := lockStore(dir)
		if err != nil {
			return nil, fmt.Errorf("refusing to restore into %s: %w", dir, err)
		}
		unlock = func() { _ = l.Close() }
	} else {
		unlock = func() {}
	}
	if !replace || len(st.names) == 0 {
		return unlock, nil
	}
	if st.store {
		fmt.Fprintf(cmd.ErrOrStderr(), "restore: replacing the EpochDB store in %s (%s)\n", dir, describeEntries(st.names))
		return unlock, nil
	}
	if !yes {
		unlock()
		return nil, fmt.Errorf("%s is not an EpochDB store; --replace would delete its %s: add --yes to delete them", dir, describeEntries(st.names))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "restore: deleting %s, which is not an EpochDB store (%s)\n", dir, describeEntries(st.names))
	return unlock, nil
}

func openInput(cmd *cobra.Command, path string) (io.Reader, func(), error) {
	if path == "-" {
		return cmd.InOrStdin(), func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}

// humanBytes renders a byte count for people.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

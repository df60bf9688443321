package main

import (
	"fmt"
	"io"

	"github.com/epochdb/epochdb"
	"github.com/spf13/cobra"
)

// compactResult is what epoch compact reports.
type compactResult struct {
	DiskBefore   uint64 `json:"disk_before"`
	DiskAfter    uint64 `json:"disk_after"`
	TablesBefore uint64 `json:"tables_before"`
	TablesAfter  uint64 `json:"tables_after"`
}

func newCompactCmd() *cobra.Command {
	s := &source{}
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Compact the whole store now and report the disk space before and after",
		Long: `Compact rewrites the store's files, dropping deleted, overwritten and swept
data, so that their disk space is returned now rather than by background
compactions (the write-ahead log files the store keeps for reuse stay).
It reports the table files' size and the whole store's before and after.
Offline (--dir) it opens the store, which no server may hold;
online (--addr) the server compacts while it keeps serving (EPOCH.COMPACT).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r compactResult
			if s.addr != "" {
				c, err := s.client()
				if err != nil {
					return err
				}
				defer c.Close()
				m, err := c.Do(cmd.Context(), "EPOCH.COMPACT").Slice()
				if err != nil {
					return fmt.Errorf("%s: %w", s.addr, err)
				}
				for i := 0; i+1 < len(m); i += 2 {
					n, _ := m[i+1].(int64)
					switch m[i] {
					case "disk_before":
						r.DiskBefore = uint64(n)
					case "disk_after":
						r.DiskAfter = uint64(n)
					case "tables_before":
						r.TablesBefore = uint64(n)
					case "tables_after":
						r.TablesAfter = uint64(n)
					}
				}
			} else {
				db, err := openOffline(s.dir, &epochdb.Options{DisableReadTracking: true, NoWALPreallocation: true})
				if err != nil {
					return err
				}
				info, err := db.Compact(cmd.Context())
				r = compactResult(info)
				if cerr := db.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
			}
			return s.print(cmd, r, func(w io.Writer) {
				fmt.Fprintf(w, "compacted: table files %s before, %s after; the whole store (with its logs) %s before, %s after\n",
					humanBytes(int64(r.TablesBefore)), humanBytes(int64(r.TablesAfter)), humanBytes(int64(r.DiskBefore)), humanBytes(int64(r.DiskAfter)))
			})
		},
	}
	s.addFlags(cmd.Flags())
	return cmd
}

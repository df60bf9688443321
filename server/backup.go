package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/epochdb/epochdb"
)

// EPOCH.BACKUP [name]: an online backup into the backup directory
// (Server.BackupDir), never outside it. A client may name a sub-folder
// (created if needed) or, with a name ending in ".backup", the file
// itself; a name that is absolute, climbs out with "..", or leads out
// through a symbolic link is refused. After each backup the newest
// Server.BackupRetain backup files of the whole directory tree are kept
// and older ones removed.

// backupSuffix is the ending of every backup file: a name ending so is a
// file name, anything else a sub-folder.
const backupSuffix = ".backup"

// errBackupOutside is the refusal of a name that leaves the backup
// directory.
const errBackupOutside = "ERR the backup name must stay inside the backup directory: a relative path without '..' components (no absolute paths, no symbolic links leading out)"

// backupTarget resolves a client's backup name inside base. It returns the
// directory to back up into and, when the name ends in ".backup", the file
// name. base is created when missing.
func backupTarget(base, name string) (dir, file string, err error) {
	if name != "" && (!filepath.IsLocal(name) || strings.ContainsRune(name, 0) || strings.Contains(name, `\`)) {
		return "", "", replyError(errBackupOutside)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", "", fmt.Errorf("backup directory: %w", err)
	}
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", "", fmt.Errorf("backup directory: %w", err)
	}
	sub := name
	if strings.HasSuffix(name, backupSuffix) {
		sub, file = filepath.Split(name)
		if file == backupSuffix {
			return "", "", replyError("ERR the backup file name is empty before " + backupSuffix)
		}
	}
	if sub != "" {
		// os.Root refuses to create or traverse a link that leads out.
		root, err := os.OpenRoot(realBase)
		if err != nil {
			return "", "", fmt.Errorf("backup directory: %w", err)
		}
		err = root.MkdirAll(filepath.Clean(sub), 0o755)
		_ = root.Close()
		if err != nil {
			if strings.Contains(err.Error(), "escapes") {
				return "", "", replyError(errBackupOutside)
			}
			return "", "", err
		}
	}
	dir = filepath.Join(realBase, sub)
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", err
	}
	if !within(realBase, real) {
		return "", "", replyError(errBackupOutside)
	}
	if file != "" {
		if _, err := os.Lstat(filepath.Join(real, file)); err == nil {
			return "", "", replyError("ERR backup failed: " + filepath.Join(sub, file) + " exists (a backup never replaces a file)")
		}
	}
	return real, file, nil
}

// within reports whether path is base or inside it (both cleaned, with
// symbolic links resolved).
func within(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// backupFile is a backup file found by pruneBackups.
type backupFile struct {
	path string
	mod  time.Time
}

// pruneBackups keeps the newest keep backup files (names ending in
// ".backup", regular files, anywhere under base) and removes the others;
// keep <= 0 keeps all. Symbolic links are neither followed nor removed.
// It returns the paths removed.
func pruneBackups(base string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	var files []backupFile
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), backupSuffix) || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		files = append(files, backupFile{p, info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Newest first; equal times by name, the generated names sorting by time.
	slices.SortFunc(files, func(a, b backupFile) int {
		if c := b.mod.Compare(a.mod); c != 0 {
			return c
		}
		return strings.Compare(b.path, a.path)
	})
	var removed []string
	var errs []error
	for _, f := range files[min(keep, len(files)):] {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, f.path)
	}
	return removed, errors.Join(errs...)
}

// cmdEpochBackup is EPOCH.BACKUP [name]: see above. It answers the backup
// file's absolute path.
func cmdEpochBackup(c *Conn, cmd Command) {
	if len(cmd.Args) > 2 {
		c.WriteError(errSyntax)
		return
	}
	base := c.srv.BackupDir
	if base == "" {
		c.WriteError("ERR no backup directory: start epoch serve with --backup-dir (Server.BackupDir)")
		return
	}
	name := ""
	if len(cmd.Args) == 2 {
		if name = string(cmd.Args[1]); name == "" {
			c.WriteError("ERR the backup name is an empty string")
			return
		}
	}
	c.srv.backupMu.Lock() // one backup and its pruning at a time
	defer c.srv.backupMu.Unlock()
	dir, file, err := backupTarget(base, name)
	var re replyError
	if errors.As(err, &re) {
		c.srv.log.Warn("server: EPOCH.BACKUP refused", "client", c.raddr, "name", name, "reason", string(re))
		c.WriteError(sanitize(string(re)))
		return
	}
	start := time.Now()
	var path string
	if err == nil {
		if file != "" {
			path = filepath.Join(dir, file)
			_, err = c.srv.DB.BackupToFile(path)
		} else {
			path, err = c.srv.DB.BackupTo(dir)
		}
	}
	switch {
	case errors.Is(err, epochdb.ErrClosed):
		c.writeErr(err)
		return
	case err != nil:
		c.srv.log.Error("server: EPOCH.BACKUP failed", "client", c.raddr, "name", name, "err", err)
		c.WriteError(sanitize("ERR backup failed: " + err.Error()))
		return
	}
	c.srv.log.Info("server: EPOCH.BACKUP done", "client", c.raddr, "path", path, "took", time.Since(start))
	removed, err := pruneBackups(base, c.srv.BackupRetain)
	if err != nil {
		c.srv.log.Warn("server: removing old backups failed", "dir", base, "err", err)
	}
	if len(removed) > 0 {
		c.srv.log.Info("server: old backups removed", "retain", c.srv.BackupRetain, "removed", removed)
	}
	c.WriteBulkString(path)
}

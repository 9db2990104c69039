package storage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/minidbgo/minidbgo/storage/vfs"
)

// A physical backup is a checkpoint (checkpoint.go) streamed as a tar
// archive, compressed with zstd unless asked not to be. docs/formats.md
// draws it; in short, its entries are, in order:
//
//	MINIDBGO-BACKUP          JSON header: {"format":"minidbgo-backup","version":1,"created":...}
//	sst/, wal/               directories
//	sst/000125.sst ...       the checkpoint's tables
//	wal/000124.log ...       its logs
//	MANIFEST-000130          its MANIFEST
//	CURRENT                  names the MANIFEST
//	MINIDBGO-BACKUP.sum      JSON: every file above with its size and CRC-32C
//
// The names are the data directory's, so `zstd -d | tar -x` also yields a
// directory Open opens (the two MINIDBGO-BACKUP files are ignored by the
// engine), but without the checks RestoreBackup makes. The checksums come
// last so that the archive is written in one pass over each file: a
// reader verifies each file as it unpacks it and compares at the end.

// Names of the backup archive's own entries.
const (
	BackupHeaderName = "MINIDBGO-BACKUP"
	BackupSumName    = "MINIDBGO-BACKUP.sum"
	backupFormat     = "minidbgo-backup"
	backupVersion    = 1
)

// scratchDirName is the directory inside the data directory where
// backups build their checkpoints (hard links to the live tables, so no
// space is used for them). Open removes what a crash left there.
const scratchDirName = "tmp"

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// backupHeader is the archive's first entry.
type backupHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Created string `json:"created"`
}

// backupSum is the archive's last entry.
type backupSum struct {
	Files []backupSumFile `json:"files"`
}

type backupSumFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C string `json:"crc32c"` // 8 lower-case hex digits
}

// BackupOptions configure DB.Backup. The zero value compresses with zstd.
type BackupOptions struct {
	// Uncompressed writes a plain tar instead of a zstd-compressed one.
	Uncompressed bool
}

// BackupStats describe a backup written or restored.
type BackupStats struct {
	// Files counts the data files (tables, logs, MANIFEST, CURRENT).
	Files int `json:"files"`
	// Bytes is their total size, before compression.
	Bytes int64 `json:"bytes"`
}

var backupCounter atomic.Uint64

// Backup writes a physical backup of the database to w: a checkpoint of
// it, as a tar archive with a CRC-32C of every file, zstd-compressed
// unless o.Uncompressed. The checkpoint is built in the data directory's
// tmp/ (its tables are hard links, so it takes little space) and removed
// when Backup returns; a crash leaves it for the next Open to remove.
// Memory does not depend on the database's size: files are streamed
// through one buffer. A cancelled ctx, or a failing w, ends the backup
// early with that error; what was written is then not a valid archive.
func (d *DB) Backup(ctx context.Context, w io.Writer, o *BackupOptions) (BackupStats, error) {
	var opts BackupOptions
	if o != nil {
		opts = *o
	}
	scratch := filepath.Join(d.dir, scratchDirName)
	if err := d.fs.MkdirAll(scratch, 0o755); err != nil {
		return BackupStats{}, fmt.Errorf("storage: backup: create %s: %w", scratchDirName, err)
	}
	dir := filepath.Join(scratch, fmt.Sprintf("backup-%d-%d", time.Now().UnixNano(), backupCounter.Add(1)))
	if err := d.Checkpoint(dir); err != nil {
		return BackupStats{}, err
	}
	defer func() {
		if err := removeAll(d.fs, dir); err != nil {
			d.opts.Logger.Warn("storage: backup: cannot remove its checkpoint", "dir", dir, "err", err)
		}
	}()

	var zw *zstd.Encoder
	out := w
	if !opts.Uncompressed {
		var err error
		zw, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return BackupStats{}, fmt.Errorf("storage: backup: %w", err)
		}
		defer zw.Close()
		out = zw
	}
	st, err := writeBackupTar(ctx, d.fs, dir, out)
	if err != nil {
		return st, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// writeBackupTar writes the archive of the checkpoint in dir to w.
func writeBackupTar(ctx context.Context, fs vfs.FS, dir string, w io.Writer) (BackupStats, error) {
	var st BackupStats
	tw := tar.NewWriter(w)
	now := time.Now().UTC()
	hdr, _ := json.Marshal(backupHeader{Format: backupFormat, Version: backupVersion, Created: now.Format(time.RFC3339)})
	hdr = append(hdr, '\n')
	if err := writeTarBytes(tw, BackupHeaderName, hdr, now); err != nil {
		return st, err
	}
	for _, sub := range []string{sstDirName, walDirName} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: sub + "/", Mode: 0o755, ModTime: now, Format: tar.FormatPAX}); err != nil {
			return st, err
		}
	}
	// Tables, logs, the MANIFEST, then CURRENT.
	var names []string
	for _, sub := range []string{sstDirName, walDirName} {
		list, err := fs.List(filepath.Join(dir, sub))
		if err != nil {
			return st, fmt.Errorf("storage: backup: %w", err)
		}
		for _, n := range list {
			names = append(names, sub+"/"+n)
		}
	}
	top, err := fs.List(dir)
	if err != nil {
		return st, fmt.Errorf("storage: backup: %w", err)
	}
	for _, n := range top {
		if k, _ := parseFileName(n); k == kindManifest {
			names = append(names, n)
		}
	}
	names = append(names, currentFileName)

	var sum backupSum
	buf := make([]byte, copyBufferSize)
	crc := crc32.New(crc32c)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		size, c, err := writeTarFile(ctx, tw, fs, filepath.Join(dir, filepath.FromSlash(name)), name, now, buf, crc)
		if err != nil {
			return st, err
		}
		sum.Files = append(sum.Files, backupSumFile{Name: name, Size: size, CRC32C: fmt.Sprintf("%08x", c)})
		st.Files++
		st.Bytes += size
	}
	sb, _ := json.Marshal(sum)
	sb = append(sb, '\n')
	if err := writeTarBytes(tw, BackupSumName, sb, now); err != nil {
		return st, err
	}
	return st, tw.Close()
}

func writeTarBytes(tw *tar.Writer, name string, b []byte, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeTarFile streams one file into the archive and returns its size and
// CRC-32C.
func writeTarFile(ctx context.Context, tw *tar.Writer, fs vfs.FS, path, name string, mtime time.Time, buf []byte, crc hash.Hash32) (int64, uint32, error) {
	f, err := fs.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("storage: backup: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("storage: backup: %w", err)
	}
	size := fi.Size()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return 0, 0, err
	}
	crc.Reset()
	n, err := io.CopyBuffer(io.MultiWriter(tw, crc), ctxReader{ctx, io.LimitReader(f, size)}, buf)
	if err != nil {
		return 0, 0, err
	}
	if n != size {
		return 0, 0, fmt.Errorf("storage: backup: %s: read %d of %d bytes: %w", name, n, size, io.ErrUnexpectedEOF)
	}
	return size, crc.Sum32(), nil
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// removeScratch removes what backups left in the data directory's tmp/
// (a crash during a backup). REQUIRES: the directory lock.
func (d *DB) removeScratch() {
	scratch := filepath.Join(d.dir, scratchDirName)
	if _, err := d.fs.Stat(scratch); err != nil {
		return
	}
	if err := removeAll(d.fs, scratch); err != nil {
		d.opts.Logger.Warn("storage: cannot remove the scratch directory a backup left", "dir", scratch, "err", err)
		return
	}
	d.opts.Logger.Info("storage: removed a backup's leftover checkpoint", "dir", scratch)
}

// ErrBadBackup is wrapped by RestoreBackup's errors about the archive: not
// a backup, truncated, or failing a checksum.
var ErrBadBackup = errors.New("storage: bad backup archive")

// RestoreOptions configure RestoreBackup.
type RestoreOptions struct {
	// FS is the filesystem. Default: vfs.Default.
	FS vfs.FS
	// Force replaces a target directory that holds files. Without it,
	// the target must be absent or empty.
	Force bool
}

// restoreNames are the data files an archive may hold.
var restoreNames = regexp.MustCompile(`^(CURRENT|MANIFEST-[0-9]{6,20}|sst/[0-9]{6,20}\.sst|wal/[0-9]{6,20}\.log)$`)

// RestoreBackup unpacks a backup that Backup wrote (compressed or not:
// the zstd magic is recognised) from r into dir. Each file's CRC-32C is
// verified as it is unpacked, into the new directory dir+".restore-tmp";
// the result is opened once (which checks every table's structure), and
// only then moved to dir by rename. A dir that holds files is refused
// unless o.Force: it is then renamed to dir+".restore-old", the new
// directory renamed to dir, and the old one removed. A dir in use by a
// process (its LOCK held) is refused. A truncated or corrupted archive
// fails with an error wrapping ErrBadBackup that names the entry, and
// leaves dir as it was. Memory does not depend on the archive's size.
func RestoreBackup(r io.Reader, dir string, o *RestoreOptions) (BackupStats, error) {
	var opts RestoreOptions
	if o != nil {
		opts = *o
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	dir = filepath.Clean(dir)
	var st BackupStats

	// The target: absent, empty, or (Force) replaced.
	nonEmpty := false
	if fi, err := fs.Stat(dir); err == nil {
		if !fi.IsDir() {
			return st, fmt.Errorf("storage: restore: %s exists and is not a directory", dir)
		}
		names, err := fs.List(dir)
		if err != nil {
			return st, fmt.Errorf("storage: restore: %w", err)
		}
		nonEmpty = len(names) > 0
		if nonEmpty && !opts.Force {
			return st, fmt.Errorf("storage: restore: %s is not empty (it holds %d entries, such as %q); restore into a new directory, or replace it with --force: %w",
				dir, len(names), names[0], os.ErrExist)
		}
		if nonEmpty {
			lock, err := fs.Lock(filepath.Join(dir, lockFileName))
			if err != nil {
				return st, fmt.Errorf("storage: restore: %s is in use: %w", dir, err)
			}
			defer lock.Close()
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("storage: restore: %w", err)
	}
	if err := fs.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return st, fmt.Errorf("storage: restore: %w", err)
	}

	tmp := dir + ".restore-tmp"
	if err := removeAll(fs, tmp); err != nil {
		return st, fmt.Errorf("storage: restore: remove the leftover %s: %w", tmp, err)
	}
	st, err := unpackBackup(r, fs, tmp)
	if err == nil {
		err = verifyRestored(fs, tmp)
	}
	if err != nil {
		_ = removeAll(fs, tmp)
		return st, err
	}

	// Swap it in.
	old := dir + ".restore-old"
	if nonEmpty {
		if err := removeAll(fs, old); err != nil {
			_ = removeAll(fs, tmp)
			return st, fmt.Errorf("storage: restore: remove the leftover %s: %w", old, err)
		}
		if err := fs.Rename(dir, old); err != nil {
			_ = removeAll(fs, tmp)
			return st, fmt.Errorf("storage: restore: move the old %s aside: %w", dir, err)
		}
	}
	if err := fs.Rename(tmp, dir); err != nil {
		if nonEmpty {
			_ = fs.Rename(old, dir)
		}
		_ = removeAll(fs, tmp)
		return st, fmt.Errorf("storage: restore: move the restored directory to %s: %w", dir, err)
	}
	if err := syncDirFS(fs, filepath.Dir(dir)); err != nil {
		return st, fmt.Errorf("storage: restore: %w", err)
	}
	if nonEmpty {
		if err := removeAll(fs, old); err != nil {
			return st, fmt.Errorf("storage: restore: restored, but the old directory, moved to %s, could not be removed: %w", old, err)
		}
	}
	return st, nil
}

// unpackBackup reads the archive into the new directory tmp.
func unpackBackup(r io.Reader, fs vfs.FS, tmp string) (BackupStats, error) {
	var st BackupStats
	br := bufio.NewReaderSize(r, 64<<10)
	compressed := false
	if magic, err := br.Peek(len(zstdMagic)); err == nil && bytes.Equal(magic, zstdMagic) {
		compressed = true
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return st, fmt.Errorf("storage: restore: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, args...))
	}
	// readErr describes an error reading the archive after n files.
	readErr := func(where string, err error) error {
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return bad("the archive is truncated (it ends in %s)", where)
		case compressed && !errors.Is(err, tar.ErrHeader):
			return bad("the zstd stream is damaged (in %s): %v", where, err)
		}
		return bad("%s: %v", where, err)
	}

	for _, sub := range []string{tmp, filepath.Join(tmp, sstDirName), filepath.Join(tmp, walDirName)} {
		if err := fs.MkdirAll(sub, 0o755); err != nil {
			return st, fmt.Errorf("storage: restore: %w", err)
		}
	}
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if err == io.EOF {
		return st, bad("the archive is empty")
	}
	if err != nil {
		if compressed && !errors.Is(err, tar.ErrHeader) {
			return st, readErr("its first entry", err)
		}
		return st, bad("not a MiniDBGo backup (neither a tar archive nor a zstd-compressed one): %v", err)
	}
	if h.Name != BackupHeaderName {
		return st, bad("not a MiniDBGo backup: its first entry is %q, not %s", h.Name, BackupHeaderName)
	}
	var hdr backupHeader
	if err := json.NewDecoder(io.LimitReader(tr, 64<<10)).Decode(&hdr); err != nil {
		return st, readErr(BackupHeaderName, err)
	}
	if hdr.Format != backupFormat {
		return st, bad("not a MiniDBGo backup: %s says format %q", BackupHeaderName, hdr.Format)
	}
	if hdr.Version != backupVersion {
		return st, bad("backup format version %d; this build reads version %d", hdr.Version, backupVersion)
	}

	type seen struct {
		size int64
		crc  uint32
	}
	files := make(map[string]seen)
	buf := make([]byte, copyBufferSize)
	crc := crc32.New(crc32c)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return st, bad("the archive is truncated: it ends after %d files, before its checksum list %s", len(files), BackupSumName)
		}
		if err != nil {
			return st, readErr(fmt.Sprintf("the entry after %d files", len(files)), err)
		}
		if h.Name == BackupSumName {
			var sum backupSum
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&sum); err != nil {
				return st, readErr(BackupSumName, err)
			}
			listed := make(map[string]bool, len(sum.Files))
			for _, f := range sum.Files {
				got, ok := files[f.Name]
				if !ok {
					return st, bad("%s lists %s, which the archive does not hold", BackupSumName, f.Name)
				}
				if got.size != f.Size {
					return st, bad("%s: %d bytes in the archive, %d in its checksum list", f.Name, got.size, f.Size)
				}
				if want := fmt.Sprintf("%08x", got.crc); want != f.CRC32C {
					return st, bad("%s is corrupt: its CRC-32C is %s, the checksum list says %s", f.Name, want, f.CRC32C)
				}
				listed[f.Name] = true
			}
			for name := range files {
				if !listed[name] {
					return st, bad("%s holds %s, which its checksum list does not name", "the archive", name)
				}
			}
			if _, ok := files[currentFileName]; !ok {
				return st, bad("the archive holds no %s", currentFileName)
			}
			if _, err := tr.Next(); err != io.EOF {
				return st, bad("entries follow the checksum list %s", BackupSumName)
			}
			for _, sub := range []string{filepath.Join(tmp, sstDirName), filepath.Join(tmp, walDirName), tmp} {
				if err := syncDirFS(fs, sub); err != nil {
					return st, fmt.Errorf("storage: restore: %w", err)
				}
			}
			return st, nil
		}
		if h.Typeflag == tar.TypeDir && (h.Name == sstDirName+"/" || h.Name == walDirName+"/") {
			continue
		}
		if !restoreNames.MatchString(h.Name) || (h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA) {
			return st, bad("unexpected entry %q (type %q)", h.Name, string(h.Typeflag))
		}
		if _, dup := files[h.Name]; dup {
			return st, bad("%s appears twice", h.Name)
		}
		if h.Size < 0 {
			return st, bad("%s: negative size", h.Name)
		}
		crc.Reset()
		err = writeSyncedFile(fs, filepath.Join(tmp, filepath.FromSlash(h.Name)), func(f vfs.File) error {
			n, err := io.CopyBuffer(io.MultiWriter(f, crc), onlyReader{tr}, buf)
			if err == nil && n != h.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return readErr(h.Name, err)
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, ErrBadBackup) {
				return st, err
			}
			return st, fmt.Errorf("storage: restore: write %s: %w", h.Name, err)
		}
		files[h.Name] = seen{size: h.Size, crc: crc.Sum32()}
		st.Files++
		st.Bytes += h.Size
	}
}

// verifyRestored opens the restored directory once: it replays the
// MANIFEST and the logs and checks every table's footer, index and
// filter.
func verifyRestored(fs vfs.FS, dir string) error {
	db, err := Open(dir, &Options{FS: fs, DirCheckInterval: -1, DisableAutomaticCompactions: true})
	if err != nil {
		return fmt.Errorf("%w: the unpacked files do not open: %w", ErrBadBackup, err)
	}
	return db.Close()
}

func syncDirFS(fs vfs.FS, dir string) error {
	f, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

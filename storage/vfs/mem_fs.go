package vfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that remembers what has been made durable, so
// that tests can simulate a power cut with CrashClone.
//
// Durability follows the rules documented on FS:
//
//   - A file's bytes are durable up to the length they had at its last
//     File.Sync.
//   - A directory's entries (creations, removals and renames in it) are
//     durable as of its last sync through OpenDir + Sync. A file whose entry
//     is not durable vanishes in a crash, however much of it was synced.
//   - MkdirAll is the exception: the directories it creates are durable at
//     once, as if their parents had been synced. The engine creates its
//     directory once, so nothing is lost by the shortcut.
//
// Files are append-only: Write always appends, whatever Read has consumed.
// Create on an existing file truncates it in place, so open handles see the
// truncation; until the file is synced again a crash restores its old
// synced contents.
//
// Paths are cleaned with path/filepath; relative paths are relative to "/",
// which always exists. Errors are *fs.PathError values wrapping the same
// sentinels the OS uses, so errors.Is(err, os.ErrNotExist) works.
//
// A MemFS is safe for concurrent use. Its zero value is not usable: call
// NewMem.
type MemFS struct {
	mu    sync.Mutex // protects the following and every memNode reachable from root
	root  *memNode
	locks map[string]int // cleaned path -> holder's pid
}

// memNode is a file or a directory. Several directory entries may refer to
// the same node, durably or not: a renamed file's node sits under its new
// name in the directory's entries and under its old name in the durable
// entries until the directory is synced.
type memNode struct {
	isDir   bool
	modTime time.Time

	// Files. data is append-only: bytes already in data[:len(data)] are
	// never overwritten in place (truncation allocates a new slice), so
	// synced can share data's backing array.
	data   []byte
	synced []byte // the contents as of the last Sync

	// Directories.
	children map[string]*memNode // live entries
	durable  map[string]*memNode // entries as of the last directory sync
}

func newDirNode() *memNode {
	return &memNode{
		isDir:    true,
		modTime:  time.Now(),
		children: make(map[string]*memNode),
		durable:  make(map[string]*memNode),
	}
}

// syncLocked makes n's current state durable. REQUIRES: the owning MemFS.mu.
func (n *memNode) syncLocked() {
	if n.isDir {
		n.durable = make(map[string]*memNode, len(n.children))
		for name, c := range n.children {
			n.durable[name] = c
		}
		return
	}
	n.synced = n.data[:len(n.data):len(n.data)]
}

// NewMem returns an empty in-memory filesystem holding only the directory "/".
func NewMem() *MemFS {
	return &MemFS{root: newDirNode(), locks: make(map[string]int)}
}

var _ FS = (*MemFS)(nil)

// cleanPath turns name into a clean absolute slash-separated path.
func cleanPath(name string) string {
	return path.Clean("/" + filepath.ToSlash(filepath.Clean(name)))
}

// walkLocked returns the node at the clean path p. REQUIRES: m.mu.
func (m *MemFS) walkLocked(p string) (*memNode, error) {
	n := m.root
	if p == "/" {
		return n, nil
	}
	for _, elem := range strings.Split(p[1:], "/") {
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[elem]
		if !ok {
			return nil, os.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parentLocked returns the directory that holds the clean path p, and p's
// last element. REQUIRES: m.mu.
func (m *MemFS) parentLocked(p string) (*memNode, string, error) {
	if p == "/" {
		return nil, "", syscall.EINVAL
	}
	dir, base := path.Split(p)
	n, err := m.walkLocked(path.Clean(dir))
	if err != nil {
		return nil, "", err
	}
	if !n.isDir {
		return nil, "", syscall.ENOTDIR
	}
	return n, base, nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.createLocked(cleanPath(name))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return &memFile{mem: m, n: n, name: name, write: true}, nil
}

// createLocked creates or truncates the file at the clean path p.
// REQUIRES: m.mu.
func (m *MemFS) createLocked(p string) (*memNode, error) {
	dir, base, err := m.parentLocked(p)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if n, ok := dir.children[base]; ok {
		if n.isDir {
			return nil, syscall.EISDIR
		}
		n.data = nil // a new slice: synced may share the old one
		n.modTime = now
		return n, nil
	}
	n := &memNode{modTime: now}
	dir.children[base] = n
	dir.modTime = now
	return n, nil
}

// Open implements FS. Opening a directory succeeds, as with the OS, but
// reading from it fails.
func (m *MemFS) Open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(cleanPath(name))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return &memFile{mem: m, n: n, name: name}, nil
}

// OpenDir implements FS. Syncing the returned File makes the directory's
// current entries durable.
func (m *MemFS) OpenDir(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(cleanPath(name))
	if err == nil && !n.isDir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, &os.PathError{Op: "opendir", Path: name, Err: err}
	}
	return &memFile{mem: m, n: n, name: name}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.removeLocked(cleanPath(name)); err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// removeLocked removes the clean path p. REQUIRES: m.mu.
func (m *MemFS) removeLocked(p string) error {
	dir, base, err := m.parentLocked(p)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return os.ErrNotExist
	}
	if n.isDir && len(n.children) > 0 {
		return syscall.ENOTEMPTY
	}
	delete(dir.children, base)
	dir.modTime = time.Now()
	return nil
}

// Rename implements FS. As with rename(2), a file replaces a file and a
// directory replaces an empty directory.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.renameLocked(cleanPath(oldname), cleanPath(newname)); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// renameLocked renames the clean path op to np. REQUIRES: m.mu.
func (m *MemFS) renameLocked(op, np string) error {
	odir, obase, err := m.parentLocked(op)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return os.ErrNotExist
	}
	if op == np {
		return nil
	}
	if n.isDir && strings.HasPrefix(np, op+"/") {
		return syscall.EINVAL // into its own subtree
	}
	ndir, nbase, err := m.parentLocked(np)
	if err != nil {
		return err
	}
	if old, ok := ndir.children[nbase]; ok {
		switch {
		case old == n:
			return nil // hard links to one node: rename(2) does nothing
		case old.isDir && !n.isDir:
			return syscall.EISDIR
		case !old.isDir && n.isDir:
			return syscall.ENOTDIR
		case old.isDir && len(old.children) > 0:
			return syscall.ENOTEMPTY
		}
	}
	now := time.Now()
	delete(odir.children, obase)
	ndir.children[nbase] = n
	odir.modTime, ndir.modTime = now, now
	return nil
}

// Link implements FS. The new name refers to the same node as the old
// one, so a write through either is seen through both, and removing one
// name leaves the other; directories cannot be linked.
func (m *MemFS) Link(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.linkLocked(cleanPath(oldname), cleanPath(newname)); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// linkLocked adds the clean path np for the file at op. REQUIRES: m.mu.
func (m *MemFS) linkLocked(op, np string) error {
	n, err := m.walkLocked(op)
	if err != nil {
		return err
	}
	if n.isDir {
		return syscall.EPERM
	}
	ndir, nbase, err := m.parentLocked(np)
	if err != nil {
		return err
	}
	if _, ok := ndir.children[nbase]; ok {
		return os.ErrExist
	}
	ndir.children[nbase] = n
	ndir.modTime = time.Now()
	return nil
}

// MkdirAll implements FS. The directories it creates are durable at once;
// see MemFS. perm is ignored.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := cleanPath(dir)
	if p == "/" {
		return nil
	}
	n := m.root
	for _, elem := range strings.Split(p[1:], "/") {
		c, ok := n.children[elem]
		if !ok {
			c = newDirNode()
			n.children[elem] = c
			n.durable[elem] = c
			n.modTime = c.modTime
		} else if !c.isDir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		n = c
	}
	return nil
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(cleanPath(dir))
	if err == nil && !n.isDir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return sortedNames(n.children), nil
}

func sortedNames(m map[string]*memNode) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := cleanPath(name)
	n, err := m.walkLocked(p)
	if err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	return n.infoLocked(path.Base(p)), nil
}

// Lock implements FS with a lock table private to this MemFS: a lock held
// here does not exclude a CrashClone, nor another MemFS. Lock creates the
// file if needed and records os.Getpid() in it, durably; like the OS
// implementation it does not sync the directory.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := cleanPath(name)
	if pid, held := m.locks[p]; held {
		return nil, lockedError(name, pid)
	}
	n, err := m.createLocked(p)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	pid := os.Getpid()
	n.data = pidRecord(pid)
	n.syncLocked()
	m.locks[p] = pid
	return &memLock{mem: m, name: name, path: p}, nil
}

// memLock is a lock held in a MemFS's lock table.
type memLock struct {
	mem      *MemFS
	name     string
	path     string
	released bool // protected by mem.mu
}

func (l *memLock) Close() error {
	l.mem.mu.Lock()
	defer l.mem.mu.Unlock()
	if l.released {
		return &os.PathError{Op: "unlock", Path: l.name, Err: os.ErrClosed}
	}
	l.released = true
	delete(l.mem.locks, l.path)
	return nil
}

// CrashCloneOptions configure MemFS.CrashClone. The zero value keeps only
// what was synced.
type CrashCloneOptions struct {
	// UnsyncedDataPercent, from 0 to 100, is the chance that a file keeps
	// some of the data written since its last sync: a prefix of that data,
	// of random length (possibly empty or whole), never a later part without
	// the earlier. Directory entries that were not synced are always lost.
	UnsyncedDataPercent int
	// RNG makes the random choices. It is required when
	// UnsyncedDataPercent > 0; the same seed gives the same clone.
	RNG *rand.Rand
}

// CrashClone returns a new, independent MemFS holding what m would hold
// after a power cut now: the durable directory entries of every directory
// reachable through durable entries from "/", and in each file its synced
// bytes, plus whatever opts keeps of the unsynced tail.
//
// Open files and locks of m are not carried over, and nothing later done
// to either filesystem affects the other. CrashClone panics if
// opts.UnsyncedDataPercent > 0 and opts.RNG is nil.
func (m *MemFS) CrashClone(opts CrashCloneOptions) *MemFS {
	if opts.UnsyncedDataPercent > 0 && opts.RNG == nil {
		panic("vfs: CrashCloneOptions.UnsyncedDataPercent > 0 requires RNG")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &crashCloner{opts: opts, cloned: make(map[*memNode]*memNode)}
	return &MemFS{root: c.clone(m.root), locks: make(map[string]int)}
}

// crashCloner copies durable state. It visits entries in sorted order so
// that a seeded RNG gives the same clone every time, and copies each node
// once so that nodes reachable under two names stay one node.
type crashCloner struct {
	opts   CrashCloneOptions
	cloned map[*memNode]*memNode
}

func (c *crashCloner) clone(n *memNode) *memNode {
	if m, ok := c.cloned[n]; ok {
		return m
	}
	if n.isDir {
		m := newDirNode()
		m.modTime = n.modTime
		c.cloned[n] = m
		for _, name := range sortedNames(n.durable) {
			child := c.clone(n.durable[name])
			m.children[name] = child
			m.durable[name] = child
		}
		return m
	}
	data := bytes.Clone(n.synced)
	if p := c.opts.UnsyncedDataPercent; p > 0 && c.opts.RNG.IntN(100) < p {
		data = bytes.Clone(n.data[:c.keptLen(n)])
	}
	m := &memNode{modTime: n.modTime, data: data}
	m.synced = m.data[:len(m.data):len(m.data)]
	c.cloned[n] = m
	return m
}

// keptLen picks how much of n.data survives when some of its unsynced
// operations do: the synced length plus a random share of the appended
// tail. If n was truncated since its last sync (synced is not a prefix of
// data), the truncation is the first unsynced operation and kept with it.
func (c *crashCloner) keptLen(n *memNode) int {
	lo := len(n.synced)
	if !bytes.HasPrefix(n.data, n.synced) {
		lo = 0
	}
	return lo + c.opts.RNG.IntN(len(n.data)-lo+1)
}

// ReadFile returns a copy of the named file's contents. It is a test aid,
// for checking or corrupting what the engine wrote; it counts as no
// operation on the file.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(cleanPath(name))
	if err == nil && n.isDir {
		err = syscall.EISDIR
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return bytes.Clone(n.data), nil
}

// WriteFile replaces the named file's contents with a copy of data,
// creating the file if needed, and makes both the contents and the file's
// directory entry durable. It is a test aid, for planting or corrupting
// files; open handles see the new contents.
func (m *MemFS) WriteFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := cleanPath(name)
	n, err := m.createLocked(p)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	n.data = bytes.Clone(data)
	n.syncLocked()
	dir, base, _ := m.parentLocked(p) // createLocked succeeded
	dir.durable[base] = n
	return nil
}

// RemoveAll removes the named file or directory and everything under it,
// as rm -rf does, durably (as if the parent had been synced). Open files
// keep working on the unlinked nodes, as with the OS. It is a test aid,
// for an operator deleting a data directory under a running engine.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := cleanPath(name)
	dir, base, err := m.parentLocked(p)
	if err != nil {
		return &os.PathError{Op: "removeall", Path: name, Err: err}
	}
	delete(dir.children, base)
	delete(dir.durable, base)
	dir.modTime = time.Now()
	return nil
}

// String lists the tree, one entry a line, with each file's size and
// synced size. An entry marked "(not durable)" would vanish in a crash; one
// marked "(removed)" would come back.
func (m *MemFS) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("/\n")
	m.root.format(&b, "  ")
	return b.String()
}

func (n *memNode) format(b *strings.Builder, indent string) {
	names := sortedNames(n.children)
	for name := range n.durable {
		if _, ok := n.children[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		c, live := n.children[name]
		d, durable := n.durable[name]
		if !live {
			c = d
		}
		b.WriteString(indent + name)
		if c.isDir {
			b.WriteString("/")
		} else {
			fmt.Fprintf(b, " (%d bytes, %d synced)", len(c.data), len(c.synced))
		}
		switch {
		case !live:
			b.WriteString(" (removed)")
		case !durable || d != c:
			b.WriteString(" (not durable)")
		}
		b.WriteString("\n")
		if c.isDir && live {
			c.format(b, indent+"  ")
		}
	}
}

// infoLocked returns n's metadata under name. REQUIRES: the owning MemFS.mu.
func (n *memNode) infoLocked(name string) os.FileInfo {
	return &memFileInfo{name: name, size: int64(len(n.data)), isDir: n.isDir, modTime: n.modTime, node: n}
}

// memFileInfo is a snapshot of a memNode's metadata.
type memFileInfo struct {
	name    string
	size    int64
	isDir   bool
	modTime time.Time
	node    *memNode // identity, for SameFile; never dereferenced
}

func (fi *memFileInfo) Name() string       { return fi.name }
func (fi *memFileInfo) Size() int64        { return fi.size }
func (fi *memFileInfo) IsDir() bool        { return fi.isDir }
func (fi *memFileInfo) ModTime() time.Time { return fi.modTime }
func (fi *memFileInfo) Sys() any           { return fi.node }

func (fi *memFileInfo) Mode() fs.FileMode {
	if fi.isDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// memFile is an open file or directory of a MemFS. Its fields other than
// mem, n and name are protected by mem.mu, so that ReadAt, which may run
// concurrently with other methods, is race-free.
type memFile struct {
	mem    *MemFS
	n      *memNode
	name   string
	write  bool  // opened by Create
	pos    int64 // Read's offset
	closed bool
}

// checkLocked returns the error an operation op on f fails with, if any.
// REQUIRES: f.mem.mu.
func (f *memFile) checkLocked(op string, write bool) error {
	var err error
	switch {
	case f.closed:
		err = os.ErrClosed
	case f.n.isDir && op != "sync" && op != "stat" && op != "close":
		err = syscall.EISDIR
	case write && !f.write:
		err = syscall.EBADF
	default:
		return nil
	}
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

func (f *memFile) Read(p []byte) (int, error) {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	n, err := f.readAtLocked(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	return f.readAtLocked(p, off)
}

// readAtLocked implements the io.ReaderAt contract. REQUIRES: f.mem.mu.
func (f *memFile) readAtLocked(p []byte, off int64) (int, error) {
	if off >= int64(len(f.n.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("write", true); err != nil {
		return 0, err
	}
	f.n.data = append(f.n.data, p...)
	f.n.modTime = time.Now()
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("sync", false); err != nil {
		return err
	}
	f.n.syncLocked()
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("stat", false); err != nil {
		return nil, err
	}
	return f.n.infoLocked(path.Base(cleanPath(f.name))), nil
}

func (f *memFile) Close() error {
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	if err := f.checkLocked("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}

package workload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/storage"
)

// EngineNames lists the db_bench-style engine workloads in the order they
// run by default (LevelDB benchmarks/db_bench.cc names). Fills start from
// an empty database; the others run on whatever the previous workloads
// left, first filling any of keys 0..N-1 that are missing, untimed.
var EngineNames = []string{
	"fillseq", "fillrandom", "fillbatch", "fillsync", "overwrite",
	"readrandom", "readmissing", "readseq", "scan", "seekrandom", "deleterandom", "compact",
}

// EngineConfig parameterises the engine workloads. A zero field selects
// its default.
type EngineConfig struct {
	// Dir is where databases are created; each fill starts a new one.
	// Required.
	Dir string
	// N is the number of keys (and of operations of most workloads).
	// Default 100,000.
	N int64
	// ValueSize is the approximate size of each value, a JSON document.
	// Default 200 bytes.
	ValueSize int
	// Durability applies to every workload but fillsync, which always
	// syncs each write. Default: none (db_bench's sync=false).
	Durability storage.Durability
	// Compression and CacheBytes set storage.Options.Compression and
	// BlockCacheBytes.
	Compression storage.Compression
	CacheBytes  int64
	// Concurrency is the number of workers, so that per-worker state
	// (buffers, iterators) can be set up. Default 1.
	Concurrency int
	// Seed makes values and key choices reproducible. Default 1.
	Seed uint64
	// ScanLength is the number of entries each scan reads. Default 100.
	ScanLength int
}

const engineKeyLen = 16 // "user" and 12 digits

// Engine runs engine workloads against one storage.DB at a time. It is
// not safe for concurrent use, but the Op of a Bench is.
type Engine struct {
	cfg    EngineConfig
	db     *storage.DB
	dbDir  string
	dbs    int   // databases created so far
	loaded int64 // keys 0..loaded-1 are present
	// syncOpen is set while the database is open with fillsync's
	// durability.
	syncOpen bool
	pool     [][]byte
	work     []engineWorker
}

type engineWorker struct {
	key, val []byte
	it       *storage.Iterator
}

// OpenEngine returns an Engine that creates its databases under cfg.Dir.
func OpenEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Dir == "" {
		return nil, errors.New("workload: engine needs a directory")
	}
	if cfg.N <= 0 {
		cfg.N = 100000
	}
	if cfg.ValueSize <= 0 {
		cfg.ValueSize = 200
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.ScanLength <= 0 {
		cfg.ScanLength = 100
	}
	e := &Engine{cfg: cfg, work: make([]engineWorker, cfg.Concurrency)}
	// A pool of distinct documents; value (k, version) is pool entry
	// hash(k, version) with its _id set to the key.
	g := DocGen{Seed: cfg.Seed, Size: cfg.ValueSize}
	e.pool = make([][]byte, 4096)
	for i := range e.pool {
		e.pool[i] = g.Append(nil, string(engineKey(nil, 0)), uint64(i))
	}
	return e, nil
}

// Config returns the configuration, defaults applied.
func (e *Engine) Config() EngineConfig { return e.cfg }

// options returns the storage options for a database: fillsync's syncs
// every write.
func (e *Engine) options(fillsync bool) *storage.Options {
	o := &storage.Options{Durability: e.cfg.Durability, Compression: e.cfg.Compression, BlockCacheBytes: e.cfg.CacheBytes}
	if fillsync {
		o.Durability = storage.Durability{Mode: storage.DurabilitySync}
	}
	return o
}

// Describe summarises the engine settings of workload name.
func (e *Engine) Describe(name string) string {
	dur := e.cfg.Durability.String()
	if name == "fillsync" {
		dur = "sync"
	}
	cache := "default cache"
	if e.cfg.CacheBytes != 0 {
		cache = "cache " + strconv.FormatInt(e.cfg.CacheBytes>>20, 10) + " MiB"
	}
	return fmt.Sprintf("storage (durability %s, %s, %s, %d-byte values)", dur, e.cfg.Compression, cache, len(e.pool[0]))
}

// Close closes the current database and removes every database created.
func (e *Engine) Close() error {
	err := e.closeDB()
	for i := 1; i <= e.dbs; i++ {
		if rerr := os.RemoveAll(e.dirOf(i)); err == nil {
			err = rerr
		}
	}
	return err
}

func (e *Engine) dirOf(i int) string { return filepath.Join(e.cfg.Dir, "db"+strconv.Itoa(i)) }

func (e *Engine) closeDB() error {
	for i := range e.work {
		if it := e.work[i].it; it != nil {
			_ = it.Close()
			e.work[i].it = nil
		}
	}
	if e.db == nil {
		return nil
	}
	err := e.db.Close()
	e.db, e.syncOpen = nil, false
	return err
}

// fresh replaces the database with an empty one.
func (e *Engine) fresh(fillsync bool) error {
	if err := e.closeDB(); err != nil {
		return err
	}
	if e.dbDir != "" {
		if err := os.RemoveAll(e.dbDir); err != nil {
			return err
		}
	}
	e.dbs++
	e.dbDir = e.dirOf(e.dbs)
	db, err := storage.Open(e.dbDir, e.options(fillsync))
	if err != nil {
		return err
	}
	e.db, e.loaded, e.syncOpen = db, 0, fillsync
	return nil
}

// ensureOpen opens the current database, or a fresh one, with the
// configured durability when none is open.
func (e *Engine) ensureOpen() error {
	if e.db != nil {
		return nil
	}
	if e.dbDir == "" {
		return e.fresh(false)
	}
	db, err := storage.Open(e.dbDir, e.options(false))
	if err != nil {
		return err
	}
	e.db = db
	return nil
}

// ensureLoaded fills keys loaded..N-1 with batches of 1000, untimed.
func (e *Engine) ensureLoaded() error {
	if err := e.ensureOpen(); err != nil {
		return err
	}
	b := e.db.NewBatch()
	var key, val []byte
	for e.loaded < e.cfg.N {
		b.Reset()
		for j := 0; j < 1000 && e.loaded < e.cfg.N; j++ {
			k := uint64(e.loaded)
			key = engineKey(key, k)
			val = e.value(val, key, k, 0)
			b.Put(key, val)
			e.loaded++
		}
		if err := retryBusy(func() error { return e.db.Apply(b) }, nil); err != nil {
			return fmt.Errorf("workload: preload: %w", err)
		}
	}
	return nil
}

// engineKey writes key k, "user" and 12 decimal digits, into dst.
func engineKey(dst []byte, k uint64) []byte {
	dst = append(dst[:0], "user"...)
	var d [12]byte
	for j := len(d) - 1; j >= 0; j-- {
		d[j] = byte('0' + k%10)
		k /= 10
	}
	return append(dst, d[:]...)
}

// missingKey is a key that sorts just before key 10k+... but is never
// written: "user", 11 digits and ".".
func missingKey(dst []byte, k uint64) []byte {
	dst = engineKey(dst, k)
	dst[engineKeyLen-1] = '.'
	return dst
}

func (e *Engine) value(dst, key []byte, k, version uint64) []byte {
	h := k*0x9e3779b97f4a7c15 + version*0xbf58476d1ce4e5b9
	h ^= h >> 29
	doc := e.pool[h%uint64(len(e.pool))]
	dst = append(dst[:0], doc...)
	copy(dst[len(`{"_id":"`):], key)
	return dst
}

// retryBusy repeats write while it fails with storage.ErrBusy (a bulk
// loader keeps going), counting retries.
func retryBusy(write func() error, retries *atomic.Int64) error {
	for {
		err := write()
		if !errors.Is(err, storage.ErrBusy) {
			return err
		}
		if retries != nil {
			retries.Add(1)
		}
	}
}

// Bench is one prepared engine workload.
type Bench struct {
	// Name is the workload.
	Name string
	// Requests is the number of operations to run.
	Requests int64
	// Concurrency is the number of workers (compact: 1).
	Concurrency int
	// Op performs operation i.
	Op runner.Op

	e       *Engine
	before  storage.Metrics
	retries atomic.Int64
	after   func()
}

// Prepare sets up the named workload (fresh database or preload, untimed)
// and returns it ready to run.
func (e *Engine) Prepare(name string) (*Bench, error) {
	b := &Bench{Name: name, Requests: e.cfg.N, Concurrency: e.cfg.Concurrency, e: e}
	n := uint64(e.cfg.N)
	var err error
	switch name {
	case "fillseq", "fillrandom", "fillbatch", "fillsync":
		err = e.fresh(name == "fillsync")
	case "overwrite", "readrandom", "readmissing", "readseq", "scan", "seekrandom", "deleterandom", "compact":
		if e.db != nil && e.db.Metrics().ReadOnly {
			return nil, errors.New("workload: database is read-only")
		}
		err = e.reopenIfSync()
		if err == nil && name != "compact" { // compact takes the database as it is
			err = e.ensureLoaded()
		}
	default:
		return nil, fmt.Errorf("workload: unknown engine workload %q (want %s)", name, strings.Join(EngineNames, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("workload: prepare %s: %w", name, err)
	}
	db := e.db
	put := func(w int, k, version uint64) runner.Outcome {
		s := &e.work[w]
		s.key = engineKey(s.key, k)
		s.val = e.value(s.val, s.key, k, version)
		err := retryBusy(func() error { return db.Put(s.key, s.val) }, &b.retries)
		return engineOutcome(err, 0, int64(len(s.key)+len(s.val)))
	}
	get := func(w int, key []byte) runner.Outcome {
		v, err := db.Get(key)
		if errors.Is(err, storage.ErrNotFound) {
			return runner.Outcome{Status: "notfound"}
		}
		return engineOutcome(err, int64(len(key)+len(v)), 0)
	}
	switch name {
	case "fillseq":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome { return put(w, i, 0) }
		b.after = func() { e.loaded = e.cfg.N }
	case "fillrandom":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome { return put(w, permute(i, n), 0) }
		b.after = func() { e.loaded = e.cfg.N }
	case "overwrite":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome { return put(w, permute(i, n), 1) }
	case "fillsync":
		// Each write waits for its own fsync: N/100 of them.
		b.Requests = max(e.cfg.N/100, 1)
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome { return put(w, i, 0) }
		b.after = func() { e.loaded = b.Requests }
	case "fillbatch":
		const batch = 1000
		b.Requests = (e.cfg.N + batch - 1) / batch
		batches := make([]*storage.Batch, e.cfg.Concurrency)
		for i := range batches {
			batches[i] = db.NewBatch()
		}
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome {
			s, bt := &e.work[w], batches[w]
			bt.Reset()
			var bytes int64
			for k := i * batch; k < min((i+1)*batch, n); k++ {
				s.key = engineKey(s.key, k)
				s.val = e.value(s.val, s.key, k, 0)
				bt.Put(s.key, s.val)
				bytes += int64(len(s.key) + len(s.val))
			}
			o := engineOutcome(retryBusy(func() error { return db.Apply(bt) }, &b.retries), 0, bytes)
			o.Items = int64(bt.Len())
			return o
		}
		b.after = func() { e.loaded = e.cfg.N }
	case "readrandom":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome {
			r := newRNG(e.cfg.Seed, i)
			s := &e.work[w]
			s.key = engineKey(s.key, r.Uint64N(n))
			return get(w, s.key)
		}
	case "readmissing":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome {
			r := newRNG(e.cfg.Seed, i)
			s := &e.work[w]
			s.key = missingKey(s.key, r.Uint64N(n))
			return get(w, s.key)
		}
	case "readseq":
		b.Op = func(_ context.Context, w int, _ uint64) runner.Outcome {
			s := &e.work[w]
			var ok bool
			if s.it == nil {
				s.it = db.NewIter(nil)
				ok = s.it.First()
			} else if ok = s.it.Next(); !ok {
				if err := s.it.Err(); err != nil {
					return runner.Outcome{Err: err}
				}
				ok = s.it.First()
			}
			if !ok {
				return engineOutcome(s.it.Err(), 0, 0)
			}
			return runner.Outcome{Status: "ok", BytesIn: int64(len(s.it.Key()) + len(s.it.Value()))}
		}
	case "scan", "seekrandom":
		length := e.cfg.ScanLength
		if name == "seekrandom" {
			length = 1
		} else {
			b.Requests = max(e.cfg.N/int64(length), 1)
		}
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome {
			r := newRNG(e.cfg.Seed, i)
			s := &e.work[w]
			if s.it == nil {
				s.it = db.NewIter(nil)
			}
			s.key = engineKey(s.key, r.Uint64N(n))
			var read, bytes int64
			for ok := s.it.SeekGE(s.key); ok && read < int64(length); ok = s.it.Next() {
				read++
				bytes += int64(len(s.it.Key()) + len(s.it.Value()))
			}
			if err := s.it.Err(); err != nil {
				return runner.Outcome{Err: err}
			}
			st := "ok"
			if read == 0 {
				st = "notfound"
			}
			return runner.Outcome{Status: st, BytesIn: bytes, Items: max(read, 1)}
		}
	case "deleterandom":
		b.Op = func(_ context.Context, w int, i uint64) runner.Outcome {
			s := &e.work[w]
			s.key = engineKey(s.key, permute(i, n))
			return engineOutcome(retryBusy(func() error { return db.Delete(s.key) }, &b.retries), 0, int64(len(s.key)))
		}
		b.after = func() { e.loaded = 0 }
	case "compact":
		b.Requests, b.Concurrency = 1, 1
		b.Op = func(context.Context, int, uint64) runner.Outcome { return engineOutcome(db.Compact(), 0, 0) }
	}
	b.Concurrency = min(b.Concurrency, int(b.Requests))
	b.before = db.Metrics()
	return b, nil
}

// reopenIfSync reopens fillsync's database with the configured durability.
func (e *Engine) reopenIfSync() error {
	if e.db == nil {
		return e.ensureOpen()
	}
	// The database of a fillsync run syncs every write; the next workload
	// gets the configured durability.
	if e.syncOpen {
		if err := e.closeDB(); err != nil {
			return err
		}
		return e.ensureOpen()
	}
	return nil
}

func engineOutcome(err error, in, out int64) runner.Outcome {
	if err != nil {
		return runner.Outcome{Err: err}
	}
	return runner.Outcome{Status: "ok", BytesIn: in, BytesOut: out}
}

// Finish closes the workload's iterators and returns its engine figures:
// write amplification, fsyncs, flushes, compactions, stalls and the shape
// of the tree.
func (b *Bench) Finish() map[string]float64 {
	e := b.e
	for i := range e.work {
		if it := e.work[i].it; it != nil {
			_ = it.Close()
			e.work[i].it = nil
		}
	}
	if b.after != nil {
		b.after()
	}
	m := e.db.Metrics()
	d := func(a, b uint64) float64 { return float64(a - b) }
	x := map[string]float64{
		"wal_syncs":    d(m.WALSyncs, b.before.WALSyncs),
		"flushes":      d(m.Flushes, b.before.Flushes),
		"compactions":  d(m.Compactions, b.before.Compactions),
		"write_stalls": d(m.WriteStalls, b.before.WriteStalls),
		"busy_retries": float64(b.retries.Load()),
		"l0_files":     float64(m.Levels[0].Files),
		"tables":       float64(m.TotalTables),
	}
	if in := m.BytesIn - b.before.BytesIn; in > 0 {
		written := d(m.WALBytes, b.before.WALBytes) + d(m.BytesFlushed, b.before.BytesFlushed) +
			d(m.CompactionBytesOut, b.before.CompactionBytesOut)
		x["write_amp"] = round2(written / float64(in))
	}
	if disk := dirBytes(e.dbDir); disk > 0 {
		x["disk_mb"] = round2(float64(disk) / 1e6)
		if e.loaded > 0 {
			live := float64(e.loaded) * float64(engineKeyLen+len(e.pool[0]))
			x["space_amp"] = round2(float64(disk) / live)
		}
	}
	return x
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

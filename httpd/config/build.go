package config

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
)

// level is LOG_LEVEL parsed.
func (c Settings) level() (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return level, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return level, nil
}

// Logger returns the logger of LOG_FORMAT and LOG_LEVEL, writing to w.
func (c Settings) Logger(w io.Writer) (*slog.Logger, error) {
	level, err := c.level()
	if err != nil {
		return nil, err
	}
	h, err := httpd.NewLogHandler(w, c.LogFormat, &slog.HandlerOptions{Level: level})
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

// ApplyRuntime applies GOMEMLIMIT (default 200MiB) and GOGC (default 50)
// to this process through runtime/debug, and returns the values in force.
func (c Settings) ApplyRuntime() (memLimit, gogc string, err error) {
	limit := c.MemLimit
	if limit == "" {
		limit = "200MiB"
	}
	if limit != "off" {
		n, err := parseBytes(limit)
		if err != nil {
			return "", "", fmt.Errorf("GOMEMLIMIT: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	gc := c.GOGC
	if gc == "" {
		gc = "50"
	}
	if gc == "off" {
		debug.SetGCPercent(-1)
	} else {
		n, err := strconv.Atoi(gc)
		if err != nil {
			return "", "", fmt.Errorf("GOGC=%q: not an integer or off", gc)
		}
		debug.SetGCPercent(n)
	}
	return limit, gc, nil
}

// Keys reads the API keys from MINIDBGO_API_KEYS and the key file
// (MINIDBGO_API_KEY_FILE); nil when there are none (authentication off).
func (c Settings) Keys() (*httpd.Keys, error) {
	var keys *httpd.Keys
	if c.APIKeys != "" {
		k, err := httpd.ParseKeys(c.APIKeys)
		if err != nil {
			return nil, fmt.Errorf("MINIDBGO_API_KEYS: %w", err)
		}
		keys = k
	}
	if c.KeyFile != "" {
		k, err := httpd.LoadKeyFile(c.KeyFile)
		if err != nil {
			return nil, err
		}
		keys = keys.Merge(k)
	}
	return keys, nil
}

// DocstoreOptions returns the options to open DB_PATH with: the memtable
// bounds, DURABILITY, the document, batch and page limits, the change
// feed's retention, and the marker beside the directory (INIT). logger receives the engine's and
// the document layer's logs.
func (c Settings) DocstoreOptions(logger *slog.Logger) (*docstore.Options, error) {
	durability, err := storage.ParseDurability(c.Durability)
	if err != nil {
		return nil, fmt.Errorf("DURABILITY: %w", err)
	}
	return &docstore.Options{
		Storage: &storage.Options{
			MemTableRecords:       c.FlushSize,
			MemTableBytes:         int64(c.MaxMemMB) << 20,
			MaxImmutableMemTables: c.MaxImmutable,
			Durability:            durability,
			DirMarker:             true,
			Init:                  c.Init,
			Logger:                logger.With("component", "storage"),
		},
		MaxDocumentBytes: c.MaxBodyMB << 20,
		Logger:           logger.With("component", "docstore"),
		MaxBatchDocs:     c.MaxBatch,
		MaxLimit:         c.MaxPage,
		DefaultLimit:     c.MaxPage,
		// docstore's 0 is its default (24h), negative no limit.
		ChangesRetention:        offIfZero(c.ChangesRetention),
		ChangesRetentionRecords: c.ChangesRecords,
	}, nil
}

// Server returns the httpd.Config of these settings for a server
// listening on addr (the listener's address: loopback decides CheckHost
// and, without keys, DebugOpen), with keys (nil: authentication off),
// logger and version. Its ListenFileDir is DB_PATH.
func (c Settings) Server(addr string, keys *httpd.Keys, logger *slog.Logger, version string) httpd.Config {
	loopback := httpd.LoopbackOnly(addr)
	hc := httpd.Config{
		MaxConcurrent:     c.MaxConcurrent,
		MaxBodyBytes:      int64(c.MaxBodyMB) << 20,
		RequestTimeout:    c.RequestTimeout,
		ReadTimeout:       offIfZero(c.ReadTimeout),
		WriteTimeout:      offIfZero(c.WriteTimeout),
		ReadHeaderTimeout: offIfZero(c.ReadHeaderTimeout),
		IdleTimeout:       offIfZero(c.IdleTimeout),
		ShutdownTimeout:   c.ShutdownTimeout,
		TLSCertFile:       c.TLSCert,
		TLSKeyFile:        c.TLSKey,
		ListenFileDir:     c.DBPath,
		Keys:              keys,
		DebugOpen:         keys == nil && loopback,
		AllowedOrigins:    splitList(c.CORSOrigins),
		CheckHost:         loopback || c.AllowedHosts != "",
		ListenAddr:        addr,
		AllowedHosts:      splitList(c.AllowedHosts),
		NoFormJSON:        !c.FormAsJSON,
		CompressMinBytes:  compressMinBytes(c.CompressMinBytes),
		RateLimit:         c.RateLimit,
		RateBurst:         c.RateBurst,
		SlowQuery:         offIfZero(c.SlowQuery),
		Logger:            logger,
		AccessLog:         c.AccessLog,
		Version:           version,
	}
	return withAdmission(c, hc)
}

// offIfZero maps a setting's 0 (off) to httpd.Config's negative (off).
func offIfZero[T ~int64](d T) T {
	if d == 0 {
		return -1
	}
	return d
}

// compressMinBytes maps COMPRESS_MIN_BYTES (0: off) to
// httpd.Config.CompressMinBytes (negative: off).
func compressMinBytes(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// withAdmission sets the admission limits of hc from c: the memory
// budget, a sort's share and the minimum transfer rate. Zero selects
// httpd's defaults, sized to GOMEMLIMIT (applied before the server is
// made).
func withAdmission(c Settings, hc httpd.Config) httpd.Config {
	hc.MaxInflightBytes = int64(c.MaxInflightMB) << 20
	hc.MaxSortBytes = int64(c.MaxSortMB) << 20
	hc.MinTransferRate = c.MinTransferRate
	if c.MinTransferRate == 0 {
		hc.MinTransferRate = -1 // MIN_TRANSFER_RATE=0: off
	}
	hc.TransferWindow = c.TransferWindow
	return hc
}

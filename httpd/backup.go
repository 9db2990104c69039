package httpd

import (
	"log/slog"
	"net/http"

	"github.com/minidbgo/minidbgo/storage"
)

// backup serves GET /api/backup: a physical backup, streamed. The engine
// writes a checkpoint of the database (hard links to its immutable tables,
// plus the part of the log not yet in them, in the data directory's tmp/)
// and streams it as a tar archive with a CRC-32C per file — zstd-compressed
// unless ?compress=none — then removes the checkpoint. The body is the
// archive itself (application/zstd), not a Content-Encoding: saved as it
// comes, it is what `minidbgo restore --from` reads. Memory is one copy
// buffer, whatever the database's size.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	var o storage.BackupOptions
	switch c := r.URL.Query().Get("compress"); c {
	case "", "zstd":
	case "none":
		o.Uncompressed = true
	default:
		s.writeError(w, r, reqErr(codeBadParameter, `query parameter compress must be "zstd" or "none", got `+quote(c)))
		return
	}
	ct, name := "application/zstd", "minidbgo-backup.tar.zst"
	if o.Uncompressed {
		ct, name = "application/x-tar", "minidbgo-backup.tar"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if r.Method == http.MethodHead {
		return // the headers only: no checkpoint
	}
	dw := s.downloadWriter(w)
	st, err := s.db.Backup(r.Context(), dw, &o)
	if err != nil && !dw.wrote {
		w.Header().Del("Content-Disposition")
	}
	s.endStream(w, r, dw, err, slog.Int("files", st.Files), slog.Int64("bytes", st.Bytes))
}

package manifest

import (
	"encoding/binary"
	"fmt"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Tags of the fields of an encoded VersionEdit; see the package comment.
const (
	tagVersion     = 1
	tagLogNum      = 2
	tagNextFileNum = 3
	tagLastSeq     = 4
	tagDeletedFile = 5
	tagNewFile     = 6
)

// editFormatVersion is the only edit format this package reads and writes.
const editFormatVersion = 1

// DeletedFile names a file that a VersionEdit removes from a level.
type DeletedFile struct {
	Level   int
	FileNum uint64
}

// NewFile is a file that a VersionEdit adds to a level.
type NewFile struct {
	Level int
	Meta  *FileMetadata
}

// VersionEdit is one atomic change to the set of live files, plus the
// counters recovery needs. Within an edit, deletions apply before additions,
// so deleting a file from one level and adding it to another moves it.
type VersionEdit struct {
	LogNum       uint64      // WAL files with numbers < LogNum are no longer needed; 0 = unchanged
	NextFileNum  uint64      // 0 = unchanged
	LastSeq      base.SeqNum // 0 = unchanged
	DeletedFiles []DeletedFile
	NewFiles     []NewFile
}

// Encode appends the encoding of e to dst and returns the extended slice.
// Every NewFile must have a non-nil Meta. Reference counts are
// not encoded.
func (e *VersionEdit) Encode(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, tagVersion)
	dst = binary.AppendUvarint(dst, editFormatVersion)
	if e.LogNum != 0 {
		dst = binary.AppendUvarint(dst, tagLogNum)
		dst = binary.AppendUvarint(dst, e.LogNum)
	}
	if e.NextFileNum != 0 {
		dst = binary.AppendUvarint(dst, tagNextFileNum)
		dst = binary.AppendUvarint(dst, e.NextFileNum)
	}
	if e.LastSeq != 0 {
		dst = binary.AppendUvarint(dst, tagLastSeq)
		dst = binary.AppendUvarint(dst, uint64(e.LastSeq))
	}
	for _, d := range e.DeletedFiles {
		dst = binary.AppendUvarint(dst, tagDeletedFile)
		dst = binary.AppendUvarint(dst, uint64(d.Level))
		dst = binary.AppendUvarint(dst, d.FileNum)
	}
	for _, n := range e.NewFiles {
		m := n.Meta
		dst = binary.AppendUvarint(dst, tagNewFile)
		dst = binary.AppendUvarint(dst, uint64(n.Level))
		dst = binary.AppendUvarint(dst, m.FileNum)
		dst = binary.AppendUvarint(dst, m.Size)
		dst = binary.AppendUvarint(dst, uint64(len(m.Smallest)))
		dst = append(dst, m.Smallest...)
		dst = binary.AppendUvarint(dst, uint64(len(m.Largest)))
		dst = append(dst, m.Largest...)
		dst = binary.AppendUvarint(dst, uint64(m.SmallestSeq))
		dst = binary.AppendUvarint(dst, uint64(m.LargestSeq))
	}
	return dst
}

// Decode replaces e with the edit encoded in b. Malformed input yields an
// error matching base.ErrCorruption and leaves e unchanged. The decoded keys
// are copies, so b may be reused afterwards. Decode checks the encoding
// only; Apply checks that the edit makes sense for a Version.
func (e *VersionEdit) Decode(b []byte) error {
	d := editDecoder{b: b}
	if tag := d.uvarint("tag"); d.err == nil && tag != tagVersion {
		d.fail("edit must start with the format version, found tag %d", tag)
	}
	if v := d.uvarint("format version"); d.err == nil && v != editFormatVersion {
		d.fail("unsupported edit format version %d", v)
	}
	var out VersionEdit
	var seen [tagLastSeq + 1]bool
	for d.err == nil && len(d.b) > 0 {
		d.field = d.off
		tag := d.uvarint("tag")
		if d.err != nil {
			break
		}
		switch tag {
		case tagLogNum, tagNextFileNum, tagLastSeq:
			if seen[tag] {
				d.fail("tag %d appears twice", tag)
				break
			}
			seen[tag] = true
			switch tag {
			case tagLogNum:
				out.LogNum = d.uvarint("log number")
			case tagNextFileNum:
				out.NextFileNum = d.uvarint("next file number")
			case tagLastSeq:
				out.LastSeq = d.seq("last sequence number")
			}
		case tagDeletedFile:
			level := d.level()
			num := d.uvarint("deleted file number")
			if d.err == nil {
				out.DeletedFiles = append(out.DeletedFiles, DeletedFile{Level: level, FileNum: num})
			}
		case tagNewFile:
			level := d.level()
			m := &FileMetadata{}
			m.FileNum = d.uvarint("new file number")
			m.Size = d.uvarint("new file size")
			m.Smallest = d.internalKey("smallest key")
			m.Largest = d.internalKey("largest key")
			m.SmallestSeq = d.seq("smallest sequence number")
			m.LargestSeq = d.seq("largest sequence number")
			if d.err == nil {
				out.NewFiles = append(out.NewFiles, NewFile{Level: level, Meta: m})
			}
		default:
			d.fail("unknown tag %d", tag)
		}
	}
	if d.err != nil {
		return d.err
	}
	*e = out
	return nil
}

// editDecoder reads the fields of an encoded edit. After the first error
// every read returns a zero value and err keeps that first error.
type editDecoder struct {
	b     []byte // the bytes not yet read
	off   int    // offset of b within the whole encoding
	field int    // offset of the field being read, for messages
	err   error
}

func (d *editDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("manifest: edit field at byte %d: %s: %w",
			d.field, fmt.Sprintf(format, args...), base.ErrCorruption)
	}
}

func (d *editDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail("truncated %s", what)
		} else {
			d.fail("%s overflows 64 bits", what)
		}
		return 0
	}
	d.b, d.off = d.b[n:], d.off+n
	return v
}

func (d *editDecoder) level() int {
	v := d.uvarint("level")
	if d.err == nil && v >= NumLevels {
		d.fail("level %d out of range", v)
		return 0
	}
	return int(v)
}

func (d *editDecoder) seq(what string) base.SeqNum {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(base.MaxSeqNum) {
		d.fail("%s %d exceeds the maximum", what, v)
		return 0
	}
	return base.SeqNum(v)
}

func (d *editDecoder) internalKey(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s length %d exceeds the %d bytes left", what, n, len(d.b))
		return nil
	}
	key := d.b[:n:n]
	if !base.Valid(key) {
		d.fail("%s is not a valid internal key", what)
		return nil
	}
	d.b, d.off = d.b[n:], d.off+int(n)
	return append([]byte(nil), key...)
}

// Snapshot returns an edit that recreates v from an empty Version, carrying
// the given counters. It starts a new MANIFEST file. The edit's NewFiles
// share v's *FileMetadata.
func Snapshot(v *Version, logNum, nextFileNum uint64, lastSeq base.SeqNum) *VersionEdit {
	e := &VersionEdit{LogNum: logNum, NextFileNum: nextFileNum, LastSeq: lastSeq}
	for level, files := range v.Levels {
		for _, f := range files {
			e.NewFiles = append(e.NewFiles, NewFile{Level: level, Meta: f})
		}
	}
	return e
}

package wds

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"sort"
	"time"
)

// Writer writes samples as a WebDataset shard the way img2dataset does with
// Python's tarfile: PAX-format headers, members of a sample in a stable
// extension order, optionally gzip-compressed as a whole.
type Writer struct {
	zw    *gzip.Writer
	tw    *tar.Writer
	mtime time.Time
}

// NewWriter starts a shard on w. Close must be called to finish it; it does
// not close w.
func NewWriter(w io.Writer, gzipped bool) *Writer {
	out := &Writer{mtime: time.Unix(1700000000, 0)}
	if gzipped {
		out.zw = gzip.NewWriter(w)
		w = out.zw
	}
	out.tw = tar.NewWriter(w)
	return out
}

// WriteSample writes the members of one sample, named KEY.EXT.
func (w *Writer) WriteSample(key string, members map[string][]byte) error {
	exts := make([]string, 0, len(members))
	for e := range members {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	for _, e := range exts {
		if err := w.WriteMember(key+"."+e, members[e]); err != nil {
			return err
		}
	}
	return nil
}

// WriteMember writes one raw member.
func (w *Writer) WriteMember(name string, data []byte) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     int64(len(data)),
		Mode:     0o644,
		ModTime:  w.mtime,
		Format:   tar.FormatPAX,
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("wds: write %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("wds: write %s: %w", name, err)
	}
	return nil
}

// Close writes the end-of-archive marker and flushes the gzip stream.
func (w *Writer) Close() error {
	err := w.tw.Close()
	if w.zw != nil {
		if zerr := w.zw.Close(); err == nil {
			err = zerr
		}
	}
	if err != nil {
		return fmt.Errorf("wds: close: %w", err)
	}
	return nil
}

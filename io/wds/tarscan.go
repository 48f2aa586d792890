package wds

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
)

// tarScanner reads tar headers and member data, as archive/tar does but
// with less work per member (WebDataset shards are mostly headers: three per
// sample): no Header struct, no times, user or group names, fields parsed in
// place, member data read straight into the caller's buffer or skipped. It
// accepts what archive/tar accepts — V7, USTAR, PAX ('x' records for path
// and size, 'g' records checked and skipped), GNU (long names 'L', long link
// names 'K', old sparse headers with their extension blocks) and STAR — and
// fails where it fails: a bad checksum or numeric field, a zero block
// followed by a non-zero one, negative sizes and malformed PAX records are
// tar.ErrHeader; a stream cut inside a block or a member is
// io.ErrUnexpectedEOF; the end is io.EOF.
//
// Sparse members (GNU 'S' or PAX GNU.sparse records) are skipped whole:
// WebDataset shards have none.
type tarScanner struct {
	r *bufio.Reader
	n int64 // bytes consumed

	left      int64 // data bytes of the current member not yet consumed
	pad       int64 // padding after them
	blk       [512]byte
	lastZero  bool   // the last header block read was all zeros
	cur       []byte // the bytes of a header block cut short
	paxBuf    []byte
	nameBuf   []byte
	lastError error
}

// tarEntry is one member as the scanner reports it.
type tarEntry struct {
	name     string
	size     int64
	typeflag byte
	sparse   bool
}

const maxSpecialFile = 1 << 20 // archive/tar's limit on PAX and GNU long-name data

// errHeader is tar.ErrHeader (errors.Is says so) in this reader's words.
var errHeader error = headerError{}

type headerError struct{}

func (headerError) Error() string        { return "invalid tar header" }
func (headerError) Is(target error) bool { return target == tar.ErrHeader }

func newTarScanner(r *bufio.Reader) *tarScanner { return &tarScanner{r: r} }

// next returns the next member's header, skipping what is left of the
// previous member.
func (t *tarScanner) next() (tarEntry, error) {
	var longName string
	var pax map[string]string
	for {
		if err := t.skip(); err != nil {
			return tarEntry{}, err
		}
		if err := t.readBlock(); err != nil {
			return tarEntry{}, err
		}
		if t.lastZero {
			// A zero block must be followed by another (or the end).
			if err := t.readBlock(); err != nil {
				return tarEntry{}, err // io.EOF: one zero block, then the end
			}
			if t.lastZero {
				return tarEntry{}, io.EOF
			}
			return tarEntry{}, fmt.Errorf("%w: a zero block followed by a non-zero one", errHeader)
		}
		e, err := t.parseHeader()
		if err != nil {
			return tarEntry{}, err
		}
		switch e.typeflag {
		case tar.TypeXHeader, tar.TypeXGlobalHeader:
			data, err := t.special(e.size)
			if err != nil {
				return tarEntry{}, err
			}
			recs, err := parsePAX(data)
			if err != nil {
				return tarEntry{}, err
			}
			if e.typeflag == tar.TypeXGlobalHeader {
				// archive/tar hands a global header to its caller as an
				// entry of its own; no sample has one.
				return tarEntry{name: e.name, typeflag: e.typeflag}, nil
			}
			pax = recs
			continue
		case tar.TypeGNULongName, tar.TypeGNULongLink:
			data, err := t.special(e.size)
			if err != nil {
				return tarEntry{}, err
			}
			if e.typeflag == tar.TypeGNULongName {
				if i := bytes.IndexByte(data, 0); i >= 0 {
					data = data[:i]
				}
				longName = string(data)
			}
			continue
		}
		for k, v := range pax {
			if strings.HasPrefix(k, "GNU.sparse.") {
				e.sparse = true
			}
			if v == "" {
				continue // archive/tar keeps the header's own value
			}
			var err error
			switch k {
			case "path":
				e.name = v
			case "size":
				e.size, err = strconv.ParseInt(v, 10, 64)
				if err == nil && e.size < 0 {
					err = errors.New("negative")
				}
			case "uid", "gid":
				_, err = strconv.ParseInt(v, 10, 64)
			case "atime", "mtime", "ctime":
				err = checkPAXTime(v)
			}
			if err != nil {
				return tarEntry{}, fmt.Errorf("%w: PAX %s %q", errHeader, k, v)
			}
		}
		if longName != "" {
			e.name = longName
		}
		if e.typeflag == tar.TypeRegA {
			if strings.HasSuffix(e.name, "/") {
				e.typeflag = tar.TypeDir
			} else {
				e.typeflag = tar.TypeReg
			}
		}
		switch e.typeflag {
		case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
			t.left = 0 // header-only types have no data, whatever their size field says
		default:
			t.left = e.size
		}
		t.pad = -t.left & 511
		return e, nil
	}
}

// readBlock reads one 512-byte block into t.blk, noting whether it is all
// zeros; a block cut short is io.ErrUnexpectedEOF (its bytes kept in
// t.cur), no bytes at all io.EOF.
func (t *tarScanner) readBlock() error {
	n, err := io.ReadFull(t.r, t.blk[:])
	t.n += int64(n)
	if err != nil {
		t.cur = append(t.cur[:0], t.blk[:n]...)
		return err
	}
	t.cur = t.cur[:0]
	t.lastZero = allZero(t.blk[:])
	return nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseHeader checks and parses the header in t.blk.
func (t *tarScanner) parseHeader() (tarEntry, error) {
	b := t.blk[:]
	sum, err := parseOctal(b[148:156])
	if err != nil {
		return tarEntry{}, err
	}
	// The signed sum (of old tar writers) only when the unsigned one fails.
	if unsigned := headerSum(b); sum != unsigned && sum != unsigned-256*int64(highBytes(b)) {
		return tarEntry{}, fmt.Errorf("%w: checksum mismatch", errHeader)
	}
	// Fields archive/tar parses (and so rejects when malformed): mode, uid,
	// gid, size, mtime, and, past V7, the device numbers.
	var size int64
	for _, f := range [][2]int{{100, 108}, {108, 116}, {116, 124}, {124, 136}, {136, 148}} {
		v, err := parseNumeric(b[f[0]:f[1]])
		if err != nil {
			return tarEntry{}, err
		}
		if f[0] == 124 {
			size = v
		}
	}
	magic, version, trailer := string(b[257:263]), string(b[263:265]), string(b[508:512])
	var prefix []byte
	switch {
	case magic == "ustar\x00" && trailer == "tar\x00": // STAR
		prefix = cString(b[345:476])
		for _, f := range [][2]int{{476, 488}, {488, 500}} { // atime, ctime
			if _, err := parseNumeric(b[f[0]:f[1]]); err != nil {
				return tarEntry{}, err
			}
		}
	case magic == "ustar\x00": // USTAR, PAX
		prefix = cString(b[345:500])
	case magic == "ustar " && version == " \x00": // GNU: atime and ctime where USTAR has its prefix
		bad := false
		for _, f := range [][2]int{{345, 357}, {357, 369}} {
			if b[f[0]] != 0 {
				if _, err := parseNumeric(b[f[0]:f[1]]); err != nil {
					bad = true
				}
			}
		}
		// archive/tar reads files of pre-Go 1.8 writers, which put a
		// USTAR prefix there, by taking an unparsable ASCII one as prefix.
		if p := cString(b[345:500]); bad && isASCII(p) {
			prefix = p
		}
	}
	if magic == "ustar\x00" || magic == "ustar " && version == " \x00" {
		for _, f := range [][2]int{{329, 337}, {337, 345}} { // device numbers
			if _, err := parseNumeric(b[f[0]:f[1]]); err != nil {
				return tarEntry{}, err
			}
		}
	}
	name := cString(b[0:100])
	e := tarEntry{typeflag: b[156], size: size}
	if len(prefix) > 0 {
		t.nameBuf = append(append(append(t.nameBuf[:0], prefix...), '/'), name...)
		e.name = string(t.nameBuf)
	} else {
		e.name = string(name)
	}
	if size < 0 {
		return tarEntry{}, fmt.Errorf("%w: negative size %d", errHeader, size)
	}
	if e.typeflag == tar.TypeGNUSparse {
		e.sparse = true
		// Old GNU sparse headers may be followed by extension blocks.
		ext := b[482] != 0
		for ext {
			if err := t.readBlock(); err != nil {
				return tarEntry{}, unexpected(err)
			}
			ext = t.blk[504] != 0
		}
	}
	return e, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// headerChecksums sums the header's bytes with the checksum field taken
// as spaces, as unsigned and as signed bytes, eight bytes at a time: pairs
// of bytes summed in 16-bit lanes (64 words × 2 × 255 fits), the checksum
// field's bytes then swapped for spaces, and each byte ≥ 0x80 counted to
// turn the unsigned sum into the signed one.
func headerChecksums(b []byte) (unsigned, signed int64) {
	unsigned = headerSum(b)
	return unsigned, unsigned - 256*int64(highBytes(b))
}

func headerSum(b []byte) int64 {
	const lanes = 0x00ff00ff00ff00ff
	var a0, a1 uint64
	b = b[:512]
	for i := 0; i < 512; i += 16 {
		w0 := binary.LittleEndian.Uint64(b[i:])
		w1 := binary.LittleEndian.Uint64(b[i+8:])
		a0 += w0&lanes + w0>>8&lanes
		a1 += w1&lanes + w1>>8&lanes
	}
	acc := a0 + a1 // lanes stay below 64 × 2 × 255 = 32,640
	acc = acc&0x0000ffff0000ffff + acc>>16&0x0000ffff0000ffff
	sum := int64(acc&0xffffffff + acc>>32)
	for _, c := range b[148:156] {
		sum -= int64(c)
	}
	return sum + 8*' '
}

func highBytes(b []byte) int {
	n := 0
	for i := 0; i < 512; i += 8 {
		if i == 144 || i == 152 {
			continue
		}
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b[i:]) & 0x8080808080808080)
	}
	// bytes 144..147 and 156..159 are outside the checksum field
	n += bits.OnesCount64(binary.LittleEndian.Uint64(b[144:]) & 0x0000000080808080)
	n += bits.OnesCount64(binary.LittleEndian.Uint64(b[152:]) & 0x8080808000000000)
	return n
}

// cString is b up to its first NUL.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// parseNumeric is archive/tar's: base-256 when the high bit is set, else
// octal.
func parseNumeric(b []byte) (int64, error) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var inv byte
		if b[0]&0x40 != 0 {
			inv = 0xff
		}
		var x uint64
		for i, c := range b {
			c ^= inv
			if i == 0 {
				c &= 0x7f
			}
			if x>>56 > 0 {
				return 0, fmt.Errorf("%w: numeric field overflows", errHeader)
			}
			x = x<<8 | uint64(c)
		}
		if x>>63 > 0 {
			return 0, fmt.Errorf("%w: numeric field overflows", errHeader)
		}
		if inv == 0xff {
			return ^int64(x), nil
		}
		return int64(x), nil
	}
	return parseOctal(b)
}

// parseOctal is archive/tar's: spaces and NULs trimmed at both ends, the
// rest up to a NUL read as octal; empty is 0.
func parseOctal(b []byte) (int64, error) {
	lo, hi := 0, len(b)
	for lo < hi && (b[lo] == ' ' || b[lo] == 0) {
		lo++
	}
	for hi > lo && (b[hi-1] == ' ' || b[hi-1] == 0) {
		hi--
	}
	b = cString(b[lo:hi])
	if len(b) == 0 {
		return 0, nil
	}
	var x uint64
	for _, c := range b {
		if c < '0' || c > '7' || x>>61 != 0 {
			return 0, fmt.Errorf("%w: bad octal field %q", errHeader, b)
		}
		x = x<<3 | uint64(c-'0')
	}
	return int64(x), nil
}

// parsePAX parses PAX records ("%d %s=%s\n") as archive/tar does,
// including its checks on GNU sparse 0.0 offset/numbytes pairs.
func parsePAX(data []byte) (map[string]string, error) {
	recs := map[string]string{}
	s := string(data)
	pairs := 0
	for len(s) > 0 {
		nStr, rest, ok := strings.Cut(s, " ")
		if !ok {
			return nil, fmt.Errorf("%w: malformed PAX record", errHeader)
		}
		n, err := strconv.ParseInt(nStr, 10, 0)
		if err != nil || n < 5 || n > int64(len(s)) {
			return nil, fmt.Errorf("%w: malformed PAX record", errHeader)
		}
		n -= int64(len(nStr) + 1)
		if n <= 0 {
			return nil, fmt.Errorf("%w: malformed PAX record", errHeader)
		}
		rec, nl, rem := rest[:n-1], rest[n-1:n], rest[n:]
		if nl != "\n" {
			return nil, fmt.Errorf("%w: malformed PAX record", errHeader)
		}
		k, v, ok := strings.Cut(rec, "=")
		if !ok || !validPAXRecord(k, v) {
			return nil, fmt.Errorf("%w: malformed PAX record", errHeader)
		}
		s = rem
		switch k {
		case "GNU.sparse.offset", "GNU.sparse.numbytes":
			if pairs%2 == 0 && k != "GNU.sparse.offset" || pairs%2 == 1 && k != "GNU.sparse.numbytes" || strings.Contains(v, ",") {
				return nil, fmt.Errorf("%w: malformed GNU sparse PAX records", errHeader)
			}
			pairs++
			recs["GNU.sparse.map"] = "" // marks the member sparse
		default:
			recs[k] = v
		}
	}
	return recs, nil
}

// checkPAXTime checks a PAX time as archive/tar parses it: decimal
// seconds, optionally a dot and decimal digits.
func checkPAXTime(v string) error {
	secs, frac, _ := strings.Cut(v, ".")
	if _, err := strconv.ParseInt(secs, 10, 64); err != nil {
		return err
	}
	if strings.Trim(frac, "0123456789") != "" {
		return errors.New("bad fraction")
	}
	return nil
}

// validPAXRecord is archive/tar's check: no NUL in keys, nor in the values
// of path-like keys.
func validPAXRecord(k, v string) bool {
	if k == "" || strings.Contains(k, "=") {
		return false
	}
	switch k {
	case "path", "linkpath", "uname", "gname":
		return strings.IndexByte(v, 0) < 0
	}
	return strings.IndexByte(k, 0) < 0
}

// special reads the data of a PAX or GNU long-name member (at most 1 MiB).
func (t *tarScanner) special(size int64) ([]byte, error) {
	if size > maxSpecialFile {
		return nil, fmt.Errorf("%w: special member of %d bytes", tar.ErrFieldTooLong, size)
	}
	t.left, t.pad = size, -size&511
	if cap(t.paxBuf) < int(size) {
		t.paxBuf = make([]byte, size)
	}
	buf := t.paxBuf[:size]
	if _, err := t.read(buf); err != nil {
		return nil, err
	}
	return buf, nil // the padding is skipped before the next header
}

// read reads the current member's next len(p) bytes (at most what is left).
func (t *tarScanner) read(p []byte) (int, error) {
	if int64(len(p)) > t.left {
		p = p[:t.left]
	}
	n, err := io.ReadFull(t.r, p)
	t.n += int64(n)
	t.left -= int64(n)
	if err != nil {
		return n, unexpected(err)
	}
	return n, nil
}

// skip consumes what is left of the current member and its padding
// without copying it anywhere. As in archive/tar, a stream cut inside the
// data is io.ErrUnexpectedEOF, one cut inside the padding io.EOF.
func (t *tarScanner) skip() error {
	if t.left > 0 {
		n, err := t.r.Discard(int(t.left))
		t.n += int64(n)
		t.left -= int64(n)
		if err != nil {
			t.pad = 0
			return unexpected(err)
		}
	}
	if t.pad > 0 {
		n, err := t.r.Discard(int(t.pad))
		t.n += int64(n)
		t.pad = 0
		if err != nil {
			return err
		}
	}
	return nil
}

// unexpected turns an end of stream inside a block or member into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

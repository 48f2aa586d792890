package caption

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/aaaton/golem/v4/dicts/en"
)

// lexicon is an open-addressing hash table from token bytes to an int32,
// built once at matcher construction and read without allocating. A bit
// filter small enough for a core's L2 cache rejects most tokens that are in
// no concept before the table is touched. Keys of up to 16 bytes are kept
// in the slot as two zero-padded little-endian words, so the ASCII fast
// path (shortKey, filterTokens) compares a token without copying it.
type lexicon struct {
	mask   uint64
	slots  []lexSlot
	ext    []lexKey // by slot
	keys   []byte
	filter []uint64
	fmask  uint64
	n      int
}

type lexSlot struct {
	tag uint32 // high half of the key's hash
	nv  uint32 // key length << 24 | value; 0: empty slot
	k0  uint64 // the key's first 8 bytes, zero-padded
}

// lexKey is where a slot's key lives (kept apart: only keys of more than 8
// bytes need it).
type lexKey struct {
	off uint32 // key bytes keys[off:off+n]
	k1  uint64 // key bytes 8..15, zero-padded
}

// maxLexValue bounds lexicon values (lemma and piece IDs), maxLexKey its
// key lengths; longer keys cannot be tokens that match (no concept word is
// that long) and are left out.
const (
	maxLexValue = 1<<24 - 1
	maxLexKey   = 255
)

func (s lexSlot) n() int     { return int(s.nv >> 24) }
func (s lexSlot) val() int32 { return int32(s.nv & maxLexValue) }

const hashMul = 0x9E3779B97F4A7C15

func hashMix(h, w uint64) uint64 { return (h ^ w) * hashMul }

func hashEnd(h uint64) uint64 { return h ^ h>>29 }

// hashKey hashes bytes as 8-byte little-endian words, the last one
// zero-padded, seeded with the length: shortKey computes the same hash
// straight from a caption's bytes.
func hashKey(b []byte) uint64 {
	h := uint64(len(b)) * hashMul
	for len(b) >= 8 {
		h = hashMix(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		h = hashMix(h, tailWord(b))
	}
	return hashEnd(h)
}

func tailWord(b []byte) uint64 {
	var t [8]byte
	copy(t[:], b)
	return binary.LittleEndian.Uint64(t[:])
}

func newLexicon() *lexicon { return &lexicon{} }

// put sets key's value (the first put of a key wins). seal must be called
// after the last put.
func (l *lexicon) put(key string, val int32) {
	if key == "" || len(key) > maxLexKey || val < 0 || val > maxLexValue {
		return
	}
	if 2*(l.n+1) > len(l.slots) {
		l.resize(max(16, 2*len(l.slots)))
	}
	kb := []byte(key)
	h := hashKey(kb)
	if _, ok := l.lookup(kb, h); ok {
		return
	}
	l.insert(kb, h, uint32(len(key))<<24|uint32(val))
	l.n++
}

func (l *lexicon) insert(kb []byte, h uint64, nv uint32) {
	s := lexSlot{tag: uint32(h >> 32), nv: nv, k0: tailWord(kb[:min(8, len(kb))])}
	e := lexKey{off: uint32(len(l.keys))}
	if len(kb) > 8 {
		e.k1 = tailWord(kb[8:min(16, len(kb))])
	}
	l.keys = append(l.keys, kb...)
	i := h & l.mask
	for l.slots[i].nv != 0 {
		i = (i + 1) & l.mask
	}
	l.slots[i], l.ext[i] = s, e
}

// resize rehashes into size slots.
func (l *lexicon) resize(size int) {
	old, oldExt, oldKeys := l.slots, l.ext, l.keys
	l.slots, l.ext, l.keys = make([]lexSlot, size), make([]lexKey, size), nil
	l.mask = uint64(size - 1)
	for i, s := range old {
		if s.nv != 0 {
			kb := oldKeys[oldExt[i].off : oldExt[i].off+uint32(s.n())]
			l.insert(kb, hashKey(kb), s.nv)
		}
	}
}

// seal shrinks the table to a load of at most 1/2 and builds the filter:
// 32 bits per key, so about 3% of the tokens in no concept reach the table.
func (l *lexicon) seal() {
	size := 16
	for size < 2*l.n {
		size *= 2
	}
	l.resize(size)
	bits := uint64(1 << 12)
	for bits < 32*uint64(l.n) {
		bits *= 2
	}
	l.filter = make([]uint64, bits/64)
	l.fmask = bits - 1
	for i, s := range l.slots {
		if s.nv != 0 {
			b := hashKey(l.keys[l.ext[i].off:l.ext[i].off+uint32(s.n())]) >> 20 & l.fmask
			l.filter[b/64] |= 1 << (b % 64)
		}
	}
}

// maybe reports whether a key with hash h may be in the table.
func (l *lexicon) maybe(h uint64) bool {
	b := h >> 20 & l.fmask
	return l.filter[b/64]&(1<<(b%64)) != 0
}

// get returns the value of key, whose hashKey is h.
func (l *lexicon) get(key []byte, h uint64) (int32, bool) {
	if !l.maybe(h) {
		return 0, false
	}
	return l.lookup(key, h)
}

// find returns key's value: get with the hash computed here, and keys of
// up to 16 bytes compared in the slot (no read of the key store).
func (l *lexicon) find(key []byte) (int32, bool) {
	n := len(key)
	if n > 16 || n == 0 {
		return l.get(key, hashKey(key))
	}
	var w0, w1 uint64
	if n >= 8 {
		w0 = binary.LittleEndian.Uint64(key)
		if n > 8 {
			w1 = tailWord(key[8:])
		}
	} else {
		w0 = tailWord(key)
	}
	h := hashMix(uint64(n)*hashMul, w0)
	if n > 8 {
		h = hashMix(h, w1)
	}
	h = hashEnd(h)
	if !l.maybe(h) {
		return 0, false
	}
	return l.lookupShort(h, n, w0, w1)
}

func (l *lexicon) lookup(key []byte, h uint64) (int32, bool) {
	if l.mask == 0 && len(l.slots) == 0 {
		return 0, false
	}
	tag := uint32(h >> 32)
	for i := h & l.mask; ; i = (i + 1) & l.mask {
		s := l.slots[i]
		if s.nv == 0 {
			return 0, false
		}
		if s.tag == tag && s.n() == len(key) {
			off := l.ext[i].off
			if string(l.keys[off:off+uint32(len(key))]) == string(key) {
				return s.val(), true
			}
		}
	}
}

// lookupShort finds a key of n ≤ 16 bytes given as its two zero-padded
// words.
func (l *lexicon) lookupShort(h uint64, n int, w0, w1 uint64) (int32, bool) {
	tag := uint32(h >> 32)
	for i := h & l.mask; ; i = (i + 1) & l.mask {
		s := l.slots[i]
		if s.nv == 0 {
			return 0, false
		}
		if s.tag == tag && s.n() == n && s.k0 == w0 && (n <= 8 || l.ext[i].k1 == w1) {
			return s.val(), true
		}
	}
}

var (
	dictOnce  sync.Once
	dictWords []string
	dictErr   error
)

// DictionaryWords returns every lower-case word of the lemmatiser's
// dictionary (the words whose lemma may differ from themselves). A word not
// in it is its own lemma, so the words that lemmatise to a given set of
// lemmas are these words' preimages plus the lemmas themselves: that is what
// lets a matcher precompute every token that can match.
func DictionaryWords() ([]string, error) {
	dictOnce.Do(func() {
		b, err := en.New().GetResource() // 646 kB: decompressing it again costs a few ms, once
		if err != nil {
			dictErr = err
			return
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			for _, w := range strings.Split(line, "\t") {
				if w != "" && !seen[w] && strings.ToLower(w) == w {
					seen[w] = true
					dictWords = append(dictWords, w)
				}
			}
		}
	})
	return dictWords, dictErr
}

// tokenClass is the tokenizer's class of an ASCII byte: 1 letter, 2 digit,
// 0 separator.
var tokenClass = func() (t [128]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 1, 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 2
	}
	return t
}()

// runeClass is the tokenizer's class of a rune that follows a run of
// class kind: 1 a letter (or a combining mark continuing letters), 2 a
// digit, 0 a separator.
func runeClass(r rune, kind uint8) uint8 {
	switch {
	case unicode.IsLetter(r):
		return 1
	case kind == 1 && unicode.Is(unicode.Mn, r):
		return 1
	case unicode.IsDigit(r):
		return 2
	}
	return 0
}

// token is one token of a scanned caption: its lower-cased bytes are
// buf[off:end] of the tokScan that produced it, h their hashKey.
type token struct {
	off, end uint32
	h        uint64
}

// tokScan holds one caption's scanned tokens; reused across captions.
type tokScan struct {
	buf  []byte
	toks []token
}

func (t *tokScan) bytes(k token) []byte { return t.buf[k.off:k.end] }

// scan tokenizes a cleaned caption exactly as AppendTokens does (letters
// with their combining marks, digits; everything else separates), storing
// each token lower-cased as strings.ToLower would, with its hash, without
// allocating once the buffers have grown.
func (t *tokScan) scan(s string) {
	buf, toks := t.buf[:0], t.toks[:0]
	kind := uint8(0)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		k := uint8(0)
		if c < utf8.RuneSelf {
			k = tokenClass[c]
			if k != kind {
				if kind != 0 {
					toks = append(toks, token{off: uint32(start), end: uint32(len(buf))})
				}
				kind, start = k, len(buf)
			}
			if k != 0 {
				if k == 1 && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		k = runeClass(r, kind)
		if k != kind {
			if kind != 0 {
				toks = append(toks, token{off: uint32(start), end: uint32(len(buf))})
			}
			kind, start = k, len(buf)
		}
		if k != 0 {
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		}
		i += size
	}
	if kind != 0 {
		toks = append(toks, token{off: uint32(start), end: uint32(len(buf))})
	}
	for i := range toks {
		toks[i].h = hashKey(buf[toks[i].off:toks[i].end])
	}
	t.buf, t.toks = buf, toks
}

// asciiScan holds the fast path's buffers.
type asciiScan struct {
	pad           []byte   // the caption, zero-padded to whole 64-byte blocks + 8
	letter, digit []uint64 // per byte: bit set when a letter / digit (+1 zero word)
	special       []uint64 // per byte: bit set when '&', '<', ':' or '.'
	stW, enW      []uint64 // per block: bit set where a token starts / ends (last byte)
	starts, ends  []uint32 // spans: the tokens' byte ranges
	cand          []uint64 // filterTokens: start | end<<32 of the tokens to look up
	nonASCII      bool     // the caption has non-ASCII runes
}

// runeMasks adds the non-ASCII runes of a valid caption to the masks
// classifyBlocks made (exact for its ASCII bytes), as AppendTokens
// classifies them: letters, combining marks continuing a letter run,
// digits; every byte of a rune gets its rune's class. ASCII stretches are
// skipped eight bytes at a time.
func (a *asciiScan) runeMasks(s string) {
	pad := a.pad
	last := uint8(0) // the class of the last non-ASCII rune
	for i := 0; i < len(s); {
		hi := binary.LittleEndian.Uint64(pad[i:]) & hiBits
		if hi == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(hi) / 8
		kind := last // the previous rune's class
		if i > 0 && s[i-1] < utf8.RuneSelf {
			kind = tokenClass[s[i-1]]
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		last = runeClass(r, kind)
		if last != 0 {
			m := a.letter
			if last == 2 {
				m = a.digit
			}
			for j := i; j < i+size; j++ {
				m[j/64] |= 1 << (j % 64)
			}
		}
		i += size
	}
}

// hasNonASCII reports whether pad[a:b] holds a byte ≥ 0x80.
func hasNonASCII(pad []byte, a, b int) bool {
	for _, c := range pad[a:b] {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// lowerRunes appends the lower case of the valid UTF-8 token t to buf, as
// strings.ToLower would.
func lowerRunes(buf []byte, t []byte) []byte {
	for len(t) > 0 {
		r, size := utf8.DecodeRune(t)
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
		t = t[size:]
	}
	return buf
}

// tokens finds the tokens of a raw caption that needs no cleaning, the
// common case: it classifies bytes into bit masks without branches
// (classifyBlocks; the non-ASCII runes of a caption that has some, rune by
// rune in runeMasks) and leaves the tokens' start and end bits in
// a.stW/a.enW (filterTokens and spans read them). ok is false when the
// caption has invalid UTF-8 or something Clean would change (an entity, a
// tag, a URL); the caller then takes the general path.
func (a *asciiScan) tokens(s string) (ok bool) {
	n := len(s)
	nw := (n + 63) / 64
	if need := nw*64 + 8; cap(a.pad) < need {
		a.pad = make([]byte, need, 2*need)
	} else {
		a.pad = a.pad[:need]
	}
	copy(a.pad, s)
	clear(a.pad[n:])
	if cap(a.letter) < nw+1 {
		a.letter, a.digit = make([]uint64, nw+1, 2*nw+2), make([]uint64, nw+1, 2*nw+2)
		a.special = make([]uint64, nw, 2*nw+2)
	}
	a.letter, a.digit, a.special = a.letter[:nw+1], a.digit[:nw+1], a.special[:nw]
	a.nonASCII = classifyBlocks(a.pad, a.letter[:nw], a.digit[:nw], a.special)
	a.letter[nw], a.digit[nw] = 0, 0
	if a.nonASCII {
		if !utf8.ValidString(s) {
			return false
		}
		a.runeMasks(s)
	}
	if a.cleanChanges() {
		return false
	}
	// Token starts and ends, one mask word per block.
	if cap(a.stW) < nw {
		a.stW, a.enW = make([]uint64, nw, 2*nw), make([]uint64, nw, 2*nw)
	}
	a.stW, a.enW = a.stW[:nw], a.enW[:nw]
	var prevL, prevD uint64 // the previous word's top bit
	for w := range a.stW {
		l, d := a.letter[w], a.digit[w]
		a.stW[w] = l&^(l<<1|prevL) | d&^(d<<1|prevD)
		a.enW[w] = l&^(l>>1|a.letter[w+1]<<63) | d&^(d>>1|a.digit[w+1]<<63)
		prevL, prevD = l>>63, d>>63
	}
	// At most one token per byte (letters and digits are tokens apart).
	if cap(a.cand) < n+1 {
		a.cand = make([]uint64, n+1, 2*n+2)
	}
	a.cand = a.cand[:n+1]
	return true
}

// spans lists the tokens that tokens found as byte ranges in
// a.starts/a.ends.
func (a *asciiScan) spans() {
	a.starts, a.ends = a.starts[:0], a.ends[:0]
	for w, st := range a.stW {
		for ; st != 0; st &= st - 1 {
			a.starts = append(a.starts, uint32(w*64+bits.TrailingZeros64(st)))
		}
		for en := a.enW[w]; en != 0; en &= en - 1 {
			a.ends = append(a.ends, uint32(w*64+bits.TrailingZeros64(en)+1))
		}
	}
}

const (
	hiBits  = 0x8080808080808080
	oneBits = 0x0101010101010101
)

// cleanChanges reports whether Clean would change the valid UTF-8 caption
// in a.pad, from its special bytes' positions (no scan of the caption): it
// holds an HTML entity ('&' then '#' or an ASCII letter or digit, as
// hasEntity), a '<', "://" or "www.".
func (a *asciiScan) cleanChanges() bool {
	pad := a.pad
	for w, m := range a.special {
		for m != 0 {
			p := w*64 + bits.TrailingZeros64(m)
			m &= m - 1
			// pad holds 8 zero bytes past the caption: p+2 is in it.
			switch pad[p] {
			case '<':
				return true
			case '&': // an entity: hasEntity
				if c := pad[p+1]; c == '#' || c >= '0' && c <= '9' || isASCIILetter(c) {
					return true
				}
			case ':':
				if pad[p+1] == '/' && pad[p+2] == '/' {
					return true
				}
			case '.':
				if p >= 3 && string(pad[p-3:p]) == "www" {
					return true
				}
			}
		}
	}
	return false
}

// classifyGo is classifyBlocks in portable Go, eight bytes at a time.
func classifyGo(pad []byte, letter, digit, special []uint64) bool {
	var hi uint64
	for w := range letter {
		blk := (*[64]byte)(pad[64*w : 64*w+64])
		var l, d, sp uint64
		for k := 0; k < 64; k += 8 {
			x := binary.LittleEndian.Uint64(blk[k : k+8 : k+8])
			hi |= x
			lo := x &^ hiBits // inRange's domain; bytes ≥ 0x80 cleared below
			l |= gatherHigh(inRange(lo|0x2020202020202020, 'a', 'z')&^x) << k
			d |= gatherHigh(inRange(lo, '0', '9')&^x) << k
			sp |= gatherHigh(zeroBytes(x^oneBits*'&')|zeroBytes(x^oneBits*'<')|
				zeroBytes(x^oneBits*':')|zeroBytes(x^oneBits*'.')) << k
		}
		letter[w], digit[w], special[w] = l, d, sp
	}
	return hi&hiBits != 0
}

// zeroBytes sets the high bit of each zero byte of x and clears every
// other bit.
func zeroBytes(x uint64) uint64 {
	return ^((x&^hiBits + ^uint64(hiBits)) | x | ^uint64(hiBits))
}

// inRange sets the high bit of each byte of x (every byte < 0x80) that is
// in [a, b], and clears every other bit.
func inRange(x uint64, a, b byte) uint64 {
	return (x + oneBits*uint64(0x80-a)) &^ (x + oneBits*uint64(0x7f-b)) & hiBits
}

// gatherHigh packs the high bits of x's eight bytes into bits 0..7 (byte
// 0's into bit 0): the multiplier puts byte i's bit at bit 56+i, with no
// other product term (and so no carry) in bits 56..63.
func gatherHigh(x uint64) uint64 { return (x >> 7) * 0x0102040810204080 >> 56 }

// lowerWord is the lower-cased word of token bytes at pad[i:] keeping n
// (1..8) bytes: an ASCII letter or digit OR 0x20 is its lower case. No
// branch on n; for n > 8 the word is some garbage, never out of bounds.
func lowerWord(pad []byte, i, n int) uint64 {
	w := binary.LittleEndian.Uint64(pad[i:]) | 0x2020202020202020
	return w & (^uint64(0) >> (uint(64-8*n) & 63))
}

// shortKey is the lower-cased word and the hash of an ASCII token of
// n ≤ 8 bytes at pad[st:] (pad holds 8 bytes past any token): asciiID's
// common case, small enough to inline into the matcher's loop.
func shortKey(pad []byte, st, n int) (w0, h uint64) {
	w0 = lowerWord(pad, st, n)
	return w0, hashEnd(hashMix(uint64(n)*hashMul, w0))
}

// asciiID looks up the token pad[a:b] of an asciiScan; buf is scratch for
// tokens that are long or not ASCII.
func (l *lexicon) asciiID(pad []byte, a, b int, buf []byte, nonASCII bool) (int32, bool) {
	if nonASCII && hasNonASCII(pad, a, b) {
		buf = lowerRunes(buf[:0], pad[a:b])
		return l.get(buf, hashKey(buf))
	}
	n := b - a
	if n <= 8 {
		w0, h := shortKey(pad, a, n)
		if !l.maybe(h) {
			return 0, false
		}
		return l.lookupShort(h, n, w0, 0)
	}
	if n <= 16 {
		w0, w1 := lowerWord(pad, a, 8), lowerWord(pad, a+8, n-8)
		h := hashEnd(hashMix(hashMix(uint64(n)*hashMul, w0), w1))
		if !l.maybe(h) {
			return 0, false
		}
		return l.lookupShort(h, n, w0, w1)
	}
	buf = buf[:0]
	for i := a; i < b; i++ {
		buf = append(buf, pad[i]|0x20)
	}
	return l.get(buf, hashKey(buf))
}

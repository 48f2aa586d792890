package caption

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/lexicon"
)

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
		toks[i].h = lexicon.HashKey(buf[toks[i].off:toks[i].end])
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
	return w0, lexicon.End(lexicon.Mix(uint64(n)*lexicon.Mul, w0))
}

// asciiID looks up the token pad[a:b] of an asciiScan in l; buf is scratch for
// tokens that are long or not ASCII.
func asciiID(l *lexicon.Table, pad []byte, a, b int, buf []byte, nonASCII bool) (int32, bool) {
	if nonASCII && hasNonASCII(pad, a, b) {
		buf = lowerRunes(buf[:0], pad[a:b])
		return l.Get(buf, lexicon.HashKey(buf))
	}
	n := b - a
	if n <= 8 {
		w0, h := shortKey(pad, a, n)
		if !l.Maybe(h) {
			return 0, false
		}
		return l.LookupShort(h, n, w0, 0)
	}
	if n <= 16 {
		w0, w1 := lowerWord(pad, a, 8), lowerWord(pad, a+8, n-8)
		h := lexicon.End(lexicon.Mix(lexicon.Mix(uint64(n)*lexicon.Mul, w0), w1))
		if !l.Maybe(h) {
			return 0, false
		}
		return l.LookupShort(h, n, w0, w1)
	}
	buf = buf[:0]
	for i := a; i < b; i++ {
		buf = append(buf, pad[i]|0x20)
	}
	return l.Get(buf, lexicon.HashKey(buf))
}

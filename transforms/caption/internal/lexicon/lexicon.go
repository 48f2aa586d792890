// Package lexicon is the matchers' and the part-of-speech tagger's hash
// table: token bytes to an int32, built once and read without allocating.
package lexicon

import (
	"encoding/binary"

	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/arena"
)

// Table is an open-addressing hash table from token bytes to an int32,
// built once at matcher construction and read without allocating. A bit
// filter small enough for a core's L2 cache rejects most tokens that are in
// no concept before the table is touched. Keys of up to 16 bytes are kept
// in the slot as two zero-padded little-endian words, so the ASCII fast
// path (the caption package's shortKey and filterTokens) compares a token
// without copying it.
type Table struct {
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

// MaxValue bounds table values (lemma and piece IDs), MaxKey its
// key lengths; longer keys cannot be tokens that match (no concept word is
// that long) and are left out.
const (
	MaxValue = 1<<24 - 1
	MaxKey   = 255
)

func (s lexSlot) n() int     { return int(s.nv >> 24) }
func (s lexSlot) val() int32 { return int32(s.nv & MaxValue) }

const Mul = 0x9E3779B97F4A7C15

func Mix(h, w uint64) uint64 { return (h ^ w) * Mul }

func End(h uint64) uint64 { return h ^ h>>29 }

// HashKey hashes bytes as 8-byte little-endian words, the last one
// zero-padded, seeded with the length: the caption package's shortKey computes the same hash
// straight from a caption's bytes.
func HashKey(b []byte) uint64 {
	h := uint64(len(b)) * Mul
	for len(b) >= 8 {
		h = Mix(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		h = Mix(h, TailWord(b))
	}
	return End(h)
}

func TailWord(b []byte) uint64 {
	var t [8]byte
	copy(t[:], b)
	return binary.LittleEndian.Uint64(t[:])
}

// New returns an empty table.
func New() *Table { return &Table{} }

// Put sets key's value (the first put of a key wins). Seal must be called
// after the last put.
func (l *Table) Put(key string, val int32) {
	if key == "" || len(key) > MaxKey || val < 0 || val > MaxValue {
		return
	}
	if 2*(l.n+1) > len(l.slots) {
		l.resize(max(16, 2*len(l.slots)))
	}
	kb := []byte(key)
	h := HashKey(kb)
	if _, ok := l.lookup(kb, h); ok {
		return
	}
	l.insert(kb, h, uint32(len(key))<<24|uint32(val))
	l.n++
}

func (l *Table) insert(kb []byte, h uint64, nv uint32) {
	s := lexSlot{tag: uint32(h >> 32), nv: nv, k0: TailWord(kb[:min(8, len(kb))])}
	e := lexKey{off: uint32(len(l.keys))}
	if len(kb) > 8 {
		e.k1 = TailWord(kb[8:min(16, len(kb))])
	}
	l.keys = append(l.keys, kb...)
	i := h & l.mask
	for l.slots[i].nv != 0 {
		i = (i + 1) & l.mask
	}
	l.slots[i], l.ext[i] = s, e
}

// resize rehashes into size slots.
func (l *Table) resize(size int) {
	old, oldExt, oldKeys := l.slots, l.ext, l.keys
	l.slots, l.ext, l.keys = make([]lexSlot, size), make([]lexKey, size), nil
	l.mask = uint64(size - 1)
	for i, s := range old {
		if s.nv != 0 {
			kb := oldKeys[oldExt[i].off : oldExt[i].off+uint32(s.n())]
			l.insert(kb, HashKey(kb), s.nv)
		}
	}
}

// Seal shrinks the table to a load of at most 1/2 and builds the filter:
// 32 bits per key, so about 3% of the tokens in no concept reach the table.
func (l *Table) Seal() {
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
			b := HashKey(l.keys[l.ext[i].off:l.ext[i].off+uint32(s.n())]) >> 20 & l.fmask
			l.filter[b/64] |= 1 << (b % 64)
		}
	}
}

// Maybe reports whether a key with hash h may be in the table.
func (l *Table) Maybe(h uint64) bool {
	b := h >> 20 & l.fmask
	return l.filter[b/64]&(1<<(b%64)) != 0
}

// Get returns the value of key, whose HashKey is h.
func (l *Table) Get(key []byte, h uint64) (int32, bool) {
	if !l.Maybe(h) {
		return 0, false
	}
	return l.lookup(key, h)
}

// Find returns key's value: Get with the hash computed here, and keys of
// up to 16 bytes compared in the slot (no read of the key store).
func (l *Table) Find(key []byte) (int32, bool) {
	n := len(key)
	if n > 16 || n == 0 {
		return l.Get(key, HashKey(key))
	}
	var w0, w1 uint64
	if n >= 8 {
		w0 = binary.LittleEndian.Uint64(key)
		if n > 8 {
			w1 = TailWord(key[8:])
		}
	} else {
		w0 = TailWord(key)
	}
	h := Mix(uint64(n)*Mul, w0)
	if n > 8 {
		h = Mix(h, w1)
	}
	h = End(h)
	if !l.Maybe(h) {
		return 0, false
	}
	return l.LookupShort(h, n, w0, w1)
}

func (l *Table) lookup(key []byte, h uint64) (int32, bool) {
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

// LookupShort finds a key of n ≤ 16 bytes given as its two zero-padded
// words.
func (l *Table) LookupShort(h uint64, n int, w0, w1 uint64) (int32, bool) {
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

// Filter is the table's bit filter and its mask, for a caller's loop that
// tests many hashes (as Maybe does) without a call per hash.
func (l *Table) Filter() ([]uint64, uint64) { return l.filter, l.fmask }

// Size is what MoveTo needs in an arena.
func (l *Table) Size() int {
	return arena.Size(l.slots) + arena.Size(l.ext) + arena.Size(l.keys) + arena.Size(l.filter)
}

// MoveTo moves the sealed table into the arena.
func (l *Table) MoveTo(a *arena.Arena) {
	l.slots, l.ext, l.keys, l.filter = arena.Copy(a, l.slots), arena.Copy(a, l.ext), arena.Copy(a, l.keys), arena.Copy(a, l.filter)
}

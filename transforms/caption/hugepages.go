package caption

import "unsafe"

// arenaSize is what arenaCopy needs for s (cache-line aligned).
func arenaSize[T any](s []T) int {
	var zero T
	return (len(s)*int(unsafe.Sizeof(zero)) + 63) &^ 63
}

// arenaCopy returns a copy of s in the arena, or s itself when a is nil or
// full. T must hold no pointers: the arena is not scanned by the GC.
func arenaCopy[T any](a *hugeArena, s []T) []T {
	n := arenaSize(s)
	if a == nil || len(s) == 0 || a.used+n > len(a.mem) {
		return s
	}
	out := unsafe.Slice((*T)(unsafe.Pointer(&a.mem[a.used])), len(s))
	copy(out, s)
	a.used += n
	return out
}

// size is what moveTo needs in an arena.
func (l *lexicon) size() int {
	return arenaSize(l.slots) + arenaSize(l.ext) + arenaSize(l.keys) + arenaSize(l.filter)
}

// moveTo moves the sealed table into the arena.
func (l *lexicon) moveTo(a *hugeArena) {
	l.slots, l.ext, l.keys, l.filter = arenaCopy(a, l.slots), arenaCopy(a, l.ext), arenaCopy(a, l.keys), arenaCopy(a, l.filter)
}

// Package arena is memory for read-only tables that are built once per
// process and read at random: on Linux the kernel is asked to back it with
// transparent huge pages. Its slices hold no pointers (the arena is not
// scanned by the garbage collector) and are never freed.
package arena

import "unsafe"

// Size is what Copy needs for s (cache-line aligned).
func Size[T any](s []T) int {
	var zero T
	return (len(s)*int(unsafe.Sizeof(zero)) + 63) &^ 63
}

// Copy returns a copy of s in the arena, or s itself when a is nil or
// full. T must hold no pointers: the arena is not scanned by the GC.
func Copy[T any](a *Arena, s []T) []T {
	n := Size(s)
	if a == nil || len(s) == 0 || a.used+n > len(a.mem) {
		return s
	}
	out := unsafe.Slice((*T)(unsafe.Pointer(&a.mem[a.used])), len(s))
	copy(out, s)
	a.used += n
	return out
}

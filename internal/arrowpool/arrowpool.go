// Package arrowpool is an arrow memory.Allocator that reuses the buffers
// arrow frees instead of leaving them to the garbage collector.
//
// Reading Parquet with arrow's GoAllocator makes every batch allocate its
// column buffers anew (a binary builder's values buffer doubles from a few
// bytes up to the batch's size), and every one of them becomes garbage at
// the next batch: megabytes of large objects a second per reader, which
// keep the Go heap's goal and its idle, not yet returned, spans well above
// what the readers hold at once. Allocator keeps freed buffers of 4 KiB
// and more in power-of-two classes, up to a bound on the bytes kept, and
// hands them out again zeroed; smaller and larger requests go to arrow's
// GoAllocator. What it saves on the count job's text-only runs over
// DuckDB-written caption files: docs/performance.md, Memory.
//
// Arrow frees a buffer (Allocator.Free) when its reference count drops to
// zero; a buffer freed twice is kept once.
package arrowpool

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// MinPooled and MaxPooled are the smallest and largest buffers kept
	// for reuse (requests outside go to arrow's GoAllocator).
	MinPooled = 4 << 10
	MaxPooled = 64 << 20

	minClass  = 12 // log2(MinPooled)
	maxClass  = 26 // log2(MaxPooled)
	alignment = 64 // as arrow's allocators align
)

// Allocator is a memory.Allocator keeping at most a bound of freed bytes
// for reuse. It is safe for concurrent use.
type Allocator struct {
	mu    sync.Mutex
	free  [maxClass + 1][][]byte
	freed map[*byte]struct{} // the buffers in free, to keep a buffer freed twice once
	kept  int
	max   int
	other memory.GoAllocator
}

var _ memory.Allocator = (*Allocator)(nil)

// New returns an Allocator keeping at most maxKept bytes of freed buffers.
func New(maxKept int) *Allocator {
	return &Allocator{max: maxKept, freed: map[*byte]struct{}{}}
}

// classOf is the power-of-two class holding n bytes (MinPooled ≤ n ≤ MaxPooled).
func classOf(n int) int {
	return max(bits.Len(uint(n-1)), minClass)
}

// Allocate returns n zeroed bytes, 64-byte aligned.
func (a *Allocator) Allocate(n int) []byte {
	if n < MinPooled || n > MaxPooled {
		return a.other.Allocate(n)
	}
	c := classOf(n)
	a.mu.Lock()
	if k := len(a.free[c]); k > 0 {
		b := a.free[c][k-1]
		a.free[c] = a.free[c][:k-1]
		delete(a.freed, unsafe.SliceData(b))
		a.kept -= len(b)
		a.mu.Unlock()
		clear(b)
		return b[:n]
	}
	a.mu.Unlock()
	size := 1 << c
	buf := make([]byte, size+alignment)
	shift := int(-uintptr(unsafe.Pointer(unsafe.SliceData(buf))) & (alignment - 1))
	return buf[shift : shift+n : shift+size]
}

// Reallocate grows b to n bytes (its first bytes kept, the rest zero),
// freeing b when it moves.
func (a *Allocator) Reallocate(n int, b []byte) []byte {
	if cap(b) >= n {
		old := len(b)
		b = b[:n]
		if n > old {
			clear(b[old:])
		}
		return b
	}
	nb := a.Allocate(n)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free keeps b for reuse when it is one of the Allocator's classes and the
// bound allows; otherwise it is left to the garbage collector.
func (a *Allocator) Free(b []byte) {
	c := cap(b)
	if c < MinPooled || c > MaxPooled || c&(c-1) != 0 {
		return
	}
	b = b[:c]
	p := unsafe.SliceData(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.freed[p]; dup || a.kept+c > a.max {
		return
	}
	k := bits.Len(uint(c)) - 1
	a.free[k] = append(a.free[k], b)
	a.freed[p] = struct{}{}
	a.kept += c
}

// Kept is the bytes of freed buffers held for reuse.
func (a *Allocator) Kept() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kept
}

package arrowpool_test

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conceptfreq/conceptfreq/internal/arrowpool"
)

func aligned(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 == 0 }

func TestReuseZeroedAndAligned(t *testing.T) {
	a := arrowpool.New(1 << 20)
	b := a.Allocate(5000)
	if len(b) != 5000 || cap(b) != 8192 || !aligned(b) {
		t.Fatalf("Allocate(5000): len %d cap %d aligned %v; want 5000, 8192, true", len(b), cap(b), aligned(b))
	}
	for i := range b[:cap(b)] {
		b[:cap(b)][i] = 0xff
	}
	a.Free(b)
	if a.Kept() != 8192 {
		t.Fatalf("kept %d after one free, want 8192", a.Kept())
	}
	c := a.Allocate(8000)
	if unsafe.SliceData(c) != unsafe.SliceData(b) {
		t.Fatal("a freed buffer of the class was not reused")
	}
	if a.Kept() != 0 {
		t.Fatalf("kept %d after reuse, want 0", a.Kept())
	}
	for i, v := range c[:cap(c)] {
		if v != 0 {
			t.Fatalf("reused buffer byte %d = %#x, want zero", i, v)
		}
	}
	// Another class is not served from this one.
	a.Free(c)
	if d := a.Allocate(20000); unsafe.SliceData(d) == unsafe.SliceData(c) || cap(d) != 32768 {
		t.Fatalf("Allocate(20000) got the 8 KiB buffer or cap %d", cap(d))
	}
}

func TestBoundAndDoubleFree(t *testing.T) {
	a := arrowpool.New(20 << 10)
	x, y, z := a.Allocate(8192), a.Allocate(8192), a.Allocate(8192)
	a.Free(x)
	a.Free(x) // freed twice: kept once
	if a.Kept() != 8192 {
		t.Fatalf("kept %d after freeing one buffer twice, want 8192", a.Kept())
	}
	a.Free(y)
	a.Free(z) // over the 20 KiB bound: left to the GC
	if a.Kept() != 16384 {
		t.Fatalf("kept %d, want 16384 (bound 20 KiB)", a.Kept())
	}
	p, q := a.Allocate(8192), a.Allocate(8192)
	if unsafe.SliceData(p) == unsafe.SliceData(q) {
		t.Fatal("one buffer handed out twice")
	}
}

func TestOutsideClassesGoToGo(t *testing.T) {
	a := arrowpool.New(1 << 30)
	small := a.Allocate(100)
	if len(small) != 100 || !aligned(small) {
		t.Fatalf("small: len %d aligned %v", len(small), aligned(small))
	}
	a.Free(small)
	if a.Kept() != 0 {
		t.Fatalf("a 100-byte buffer was kept (%d bytes)", a.Kept())
	}
	big := a.Allocate(arrowpool.MaxPooled + 1)
	a.Free(big)
	if a.Kept() != 0 {
		t.Fatalf("a buffer over MaxPooled was kept")
	}
}

func TestReallocateKeepsPrefixZeroesRest(t *testing.T) {
	a := arrowpool.New(1 << 20)
	b := a.Allocate(4096)
	for i := range b {
		b[i] = byte(i)
	}
	b = b[:100] // shrink, then grow within the capacity
	b = a.Reallocate(4000, b)
	if b[99] != 99 || b[100] != 0 || b[3999] != 0 {
		t.Fatalf("in-place growth: b[99]=%d b[100]=%d b[3999]=%d, want 99, 0, 0", b[99], b[100], b[3999])
	}
	moved := a.Reallocate(10000, b)
	if moved[99] != 99 || moved[9999] != 0 || cap(moved) != 16384 {
		t.Fatalf("moved: b[99]=%d cap %d", moved[99], cap(moved))
	}
	if a.Kept() != 4096 {
		t.Fatalf("kept %d after a move, want the old 4 KiB buffer", a.Kept())
	}
}

// Arrow's builders and arrays release every buffer through the allocator:
// built, read back and released through a checked allocator wrapping the
// pool, nothing is left allocated and the values survive reuse.
func TestArrowBuildersOnPool(t *testing.T) {
	pool := arrowpool.New(4 << 20)
	mem := memory.NewCheckedAllocator(pool)
	for round := 0; round < 3; round++ {
		b := array.NewStringBuilder(mem)
		for i := 0; i < 20000; i++ {
			b.Append(string(rune('a' + (i+round)%26)))
		}
		arr := b.NewStringArray()
		b.Release()
		for i := 0; i < arr.Len(); i++ {
			if got, want := arr.Value(i), string(rune('a'+(i+round)%26)); got != want {
				t.Fatalf("round %d: value %d = %q, want %q", round, i, got, want)
			}
		}
		arr.Release()
	}
	mem.AssertSize(t, 0)
	if pool.Kept() == 0 {
		t.Fatal("nothing was kept for reuse")
	}
}

func TestConcurrent(t *testing.T) {
	a := arrowpool.New(1 << 20)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				b := a.Allocate(4096 << (i % 4))
				for j := range b {
					if b[j] != 0 {
						t.Errorf("goroutine %d: byte %d not zero", g, j)
						return
					}
				}
				b[0], b[len(b)-1] = byte(g), byte(g)
				a.Free(b)
			}
		}(g)
	}
	wg.Wait()
	if a.Kept() > 1<<20 {
		t.Fatalf("kept %d, over the bound", a.Kept())
	}
}

package arena

import (
	"syscall"
	"unsafe"
)

// Arena is memory the kernel is asked to back with transparent huge
// pages (its "madvise" mode). The tagger's tables are read at random, a few
// cache lines per token; on 4 KiB pages nearly every such read also misses
// the TLB. It is never freed, so only the tagger, built once per
// process, uses one (a matcher is built per DoFn instance: an arena each
// would leak).
type Arena struct {
	mem  []byte
	used int
}

const hugePage = 2 << 20

// New maps n bytes (rounded up to whole huge pages), or returns
// nil when that fails (the tables then stay on the Go heap).
func New(n int) *Arena {
	size := (n + hugePage - 1) / hugePage * hugePage
	mem, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&mem[0]))%hugePage)) % hugePage
	mem = mem[off : off+size]
	const madvHugepage = 14
	if err := syscall.Madvise(mem, madvHugepage); err != nil {
		return nil
	}
	return &Arena{mem: mem}
}

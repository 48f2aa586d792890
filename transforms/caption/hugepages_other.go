//go:build !linux

package caption

// hugeArena is huge-page memory, asked for on Linux only.
type hugeArena struct {
	mem  []byte
	used int
}

func newHugeArena(n int) *hugeArena { return nil }

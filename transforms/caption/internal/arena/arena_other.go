//go:build !linux

package arena

// Arena is huge-page memory, asked for on Linux only.
type Arena struct {
	mem  []byte
	used int
}

// New returns nil: the tables stay on the Go heap.
func New(n int) *Arena { return nil }

//go:build !amd64

package caption

// classifyBlocks is classifyGo where there is no assembly version.
func classifyBlocks(pad []byte, letter, digit, special []uint64) bool {
	return classifyGo(pad, letter, digit, special)
}

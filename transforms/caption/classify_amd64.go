package caption

// classifyBlocks sets, for each of the len(letter) 64-byte blocks of pad,
// bit i of letter/digit/special when byte i of the block is an ASCII letter,
// an ASCII digit, or one of the bytes Clean looks for ('&', '<', ':', '.'),
// and reports whether any byte is ≥ 0x80. pad holds at least 64·len(letter)
// bytes; digit and special at least len(letter) words. SSE2 (every amd64).
//
//go:noescape
func classifyBlocks(pad []byte, letter, digit, special []uint64) bool

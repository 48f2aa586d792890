// Package clip is the text side of CLIP-style models in plain Go: the
// byte-level BPE tokenizer of OpenAI CLIP / open_clip, the study's prompt
// sets (class, simple, and the 80 ImageNet templates of the CLIP paper), and
// text embedding of concept names through an ONNX text encoder
// (models/ort), averaged and normalised per prompt set.
package clip

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Special tokens and the context length of CLIP's text encoder.
const (
	StartOfText   = "<|startoftext|>"
	EndOfText     = "<|endoftext|>"
	ContextLength = 77
	// VocabSize is the vocabulary of the standard merges file: 256 byte
	// tokens, 256 end-of-word byte tokens, 48,894 merges and the two
	// special tokens.
	VocabSize = 49408
	numMerges = 49152 - 256 - 2
)

// ErrMerges is wrapped by every error reading a merges file.
var ErrMerges = errors.New("clip: bad BPE merges file")

// Tokenizer is CLIP's byte-level BPE tokenizer. It is safe for concurrent
// use; its cache of encoded words is guarded.
type Tokenizer struct {
	encoder   map[string]int32
	ranks     map[[2]string]int
	byteChars [256]string
	sot, eot  int32
}

// pattern is CLIP's token pattern (simple_tokenizer.py); the text is
// lower-cased before it is applied.
var pattern = regexp.MustCompile(`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)

// byteToUnicode is CLIP's bytes_to_unicode: printable bytes map to
// themselves, the others to code points from 256 up, in byte order.
func byteToUnicode() [256]rune {
	var out [256]rune
	printable := func(b int) bool {
		return b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// LoadTokenizer reads a BPE merges file (bpe_simple_vocab_16e6.txt.gz as
// open_clip ships it, gzipped or plain): a header line, then one merge per
// line. It uses the first 48,894 merges, as CLIP does.
func LoadTokenizer(r io.Reader) (*Tokenizer, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMerges, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMerges, err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < numMerges+1 {
		return nil, fmt.Errorf("%w: %d lines, want at least %d (a header and %d merges)", ErrMerges, len(lines), numMerges+1, numMerges)
	}
	t := &Tokenizer{encoder: make(map[string]int32, VocabSize), ranks: make(map[[2]string]int, numMerges)}
	b2u := byteToUnicode()
	for b := 0; b < 256; b++ {
		t.byteChars[b] = string(b2u[b])
	}
	// The byte tokens in bytes_to_unicode's order: printable bytes first,
	// then the others.
	var order []string
	for b := 0; b < 256; b++ {
		if b2u[b] < 256 {
			order = append(order, string(b2u[b]))
		}
	}
	for b := 0; b < 256; b++ {
		if b2u[b] >= 256 {
			order = append(order, string(b2u[b]))
		}
	}
	vocab := make([]string, 0, VocabSize)
	vocab = append(vocab, order...)
	for _, c := range order {
		vocab = append(vocab, c+"</w>")
	}
	for i, line := range lines[1 : numMerges+1] {
		parts := strings.Fields(line)
		if len(parts) != 2 {
			return nil, fmt.Errorf("%w: line %d: %q is not two symbols", ErrMerges, i+2, line)
		}
		pair := [2]string{parts[0], parts[1]}
		if _, dup := t.ranks[pair]; !dup {
			t.ranks[pair] = i
		}
		vocab = append(vocab, parts[0]+parts[1])
	}
	vocab = append(vocab, StartOfText, EndOfText)
	for i, v := range vocab {
		t.encoder[v] = int32(i)
	}
	t.sot, t.eot = t.encoder[StartOfText], t.encoder[EndOfText]
	return t, nil
}

// SOT and EOT are the start- and end-of-text token ids.
func (t *Tokenizer) SOT() int32 { return t.sot }

// EOT is the end-of-text token id.
func (t *Tokenizer) EOT() int32 { return t.eot }

// Clean applies CLIP's text clean-up: HTML entities unescaped twice,
// whitespace runs collapsed to one space, trimmed, lower-cased. (CLIP also
// runs ftfy.fix_text, which repairs mojibake; that step has no Go
// equivalent here and is skipped.)
func Clean(text string) string {
	text = html.UnescapeString(html.UnescapeString(text))
	var b strings.Builder
	space := false
	for _, r := range text {
		if isSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return lower(b.String())
}

// isSpace is Python's str.isspace.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// lower is Python's str.lower for the cases where Go's differs.
func lower(s string) string {
	if !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	return strings.ToLower(strings.ReplaceAll(s, "İ", "i\u0307"))
}

// Encode returns the BPE token ids of text, without the start and end
// tokens, padding or truncation.
func (t *Tokenizer) Encode(text string) []int32 {
	var out []int32
	for _, tok := range pattern.FindAllString(Clean(text), -1) {
		if tok == StartOfText || tok == EndOfText {
			out = append(out, t.encoder[tok])
			continue
		}
		var chars []string
		for i := 0; i < len(tok); i++ {
			chars = append(chars, t.byteChars[tok[i]])
		}
		for _, piece := range t.bpe(chars) {
			id, ok := t.encoder[piece]
			if !ok { // cannot happen with a complete merges file: every byte has a token
				continue
			}
			out = append(out, id)
		}
	}
	return out
}

// Tokens returns [SOT] + Encode(text) + [EOT], without padding or
// truncation.
func (t *Tokenizer) Tokens(text string) []int32 {
	ids := append([]int32{t.sot}, t.Encode(text)...)
	return append(ids, t.eot)
}

// Context writes text's tokens into dst (length ContextLength or the
// model's context), zero-padded; a text too long is truncated and its last
// token replaced by EOT, as open_clip's tokenize does. It reports whether
// the text was truncated.
func (t *Tokenizer) Context(text string, dst []int64) bool {
	ids := t.Tokens(text)
	truncated := len(ids) > len(dst)
	if truncated {
		ids = ids[:len(dst)]
		ids[len(ids)-1] = t.eot
	}
	clear(dst)
	for i, id := range ids {
		dst[i] = int64(id)
	}
	return truncated
}

// bpe merges one pre-token's byte characters by rank, lowest first; the
// last symbol carries the end-of-word marker.
func (t *Tokenizer) bpe(chars []string) []string {
	if len(chars) == 0 {
		return nil
	}
	word := append([]string(nil), chars...)
	word[len(word)-1] += "</w>"
	for len(word) > 1 {
		best, bestRank := -1, int(^uint(0)>>1)
		for i := 0; i+1 < len(word); i++ {
			if r, ok := t.ranks[[2]string{word[i], word[i+1]}]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		first, second := word[best], word[best+1]
		merged := word[:0:0]
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				merged = append(merged, first+second)
				i += 2
			} else {
				merged = append(merged, word[i])
				i++
			}
		}
		word = merged
	}
	return word
}

// Decode turns token ids back into text (end-of-word markers become
// spaces), for checks and debugging.
func (t *Tokenizer) Decode(ids []int32) string {
	dec := make(map[int32]string, len(t.encoder))
	for k, v := range t.encoder {
		dec[v] = k
	}
	u2b := map[rune]byte{}
	for b, r := range byteToUnicode() {
		u2b[r] = byte(b)
	}
	var buf []byte
	for _, id := range ids {
		s := strings.ReplaceAll(dec[id], "</w>", " ")
		if id == t.sot || id == t.eot {
			buf = append(buf, s...)
			continue
		}
		for _, r := range s {
			if r == ' ' {
				buf = append(buf, ' ')
			} else if b, ok := u2b[r]; ok {
				buf = append(buf, b)
			} else {
				buf = utf8.AppendRune(buf, r)
			}
		}
	}
	return string(buf)
}

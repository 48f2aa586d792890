package clip_test

import (
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/models/clip"
)

var (
	tokOnce sync.Once
	tok     *clip.Tokenizer
	tokErr  error
)

// tokenizer loads CLIP's merges file from shared/data/clip.
func tokenizer(t testing.TB) *clip.Tokenizer {
	t.Helper()
	path := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	tokOnce.Do(func() {
		f, err := os.Open(path)
		if err != nil {
			tokErr = err
			return
		}
		defer f.Close()
		tok, tokErr = clip.LoadTokenizer(f)
	})
	if tokErr != nil {
		t.Fatal(tokErr)
	}
	return tok
}

func TestKnownTokenIDs(t *testing.T) {
	tk := tokenizer(t)
	for _, tc := range []struct {
		text string
		want []int32
	}{
		// The example of shared/data/README.md (OpenAI CLIP's tokenize).
		{"a photo of a dog.", []int32{49406, 320, 1125, 539, 320, 1929, 269, 49407}},
		// Case, whitespace and HTML entities are cleaned first.
		{"  A   PHOTO\tof a\nDog. ", []int32{49406, 320, 1125, 539, 320, 1929, 269, 49407}},
		{"a photo of a dog&#46;", []int32{49406, 320, 1125, 539, 320, 1929, 269, 49407}},
		// The examples of CLIP's README: clip.tokenize(["a diagram", "a dog", "a cat"]).
		{"a diagram", []int32{49406, 320, 22697, 49407}},
		{"a dog", []int32{49406, 320, 1929, 49407}},
		{"a cat", []int32{49406, 320, 2368, 49407}},
		{"", []int32{49406, 49407}},
		{"   \t\n ", []int32{49406, 49407}},
	} {
		if got := tk.Tokens(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokens(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if tk.SOT() != 49406 || tk.EOT() != 49407 {
		t.Errorf("SOT/EOT = %d/%d, want 49406/49407", tk.SOT(), tk.EOT())
	}
}

// Properties that hold for every text: digits are single tokens, decoding
// gives back the cleaned text (spaces aside), and unicode survives.
func TestRoundTripAndUnicode(t *testing.T) {
	tk := tokenizer(t)
	for _, text := range []string{
		"a photo of a dog.", "Zürich at night, 東京タワー", "café au lait 🍰", "model B200 in 1999", "don't stop", "&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;",
	} {
		ids := tk.Encode(text)
		if len(ids) == 0 {
			t.Errorf("%q: no tokens", text)
			continue
		}
		got := strings.ReplaceAll(tk.Decode(ids), " ", "")
		want := strings.ReplaceAll(clip.Clean(text), " ", "")
		if got != want {
			t.Errorf("%q: decodes to %q, want %q", text, got, want)
		}
	}
	// Each digit is its own token: "1999" is four.
	if a, b := len(tk.Encode("1999")), len(tk.Encode("1")); a != 4 || b != 1 {
		t.Errorf("digits: 1999 → %d tokens, 1 → %d; want 4 and 1", a, b)
	}
	if got := clip.Clean("&amp;lt;b&amp;gt;"); got != "<b>" {
		t.Errorf("entities are unescaped twice: got %q, want <b>", got)
	}
}

func TestContextTruncation(t *testing.T) {
	tk := tokenizer(t)
	dst := make([]int64, clip.ContextLength)
	if tk.Context("a photo of a dog.", dst) {
		t.Error("short text reported truncated")
	}
	want := []int64{49406, 320, 1125, 539, 320, 1929, 269, 49407}
	if !reflect.DeepEqual(dst[:8], want) || dst[8] != 0 || dst[76] != 0 {
		t.Errorf("context: got %v", dst[:10])
	}
	long := strings.Repeat("dog ", 200)
	if !tk.Context(long, dst) {
		t.Error("200 words not reported truncated")
	}
	if dst[0] != 49406 || dst[76] != 49407 || dst[75] != 1929 {
		t.Errorf("truncated context: starts %d, ends %d %d; want SOT ... dog EOT", dst[0], dst[75], dst[76])
	}
}

func TestBadMergesFile(t *testing.T) {
	if _, err := clip.LoadTokenizer(strings.NewReader("#version\na b\n")); err == nil || !strings.Contains(err.Error(), "lines, want at least") {
		t.Errorf("short file: got %v", err)
	}
	if _, err := clip.LoadTokenizer(strings.NewReader("\x1f\x8bnot gzip")); err == nil || !strings.Contains(err.Error(), "bad BPE merges file") {
		t.Errorf("broken gzip: got %v", err)
	}
}

func FuzzTokenize(f *testing.F) {
	tk := tokenizer(f)
	for _, s := range []string{"a photo of a dog.", "", "東京", "&amp;&lt;", "<|endoftext|>", "\xff\xfe", strings.Repeat("x", 500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tk.Tokens(s)
		if len(ids) < 2 || ids[0] != tk.SOT() || ids[len(ids)-1] != tk.EOT() {
			t.Fatalf("%q: tokens %v lack SOT/EOT", s, ids)
		}
		for _, id := range ids {
			if id < 0 || id >= clip.VocabSize {
				t.Fatalf("%q: token %d out of the vocabulary", s, id)
			}
		}
		if utf8.ValidString(s) && !strings.Contains(s, "<|") {
			got := strings.ReplaceAll(tk.Decode(ids[1:len(ids)-1]), " ", "")
			want := strings.ReplaceAll(clip.Clean(s), " ", "")
			if got != want {
				t.Fatalf("%q: decodes to %q, want %q", s, got, want)
			}
		}
	})
}

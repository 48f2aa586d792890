package reject

import (
	"strings"
	"testing"
)

// Every reason is listed once, its level agrees with its name, and it says
// what it means.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons {
		if seen[r.Name] {
			t.Errorf("%s listed twice", r.Name)
		}
		seen[r.Name] = true
		if (r.Level == Shard) != IsShard(r.Name) || (r.Level == Image) != strings.HasPrefix(r.Name, "image_") {
			t.Errorf("%s: level %s does not agree with its name", r.Name, r.Level)
		}
		if r.Meaning == "" || r.Commands == "" {
			t.Errorf("%s: no meaning or commands", r.Name)
		}
	}
	if _, ok := Lookup("no_such_reason"); ok || Meaning("no_such_reason") != "" {
		t.Error("an unknown reason was found")
	}
}

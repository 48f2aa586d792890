package concept

import "slices"

// Counts are the tallies of one shard (or of one image batch), one slot per
// vocabulary concept, that remember which slots they touched: clearing and
// reading them costs what the shard matched, not the vocabulary's size (a
// 200,000-concept vocabulary over many tiny shards would otherwise clear and
// scan 200,000 tallies a shard).
type Counts struct {
	tallies []Tally
	seen    []bool
	touched []int32
}

// NewCounts returns zero counts for n concepts.
func NewCounts(n int) *Counts {
	return &Counts{tallies: make([]Tally, n), seen: make([]bool, n)}
}

// Len is the number of concepts.
func (c *Counts) Len() int { return len(c.tallies) }

// At returns concept i's tally, to change.
func (c *Counts) At(i int) *Tally {
	if !c.seen[i] {
		c.seen[i] = true
		c.touched = append(c.touched, int32(i))
	}
	return &c.tallies[i]
}

// Get returns concept i's tally.
func (c *Counts) Get(i int) Tally { return c.tallies[i] }

// Reset zeroes every tally.
func (c *Counts) Reset() {
	for _, i := range c.touched {
		c.tallies[i], c.seen[i] = Tally{}, false
	}
	c.touched = c.touched[:0]
}

// Each calls f for every non-zero tally, in concept order.
func (c *Counts) Each(f func(i int, t Tally)) {
	slices.Sort(c.touched)
	for _, i := range c.touched {
		if t := c.tallies[i]; !t.IsZero() {
			f(int(i), t)
		}
	}
}

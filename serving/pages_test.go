package serving

import "testing"

func TestPagePool(t *testing.T) {
	p := newPagePool(3)
	var got []int
	for {
		id, ok := p.alloc()
		if !ok {
			break
		}
		got = append(got, id)
	}
	if len(got) != 3 || p.used() != 3 || p.available() != 0 {
		t.Fatalf("allocated %v, %d used", got, p.used())
	}
	p.retain(1)
	p.release(1)
	if p.available() != 0 {
		t.Error("a page with a reference left was freed")
	}
	p.release(2)
	p.release(1)
	if id, _ := p.alloc(); id != 1 {
		t.Errorf("took page %d, want the lowest free page 1", id)
	}
	p.release(1)

	// The prefix index finds a page by its parent and tokens, and forgets
	// it when it is freed.
	p.index(0, -1, []int{5, 6})
	tests := []struct {
		name   string
		parent int
		tokens []int
		found  bool
	}{
		{"same tokens", -1, []int{5, 6}, true},
		{"other tokens", -1, []int{5, 7}, false},
		{"other parent", 2, []int{5, 6}, false},
	}
	for _, tt := range tests {
		if id, ok := p.lookup(tt.parent, tt.tokens); ok != tt.found || (ok && id != 0) {
			t.Errorf("%s: lookup gave %d, %v", tt.name, id, ok)
		}
	}
	p.index(2, -1, []int{5, 6}) // a second page with the same content is not indexed
	if p.content[2] != nil {
		t.Error("two pages indexed under one key")
	}
	p.release(0)
	if _, ok := p.lookup(-1, []int{5, 6}); ok || len(p.prefix) != 0 {
		t.Error("a freed page is still indexed")
	}
}

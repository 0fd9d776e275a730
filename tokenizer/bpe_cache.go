package tokenizer

import (
	"strings"
	"sync"
)

// The library caches the encoding of pre-tokens shorter than 256 bytes. We
// do the same, with room for more entries; once full, the cache stops
// taking new ones (as the library's does).
const (
	cacheMaxWordLen = 256
	cacheCapacity   = 1 << 16
)

// wordCache maps pre-tokens to their token ids. It is safe for concurrent
// use.
type wordCache struct {
	mu    sync.RWMutex
	words map[string][]int32
}

func newWordCache() *wordCache {
	return &wordCache{words: make(map[string][]int32)}
}

func (c *wordCache) get(word string) ([]int32, bool) {
	if len(word) >= cacheMaxWordLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.words[word]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(word string, ids []int32) {
	if len(word) >= cacheMaxWordLen {
		return
	}
	c.mu.Lock()
	if len(c.words) < cacheCapacity {
		// Clone: word may point into a much larger string.
		c.words[strings.Clone(word)] = ids
	}
	c.mu.Unlock()
}

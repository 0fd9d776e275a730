package chattemplate

import "fmt"

// Chat templates come with model files, so a template is untrusted input:
// these limits keep a hostile one from exhausting the stack, memory or time.
const (
	// maxNesting bounds how deeply blocks, expressions and the values that
	// == and repr walk may nest.
	maxNesting = 200
	// maxOutput bounds the rendered text and any string a template builds.
	maxOutput = 16 << 20
	// maxItems bounds any list a template builds, and the characters a for
	// loop takes from a string.
	maxItems = 1 << 20
	// maxRange bounds range().
	maxRange = 1 << 16
	// maxIterations bounds the loop iterations of one rendering, nested
	// loops included.
	maxIterations = 1 << 18
	// maxComparisons bounds the element comparisons of one ==, in or
	// unique: values may share parts, or hold themselves through a
	// namespace, so the size of a value unfolded has no bound of its own.
	maxComparisons = 1 << 24
)

var errTooManyComparisons = fmt.Errorf("comparison visits more than %d values", maxComparisons)

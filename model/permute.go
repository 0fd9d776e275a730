package model

import "fmt"

// PermuteQK reorders the rows of a query or key projection weight (rows ×
// cols, row-major; cols 1 for a bias) from Hugging Face's rotate-half RoPE
// layout to llama.cpp's interleaved pairs, as convert_hf_to_gguf.py's
// LlamaModel.permute does:
// w.reshape(nHead, 2, rows/nHead/2, cols).swapaxes(1, 2).reshape(rows, cols).
// The rows may hold any elements: a row of a block-quantized tensor is its
// cols encoded bytes.
func PermuteQK[E any](w []E, rows, cols, nHead int) ([]E, error) {
	return moveQKRows(w, rows, cols, nHead, false)
}

// UnpermuteQK undoes PermuteQK: it brings the query or key rows of a
// llama-architecture GGUF tensor back to Hugging Face's layout.
func UnpermuteQK[E any](w []E, rows, cols, nHead int) ([]E, error) {
	return moveQKRows(w, rows, cols, nHead, true)
}

// moveQKRows maps, within each head, the row s·half+j of the rotate-half
// layout to the row 2j+s of the interleaved one (s ∈ {0, 1}), or back.
func moveQKRows[E any](w []E, rows, cols, nHead int, inverse bool) ([]E, error) {
	if nHead <= 0 || rows%(2*nHead) != 0 || len(w) != rows*cols {
		return nil, fmt.Errorf("cannot permute %d×%d for %d heads", rows, cols, nHead)
	}
	per := rows / nHead
	half := per / 2
	out := make([]E, len(w))
	for h := range nHead {
		for j := range half {
			for s := range 2 {
				interleaved := h*per + j*2 + s
				rotateHalf := h*per + s*half + j
				dst, src := interleaved, rotateHalf
				if inverse {
					dst, src = rotateHalf, interleaved
				}
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out, nil
}

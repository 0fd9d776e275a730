package cuda

import "fmt"

// GPTQ's factorization of a Hessian held on the device, in float64 as
// accumulated by a Gram (FoldUpper): the kernels of factor.cu around
// CholeskyInverse.

// HessianCheck copies the diagonal of the n×n float64 h to diag [n]
// float64 and sets the int32 *bad to 1 when an entry of h's upper
// triangle is not finite; *bad is not cleared first.
func (c *Ctx) HessianCheck(diag, bad, h Buffer, n int) error {
	if err := checkBytes("hessian check", n, []namedBuffer{{"diag", diag, 8 * n}, {"flag", bad, 4}, {"H", h, 8 * n * n}}); err != nil {
		return err
	}
	return c.launch("gptq_hessian_check", n*n, diag, bad, h, int32(n))
}

// GatherDamped fills the lower triangle of the n×n float64 a with the
// upper triangle of h in reversed processing order, add on its diagonal:
// a[r][s] = H[perm[n-1-r]][perm[n-1-s]], perm [n] int32, with a zero H_cc
// (a dead column) taken as 1. CholeskyInverse(inv, a, n) then makes L⁻¹,
// which ReverseFactor turns into the sweep's U.
func (c *Ctx) GatherDamped(a, h, perm Buffer, n int, add float64) error {
	if err := checkBytes("damped hessian", n, []namedBuffer{{"A", a, 8 * n * n}, {"H", h, 8 * n * n}, {"perm", perm, 4 * n}}); err != nil {
		return err
	}
	return c.launch("gptq_gather_damped", n*n, a, h, perm, int32(n), add)
}

// ReverseFactor writes the float32 n×n u with U[p][q] = inv[n-1-p][n-1-q]
// above and on the diagonal, zero below, and sets the int32 *bad to 1 when
// U does not fit float32 or has a diagonal entry that is not a positive
// normal float32; *bad is not cleared first.
func (c *Ctx) ReverseFactor(u, bad, inv Buffer, n int) error {
	if err := checkBytes("reversed factor", n, []namedBuffer{{"U", u, 4 * n * n}, {"flag", bad, 4}, {"inverse", inv, 8 * n * n}}); err != nil {
		return err
	}
	return c.launch("gptq_reverse_factor", n*n, u, bad, inv, int32(n))
}

type namedBuffer struct {
	name  string
	buf   Buffer
	bytes int
}

// checkBytes verifies that every buffer of an operation on n×n matrices
// holds its bytes.
func checkBytes(what string, n int, bufs []namedBuffer) error {
	if n <= 0 {
		return fmt.Errorf("%s of order %d", what, n)
	}
	for _, b := range bufs {
		if b.buf.Bytes() < b.bytes {
			return fmt.Errorf("%s of order %d: %s has %d bytes, want %d", what, n, b.name, b.buf.Bytes(), b.bytes)
		}
	}
	return nil
}

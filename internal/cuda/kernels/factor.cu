// GPTQ's factorization of the damped Hessian on the device (factor.go):
// H stays in the float64 Gram that accumulated it, and the float32 factor
// the sweep reads is made where it is used.

// Bounds of float32 as doubles: its largest finite value and its smallest
// positive normal one (2^-126).
#define FACTOR_FLT_MAX 3.40282346638528859811704183484516925440e+38
#define FACTOR_FLT_MIN_NORMAL 1.17549435082228750797e-38
#define FACTOR_DBL_MAX 1.7976931348623157e+308

// gptq_hessian_check copies the diagonal of the n×n row-major h into diag
// and sets *bad to 1 when an entry of its upper triangle (column >= row,
// the part a Gram keeps) is not finite.
extern "C" __global__ void gptq_hessian_check(double* diag, int* bad, const double* h, int n) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int r = (int)(i / n), c = (int)(i % n);
        if (c < r) {
            continue;
        }
        double v = h[i];
        if (!(fabs(v) <= FACTOR_DBL_MAX)) {
            *bad = 1;
        }
        if (c == r) {
            diag[r] = v;
        }
    }
}

// gptq_gather_damped fills the lower triangle (column <= row) of the n×n
// row-major a with H in reversed processing order plus add on the
// diagonal: a[r][s] = H[perm[n-1-r]][perm[n-1-s]], read from the upper
// triangle of h, and a[r][r] = H_cc + add, c = perm[n-1-r], a zero H_cc
// (a dead column) counting as 1. The upper triangle of a is not written.
extern "C" __global__ void gptq_gather_damped(double* a, const double* h, const int* perm, int n, double add) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int r = (int)(i / n), s = (int)(i % n);
        if (s > r) {
            continue;
        }
        int c = perm[n - 1 - r], d = perm[n - 1 - s];
        int lo = min(c, d), hi = max(c, d);
        double v = h[(long long)lo * n + hi];
        if (s == r) {
            v = (v == 0.0 ? 1.0 : v) + add;
        }
        a[i] = v;
    }
}

// gptq_reverse_factor writes U, the upper Cholesky factor of the damped
// H⁻¹ in processing order, as float32 to the n×n row-major u, from inv,
// which holds L⁻¹ (row-major lower triangle) for the damped H in reversed
// processing order: U[p][q] = inv[n-1-p][n-1-q] for q >= p, zero below.
// It sets *bad to 1 when an entry of U does not fit float32 or its
// diagonal is not a positive normal float32.
extern "C" __global__ void gptq_reverse_factor(float* u, int* bad, const double* inv, int n) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int p = (int)(i / n), q = (int)(i % n);
        float out = 0.0f;
        if (q >= p) {
            double v = inv[(long long)(n - 1 - p) * n + (n - 1 - q)];
            bool fits = q == p ? (v >= FACTOR_FLT_MIN_NORMAL && v <= FACTOR_FLT_MAX) : fabs(v) <= FACTOR_FLT_MAX;
            if (!fits) {
                *bad = 1;
            }
            out = (float)v;
        }
        u[i] = out;
    }
}

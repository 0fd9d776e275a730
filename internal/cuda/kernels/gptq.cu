// Kernels of qtk's GPU backend, compiled at run time by NVRTC for the
// device's architecture. Matrices are row-major unless said otherwise.

// fold_upper folds a float32 product g = xᵀx into the float64 running
// average h of a Hessian, on the upper triangle (column >= row) of the
// n×n row-major matrices: h = h·keep + scale·g.
extern "C" __global__ void fold_upper(double* h, const float* g, int n, double keep, double scale) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int r = (int)(i / n), c = (int)(i % n);
        if (c >= r) {
            h[i] = h[i] * keep + scale * (double)g[i];
        }
    }
}

// set_identity writes the n×n identity matrix to a.
extern "C" __global__ void set_identity(double* a, int n) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        a[i] = (i / n == i % n) ? 1.0 : 0.0;
    }
}

// zero_upper clears the strict upper triangle of the n×n row-major a
// (what cuSOLVER leaves there is not part of the factor).
extern "C" __global__ void zero_upper(double* a, int n) {
    long long total = (long long)n * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        if (i % n > i / n) {
            a[i] = 0.0;
        }
    }
}

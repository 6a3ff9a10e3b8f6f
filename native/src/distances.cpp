#include "distances.h"

#include <immintrin.h>

namespace sage {

namespace {

float l2sqr_scalar(const float* x, const float* y, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        const float a = x[i] - y[i], b = x[i + 1] - y[i + 1], c = x[i + 2] - y[i + 2], e = x[i + 3] - y[i + 3];
        s0 += a * a; s1 += b * b; s2 += c * c; s3 += e * e;
    }
    for (; i < d; ++i) { const float a = x[i] - y[i]; s0 += a * a; }
    return (s0 + s1) + (s2 + s3);
}

float inner_product_scalar(const float* x, const float* y, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += x[i] * y[i]; s1 += x[i + 1] * y[i + 1]; s2 += x[i + 2] * y[i + 2]; s3 += x[i + 3] * y[i + 3];
    }
    for (; i < d; ++i) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
    const __m128 lo = _mm256_castps256_ps128(v);
    const __m128 hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float l2sqr_avx2(const float* x, const float* y, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        const __m256 a = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        const __m256 b = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        acc0 = _mm256_fmadd_ps(a, a, acc0);
        acc1 = _mm256_fmadd_ps(b, b, acc1);
    }
    for (; i + 8 <= d; i += 8) {
        const __m256 a = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        acc0 = _mm256_fmadd_ps(a, a, acc0);
    }
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; ++i) { const float a = x[i] - y[i]; s += a * a; }
    return s;
}

__attribute__((target("avx2,fma"))) float inner_product_avx2(const float* x, const float* y, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; ++i) s += x[i] * y[i];
    return s;
}

template <bool kL2>
void batch4_scalar(const float* x, const float* y0, const float* y1, const float* y2, const float* y3, size_t d,
                   float* out) {
    const float* ys[4] = {y0, y1, y2, y3};
    for (int i = 0; i < 4; ++i) out[i] = kL2 ? l2sqr_scalar(x, ys[i], d) : inner_product_scalar(x, ys[i], d);
}

template <bool kL2>
__attribute__((target("avx2,fma"))) void batch4_avx2(const float* x, const float* y0, const float* y1,
                                                     const float* y2, const float* y3, size_t d, float* out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        const __m256 q = _mm256_loadu_ps(x + i);
        if (kL2) {
            const __m256 t0 = _mm256_sub_ps(q, _mm256_loadu_ps(y0 + i));
            const __m256 t1 = _mm256_sub_ps(q, _mm256_loadu_ps(y1 + i));
            const __m256 t2 = _mm256_sub_ps(q, _mm256_loadu_ps(y2 + i));
            const __m256 t3 = _mm256_sub_ps(q, _mm256_loadu_ps(y3 + i));
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            a1 = _mm256_fmadd_ps(t1, t1, a1);
            a2 = _mm256_fmadd_ps(t2, t2, a2);
            a3 = _mm256_fmadd_ps(t3, t3, a3);
        } else {
            a0 = _mm256_fmadd_ps(q, _mm256_loadu_ps(y0 + i), a0);
            a1 = _mm256_fmadd_ps(q, _mm256_loadu_ps(y1 + i), a1);
            a2 = _mm256_fmadd_ps(q, _mm256_loadu_ps(y2 + i), a2);
            a3 = _mm256_fmadd_ps(q, _mm256_loadu_ps(y3 + i), a3);
        }
    }
    out[0] = hsum256(a0);
    out[1] = hsum256(a1);
    out[2] = hsum256(a2);
    out[3] = hsum256(a3);
    const float* ys[4] = {y0, y1, y2, y3};
    for (; i < d; ++i) {
        for (int j = 0; j < 4; ++j) {
            const float t = kL2 ? x[i] - ys[j][i] : 0.0f;
            out[j] += kL2 ? t * t : x[i] * ys[j][i];
        }
    }
}

}  // namespace

bool has_avx2() {
    static const bool yes = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return yes;
}

DistanceFn l2sqr_kernel() { return has_avx2() ? &l2sqr_avx2 : &l2sqr_scalar; }
DistanceFn inner_product_kernel() { return has_avx2() ? &inner_product_avx2 : &inner_product_scalar; }
DistanceBatch4Fn l2sqr_batch4_kernel() { return has_avx2() ? &batch4_avx2<true> : &batch4_scalar<true>; }
DistanceBatch4Fn inner_product_batch4_kernel() {
    return has_avx2() ? &batch4_avx2<false> : &batch4_scalar<false>;
}
const char* kernel_isa() { return has_avx2() ? "avx2" : "scalar"; }

}  // namespace sage

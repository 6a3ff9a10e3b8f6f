#include "sq8.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "distances.h"

namespace sage {

namespace {

// Room beyond the trained range, as a fraction of it, for rows that come later.
constexpr float kMargin = 0.05f;

float scalar_distance(const Sq8Codes::Query& q, const uint8_t* c, size_t d) {
    float s = 0;
    if (q.l2) {
        for (size_t i = 0; i < d; ++i) {
            const float t = q.weight[i] * static_cast<float>(c[i]) - q.offset[i];
            s += t * t;
        }
        return s;
    }
    for (size_t i = 0; i < d; ++i) s += q.weight[i] * static_cast<float>(c[i]);
    return -(q.bias + s);
}

__attribute__((target("avx2,fma"))) inline __m256 load8(const uint8_t* c) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(c));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float avx2_distance(const Sq8Codes::Query& q, const uint8_t* c, size_t d) {
    __m256 acc = _mm256_setzero_ps();
    const float* w = q.weight.data();
    size_t i = 0;
    if (q.l2) {
        for (; i + 8 <= d; i += 8) {
            const __m256 t = _mm256_fmsub_ps(_mm256_loadu_ps(w + i), load8(c + i), _mm256_loadu_ps(q.offset.data() + i));
            acc = _mm256_fmadd_ps(t, t, acc);
        }
    } else {
        for (; i + 8 <= d; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), load8(c + i), acc);
    }
    float s = hsum(acc);
    for (; i < d; ++i) {
        if (q.l2) {
            const float e = w[i] * static_cast<float>(c[i]) - q.offset[i];
            s += e * e;
        } else {
            s += w[i] * static_cast<float>(c[i]);
        }
    }
    return q.l2 ? s : -(q.bias + s);
}

// Four codes against one query: the query's tables are loaded once per chunk of 8 components.
__attribute__((target("avx2,fma"))) void avx2_distance4(const Sq8Codes::Query& q, const uint8_t* const* c,
                                                        size_t d, float* out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    const float* w = q.weight.data();
    size_t i = 0;
    if (q.l2) {
        const float* r = q.offset.data();
        for (; i + 8 <= d; i += 8) {
            const __m256 wi = _mm256_loadu_ps(w + i), ri = _mm256_loadu_ps(r + i);
            const __m256 t0 = _mm256_fmsub_ps(wi, load8(c[0] + i), ri);
            const __m256 t1 = _mm256_fmsub_ps(wi, load8(c[1] + i), ri);
            const __m256 t2 = _mm256_fmsub_ps(wi, load8(c[2] + i), ri);
            const __m256 t3 = _mm256_fmsub_ps(wi, load8(c[3] + i), ri);
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            a1 = _mm256_fmadd_ps(t1, t1, a1);
            a2 = _mm256_fmadd_ps(t2, t2, a2);
            a3 = _mm256_fmadd_ps(t3, t3, a3);
        }
    } else {
        for (; i + 8 <= d; i += 8) {
            const __m256 wi = _mm256_loadu_ps(w + i);
            a0 = _mm256_fmadd_ps(wi, load8(c[0] + i), a0);
            a1 = _mm256_fmadd_ps(wi, load8(c[1] + i), a1);
            a2 = _mm256_fmadd_ps(wi, load8(c[2] + i), a2);
            a3 = _mm256_fmadd_ps(wi, load8(c[3] + i), a3);
        }
    }
    const float sums[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
    for (int j = 0; j < 4; ++j) {
        float s = sums[j];
        for (size_t t = i; t < d; ++t) {
            if (q.l2) {
                const float e = w[t] * static_cast<float>(c[j][t]) - q.offset[t];
                s += e * e;
            } else {
                s += w[t] * static_cast<float>(c[j][t]);
            }
        }
        out[j] = q.l2 ? s : -(q.bias + s);
    }
}

}  // namespace

void Sq8Codes::train(const float* x, size_t n) {
    clear();
    if (n == 0) return;
    lo_.assign(dim_, std::numeric_limits<float>::infinity());
    std::vector<float> hi(dim_, -std::numeric_limits<float>::infinity());
    for (size_t r = 0; r < n; ++r) {
        const float* row = x + r * dim_;
        for (size_t i = 0; i < dim_; ++i) {
            lo_[i] = std::min(lo_[i], row[i]);
            hi[i] = std::max(hi[i], row[i]);
        }
    }
    step_.resize(dim_);
    inv_step_.resize(dim_);
    for (size_t i = 0; i < dim_; ++i) {
        const float span = hi[i] - lo_[i];
        lo_[i] -= kMargin * span;
        const float step = span * (1 + 2 * kMargin) / 255.0f;
        // A constant dimension encodes as 0 and decodes back to lo.
        step_[i] = step > 0 ? step : 0.0f;
        inv_step_[i] = step > 0 ? 1.0f / step : 0.0f;
    }
    append(x, n);
}

size_t Sq8Codes::append(const float* x, size_t n) {
    if (!trained()) return 0;
    const size_t first = codes_.size();
    codes_.resize(first + n * dim_);
    uint8_t* out = codes_.data() + first;
    size_t clamped = 0;
    for (size_t j = 0; j < n * dim_; ++j) {
        const size_t i = j % dim_;
        const float level = std::nearbyint((x[j] - lo_[i]) * inv_step_[i]);
        if (level < 0.0f || level > 255.0f) ++clamped;
        out[j] = static_cast<uint8_t>(std::clamp(level, 0.0f, 255.0f));
    }
    return clamped;
}

void Sq8Codes::clear() {
    lo_.clear();
    step_.clear();
    inv_step_.clear();
    codes_.clear();
}

Sq8Codes::Query Sq8Codes::prepare(const float* q, bool l2) const {
    Query out;
    out.l2 = l2;
    out.weight.resize(dim_);
    if (l2) {
        out.offset.resize(dim_);
        for (size_t i = 0; i < dim_; ++i) {
            out.weight[i] = step_[i];
            out.offset[i] = q[i] - lo_[i];
        }
    } else {
        for (size_t i = 0; i < dim_; ++i) {
            out.weight[i] = q[i] * step_[i];
            out.bias += q[i] * lo_[i];
        }
    }
    return out;
}

float Sq8Codes::distance(const Query& query, const uint8_t* code) const {
    return has_avx2() ? avx2_distance(query, code, dim_) : scalar_distance(query, code, dim_);
}

void Sq8Codes::distance4(const Query& query, const uint8_t* c0, const uint8_t* c1, const uint8_t* c2,
                         const uint8_t* c3, float* out) const {
    const uint8_t* codes[4] = {c0, c1, c2, c3};
    if (has_avx2()) {
        avx2_distance4(query, codes, dim_, out);
        return;
    }
    for (int j = 0; j < 4; ++j) out[j] = scalar_distance(query, codes[j], dim_);
}

}  // namespace sage

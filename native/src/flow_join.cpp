#include "flow_join.h"

#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>

#include "distances.h"
#include "errors.h"

namespace sage::flow {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr size_t kRowBlock = 32;    // rows of `a` per AMX block (two 16-row tiles)
constexpr size_t kColChunk = 1024;  // columns of `b` scored before a selection pass

// --- CPU and kernel support for AMX ------------------------------------------------------------
bool cpu_has_amx_bf16() {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool amx_bf16 = edx & (1u << 22), amx_tile = edx & (1u << 24), avx512f = ebx & (1u << 16);
    if (!(amx_bf16 && amx_tile && avx512f)) return false;
    // The kernel grants the tile data state per process on request (Linux >= 5.16).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

bool amx_available() {
    static const bool available = cpu_has_amx_bf16();
    return available;
}

std::atomic<bool> g_amx_enabled{true};

bool use_amx() { return g_amx_enabled.load(std::memory_order_relaxed) && amx_available(); }

// --- bf16 operands -------------------------------------------------------------------------------
inline uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest even
    return static_cast<uint16_t>(u >> 16);
}

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

inline float from_bf16(uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Converts row x (dim floats) to bf16 through put(d, value); returns |x - bf16(x)| (float
// accumulation; Bounds adds slack for its rounding).
template <typename Put>
float convert_row(const float* x, size_t dim, Put put) {
    float r = 0.0f;
#pragma omp simd reduction(+ : r)
    for (size_t d = 0; d < dim; ++d) {
        const uint16_t h = to_bf16(x[d]);
        put(d, h);
        const float e = x[d] - from_bf16(h);
        r += e * e;
    }
    return std::sqrt(r);
}

// a as bf16 rows of dimp (multiple of 32) elements, rows padded to a multiple of kRowBlock;
// resid[i] = |a_i - bf16(a_i)|.
std::vector<uint16_t> pack_rows_bf16(const float* x, size_t n, size_t dim, size_t dimp, std::vector<float>& resid) {
    const size_t np = round_up(std::max<size_t>(n, 1), kRowBlock);
    std::vector<uint16_t> out(np * dimp, 0);
    resid.assign(n, 0.0f);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) {
        uint16_t* dst = out.data() + i * dimp;
        resid[i] = convert_row(x + i * dim, dim, [dst](size_t d, uint16_t h) { dst[d] = h; });
    }
    return out;
}

// b in AMX's B-tile layout: panels of 16 rows of b; inside a panel, for each pair of dimensions
// (2p, 2p+1), the 16 rows' two values side by side (64 bytes, one tile row).
std::vector<uint16_t> pack_panels_bf16(const float* x, size_t n, size_t dim, size_t dimp, std::vector<float>& resid) {
    const size_t panels = round_up(std::max<size_t>(n, 1), 32) / 16;
    const size_t pairs = dimp / 2;
    std::vector<uint16_t> out(panels * pairs * 32, 0);
    resid.assign(n, 0.0f);
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < panels; ++q) {
        uint16_t* panel = out.data() + q * pairs * 32;
        for (size_t r = 0; r < 16; ++r) {
            const size_t j = q * 16 + r;
            if (j >= n) break;
            resid[j] = convert_row(x + j * dim, dim,
                                   [panel, r](size_t d, uint16_t h) { panel[(d / 2) * 32 + r * 2 + (d & 1)] = h; });
        }
    }
    return out;
}

struct alignas(64) TileConfig {
    uint8_t palette_id = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"))) void amx_begin() {
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    // GCC's _tile_loadconfig tells the compiler it reads only 8 bytes (the stores above would be
    // dropped); name the whole configuration as the operand instead.
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
}

__attribute__((target("amx-tile,amx-bf16"))) void amx_end() { _tile_release(); }

// C (32 x 32 floats, row stride ldc) = A (32 bf16 rows, stride dimp) . B (two panels)^T.
__attribute__((target("amx-tile,amx-bf16"))) void amx_block(const uint16_t* a, const uint16_t* panel0,
                                                            const uint16_t* panel1, size_t dimp, float* c,
                                                            size_t ldc) {
    const size_t astride = dimp * sizeof(uint16_t);
    const uint16_t* a1 = a + 16 * dimp;
    // The tile intrinsics are asm statements without memory operands: fence the compiler so
    // the packed operands are written before the loads and `c` is read after the stores.
    __asm__ volatile("" ::: "memory");
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t kc = 0; kc < dimp / 32; ++kc) {
        _tile_loadd(4, a + kc * 32, astride);
        _tile_loadd(5, a1 + kc * 32, astride);
        _tile_loadd(6, panel0 + kc * 512, 64);
        _tile_loadd(7, panel1 + kc * 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    const size_t cstride = ldc * sizeof(float);
    _tile_stored(0, c, cstride);
    _tile_stored(1, c + 16, cstride);
    _tile_stored(2, c + 16 * ldc, cstride);
    _tile_stored(3, c + 16 * ldc + 16, cstride);
    __asm__ volatile("" ::: "memory");
}

// --- the two sides of a join -----------------------------------------------------------------------
// Rows as the exact kernels see them (cosine: normalised copies), their norms and, for l2,
// half their squared norms (the ranking key of b is a.b - |b|^2/2, higher is better).
struct Side {
    const float* rows = nullptr;
    std::vector<float> normalised;
    std::vector<float> norm;
    std::vector<float> half_sq;

    Side(const float* x, size_t n, size_t dim, Metric metric) : norm(n), half_sq(n, 0.0f) {
        const DistanceFn ip = inner_product_kernel();
        rows = x;
        if (metric == Metric::Cosine) {
            normalised.assign(x, x + n * dim);
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; ++i) {
                float* v = normalised.data() + i * dim;
                const float s = std::sqrt(ip(v, v, dim));
                if (s > 0) {
                    for (size_t d = 0; d < dim; ++d) v[d] /= s;
                }
            }
            rows = normalised.data();
        }
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; ++i) {
            const float sq = ip(rows + i * dim, rows + i * dim, dim);
            norm[i] = std::sqrt(sq);
            if (metric == Metric::L2) half_sq[i] = 0.5f * sq;
        }
    }
};

// What one row of `a` keeps while the columns of `b` stream by. Top-k mode: a min-heap of the k
// best lower bounds (its top is the running cut) and every column whose upper bound reaches the
// cut. Range mode: the cut is fixed. With exact scores both bounds coincide.
struct RowSelection {
    size_t k = 0;  // 0: range mode
    float cut = -kInf;
    size_t limit = 64;  // candidates kept before dropping those below the cut
    std::vector<float> lower;  // the k best lower bounds so far
    std::vector<std::pair<float, int32_t>> candidates;  // (upper bound, column)

    void reset(size_t k_, float cut_) {
        k = k_;
        cut = cut_;
        limit = std::max<size_t>(64, 8 * k_);
        lower.clear();
        candidates.clear();
    }

    void offer(float key, float err, int32_t j) {
        const float ub = key + err;
        if (ub < cut) return;
        if (k > 0) {
            const float lb = key - err;
            if (lower.size() < k) {
                lower.push_back(lb);
                if (lower.size() == k) {
                    if (k > kLinearK) std::make_heap(lower.begin(), lower.end(), std::greater<float>());
                    refresh_cut();
                }
            } else if (lb > cut) {
                if (k <= kLinearK) {
                    lower[min_at] = lb;
                } else {
                    std::pop_heap(lower.begin(), lower.end(), std::greater<float>());
                    lower.back() = lb;
                    std::push_heap(lower.begin(), lower.end(), std::greater<float>());
                }
                refresh_cut();
            }
            if (candidates.size() >= limit) {
                prune();
                if (candidates.size() >= limit / 2) limit *= 2;  // ties: grow instead of re-pruning
            }
        }
        candidates.emplace_back(ub, j);
    }

    // Small k: the k lower bounds in a plain array, the smallest found by a scan (cheaper than
    // a heap's mispredicted branches); larger k: a min-heap.
    static constexpr size_t kLinearK = 64;
    size_t min_at = 0;

    void refresh_cut() {
        if (k > kLinearK) {
            cut = lower.front();
            return;
        }
        size_t at = 0;
        float m = lower[0];
        for (size_t t = 1; t < lower.size(); ++t) {
            if (lower[t] < m) {
                m = lower[t];
                at = t;
            }
        }
        min_at = at;
        cut = m;
    }

    void prune() {
        const float c = cut;
        candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                        [c](const std::pair<float, int32_t>& e) { return e.first < c; }),
                         candidates.end());
    }

    // One chunk of scores: key = s[j] - half_sq[j], error bound = a_err * b_err[j].
    void scan(const float* s, size_t count, int32_t j0, const float* half_sq, const float* b_err, float a_err) {
        for (size_t j = 0; j < count; ++j) offer(s[j] - half_sq[j], a_err * b_err[j], j0 + static_cast<int32_t>(j));
    }

    // The same with AVX-512. Without half_sq (ip, cosine) a column is looked at only when its
    // score reaches cut - a_err * b_max (b_max: the chunk's largest b_err): one compare per 16.
    __attribute__((target("avx512f"))) void scan_avx512(const float* s, size_t count, int32_t j0,
                                                        const float* half_sq, const float* b_err, float a_err,
                                                        float b_max) {
        size_t j = 0;
        if (half_sq == nullptr) {
            const float slack = a_err * b_max;
            for (; j + 16 <= count; j += 16) {
                __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), _mm512_set1_ps(cut - slack), _CMP_GE_OQ);
                while (m) {
                    const int t = __builtin_ctz(m);
                    m &= m - 1;
                    offer(s[j + t], a_err * b_err[j + t], j0 + static_cast<int32_t>(j + t));
                }
            }
            for (; j < count; ++j) offer(s[j], a_err * b_err[j], j0 + static_cast<int32_t>(j));
            return;
        }
        const __m512 ae = _mm512_set1_ps(a_err);
        for (; j + 16 <= count; j += 16) {
            const __m512 key = _mm512_sub_ps(_mm512_loadu_ps(s + j), _mm512_loadu_ps(half_sq + j));
            const __m512 err = _mm512_mul_ps(ae, _mm512_loadu_ps(b_err + j));
            __mmask16 m = _mm512_cmp_ps_mask(_mm512_add_ps(key, err), _mm512_set1_ps(cut), _CMP_GE_OQ);
            while (m) {
                const int t = __builtin_ctz(m);
                m &= m - 1;
                offer(s[j + t] - half_sq[j + t], a_err * b_err[j + t], j0 + static_cast<int32_t>(j + t));
            }
        }
        scan(s + j, count - j, j0 + static_cast<int32_t>(j), half_sq + j, b_err + j, a_err);
    }
};

// Error bounds of the keys, err(i, j) = a_err[i] * b_err[j] >= |key - exact key|.
// With a = a' + da, b = b' + db (a', b' the bf16 roundings, |da| <= rho |a| for every row of a):
//   |a.b - a'.b'| <= |da||b| + |a||db| + |da||db| <= |a| (rho |b| + (1 + rho) |db|),
// plus float32 accumulation of the tile (<= g |a||b|, g = dimp 2^-23, twice the usual bound) and
// the float32 rounding of the dot product and, for l2, of a.b - |b|^2/2: c32 (|a||b| + |b|^2).
// For l2 a_err is the largest |a| (m) and the |b|^2 term is divided by it. Float32 kernels: no
// bf16 terms.
struct Bounds {
    std::vector<float> a_err, b_err;
    Bounds(const Side& A, size_t na, const Side& B, size_t nb, size_t dim, bool l2, const std::vector<float>* a_res,
           const std::vector<float>* b_res)
        : a_err(na), b_err(round_up(std::max<size_t>(nb, 1), 32), 0.0f) {
        const float dimp = static_cast<float>(round_up(dim, 32));
        const bool bf16 = a_res != nullptr;
        const float g = bf16 ? 1.01f * dimp * std::ldexp(1.0f, -23) : 0.0f;
        const float c32 = (dimp + 4.0f) * std::ldexp(1.0f, -23);
        float m = 0.0f, rho = 0.0f;
        for (size_t i = 0; i < na; ++i) {
            m = std::max(m, A.norm[i]);
            if (bf16 && A.norm[i] > 0.0f) rho = std::max(rho, (*a_res)[i] / A.norm[i]);
        }
        rho *= 1.01f;  // the residuals' own float rounding
        if (!(m > 0.0f)) m = 1.0f;
        for (size_t i = 0; i < na; ++i) a_err[i] = l2 ? m : A.norm[i];
        for (size_t j = 0; j < nb; ++j) {
            const float bn = B.norm[j];
            const float db = bf16 ? 1.01f * (*b_res)[j] : 0.0f;
            b_err[j] = rho * bn + (1.0f + rho) * db + (g + c32) * bn + (l2 ? c32 * bn * bn / m : 0.0f);
        }
    }
};

// The largest error factor of b in each chunk of kColChunk columns.
std::vector<float> chunk_maxima(const std::vector<float>& b_err, size_t nb) {
    std::vector<float> out((nb + kColChunk - 1) / kColChunk, 0.0f);
    for (size_t j = 0; j < nb; ++j) out[j / kColChunk] = std::max(out[j / kColChunk], b_err[j]);
    return out;
}

// Scores every pair of (a, b) and feeds each row's selection; `finish(i, selection)` runs once
// per row of a after all of b, on the thread that owns the row.
template <typename Finish>
void score_pairs(const Side& A, size_t na, const Side& B, size_t nb, size_t dim, size_t k, const float* cuts,
                 bool l2, Finish finish) {
    if (na == 0) return;
    if (use_amx()) {
        const size_t dimp = round_up(dim, 32);
        std::vector<float> a_res, b_res;
        const auto abf = pack_rows_bf16(A.rows, na, dim, dimp, a_res);
        const auto bbf = pack_panels_bf16(B.rows, nb, dim, dimp, b_res);
        const Bounds bounds(A, na, B, nb, dim, l2, &a_res, &b_res);
        const std::vector<float>& b_err = bounds.b_err;
        const std::vector<float> b_max = chunk_maxima(b_err, nb);
        const size_t blocks = (na + kRowBlock - 1) / kRowBlock;
        const size_t pairs = dimp / 2;
#pragma omp parallel
        {
            amx_begin();
            std::vector<float> tile(kRowBlock * kColChunk);
            std::vector<RowSelection> sel(kRowBlock);
#pragma omp for schedule(dynamic)
            for (size_t blk = 0; blk < blocks; ++blk) {
                const size_t i0 = blk * kRowBlock;
                const size_t rows = std::min(kRowBlock, na - i0);
                for (size_t r = 0; r < rows; ++r) sel[r].reset(k, cuts ? cuts[i0 + r] : -kInf);
                for (size_t j0 = 0; j0 < nb; j0 += kColChunk) {
                    const size_t cols = std::min(kColChunk, nb - j0);
                    for (size_t jb = 0; jb < cols; jb += 32) {
                        const size_t q = (j0 + jb) / 16;
                        amx_block(abf.data() + i0 * dimp, bbf.data() + q * pairs * 32,
                                  bbf.data() + (q + 1) * pairs * 32, dimp, tile.data() + jb, kColChunk);
                    }
                    for (size_t r = 0; r < rows; ++r) {
                        sel[r].scan_avx512(tile.data() + r * kColChunk, cols, static_cast<int32_t>(j0),
                                           l2 ? B.half_sq.data() + j0 : nullptr, b_err.data() + j0,
                                           bounds.a_err[i0 + r], b_max[j0 / kColChunk]);
                    }
                }
                for (size_t r = 0; r < rows; ++r) finish(i0 + r, sel[r]);
            }
            amx_end();
        }
        return;
    }
    // The collection's float32 kernels, four rows of b per call.
    const Bounds bounds(A, na, B, nb, dim, l2, nullptr, nullptr);
    const std::vector<float>& b_err = bounds.b_err;
    const DistanceBatch4Fn ip4 = inner_product_batch4_kernel();
    const DistanceFn ip = inner_product_kernel();
#pragma omp parallel
    {
        std::vector<float> row(kColChunk);
        RowSelection sel;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < na; ++i) {
            const float* x = A.rows + i * dim;
            sel.reset(k, cuts ? cuts[i] : -kInf);
            for (size_t j0 = 0; j0 < nb; j0 += kColChunk) {
                const size_t cols = std::min(kColChunk, nb - j0);
                const float* y = B.rows + j0 * dim;
                size_t j = 0;
                for (; j + 4 <= cols; j += 4) {
                    ip4(x, y + j * dim, y + (j + 1) * dim, y + (j + 2) * dim, y + (j + 3) * dim, dim, row.data() + j);
                }
                for (; j < cols; ++j) row[j] = ip(x, y + j * dim, dim);
                sel.scan(row.data(), cols, static_cast<int32_t>(j0), B.half_sq.data() + j0, b_err.data() + j0,
                         bounds.a_err[i]);
            }
            finish(i, sel);
        }
    }
}

void check_dims(size_t dim, size_t na, size_t nb) {
    if (dim == 0) throw InvalidArgument("vectors must have at least one dimension");
    if (dim > kMaxDim) throw InvalidArgument("dimension " + std::to_string(dim) + " exceeds the maximum " + std::to_string(kMaxDim));
    if (nb > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        throw InvalidArgument("the right window holds more than 2^31 vectors");
    }
    (void)na;
}

// Runs f with OpenMP limited to `threads` (<= 0: unchanged) on this thread.
template <typename F>
void with_threads(int threads, F f) {
    const int before = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads);
    try {
        f();
    } catch (...) {
        omp_set_num_threads(before);
        throw;
    }
    omp_set_num_threads(before);
}

// Exact score of a pair as the collection reports it.
inline float exact_score(Metric metric, const float* x, const float* y, size_t dim) {
    return metric == Metric::L2 ? l2sqr_kernel()(x, y, dim) : inner_product_kernel()(x, y, dim);
}

// Exact scores of the candidates' pairs as (key, column), key lower-is-better (l2: the
// distance, else the negated similarity). The candidates' rows of b are scattered, so each is
// prefetched a few candidates ahead.
std::vector<std::pair<float, int32_t>> rescore(Metric metric, const float* x, const float* rows, size_t dim,
                                               const std::vector<std::pair<float, int32_t>>& candidates) {
    constexpr size_t kAhead = 4;
    const size_t n = candidates.size();
    const auto prefetch = [&](size_t t) {
        const char* p = reinterpret_cast<const char*>(rows + static_cast<size_t>(candidates[t].second) * dim);
        for (size_t off = 0; off < dim * sizeof(float); off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
    };
    for (size_t t = 0; t < std::min(kAhead, n); ++t) prefetch(t);
    std::vector<std::pair<float, int32_t>> out;
    out.reserve(n);
    const bool lower_better = metric == Metric::L2;
    for (size_t t = 0; t < n; ++t) {
        if (t + kAhead < n) prefetch(t + kAhead);
        const int32_t j = candidates[t].second;
        const float s = exact_score(metric, x, rows + static_cast<size_t>(j) * dim, dim);
        out.emplace_back(lower_better ? s : -s, j);
    }
    return out;
}

}  // namespace

const char* join_isa() { return use_amx() ? "amx-bf16" : kernel_isa(); }

void set_amx_enabled(bool enabled) { g_amx_enabled.store(enabled); }

void knn_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric, size_t k,
              int threads, int64_t* labels, float* scores) {
    check_dims(dim, na, nb);
    if (k == 0) throw InvalidArgument("k must be >= 1");
    with_threads(threads, [&] {
        std::fill(labels, labels + na * k, -1);
        std::fill(scores, scores + na * k, std::nanf(""));
        if (nb == 0 || na == 0) return;
        const Side A(a, na, dim, metric), B(b, nb, dim, metric);
        const bool lower_better = metric == Metric::L2;
        score_pairs(A, na, B, nb, dim, k, nullptr, lower_better, [&](size_t i, RowSelection& sel) {
            // Every column that can still be among the k best: score it exactly, keep the k best.
            if (sel.lower.size() < sel.k) sel.cut = -kInf;
            sel.prune();
            auto exact = rescore(metric, A.rows + i * dim, B.rows, dim, sel.candidates);
            const size_t keep = std::min(k, exact.size());
            std::partial_sort(exact.begin(), exact.begin() + keep, exact.end());
            for (size_t t = 0; t < keep; ++t) {
                labels[i * k + t] = exact[t].second;
                scores[i * k + t] = lower_better ? exact[t].first : -exact[t].first;
            }
        });
    });
}

Pairs range_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric, float threshold,
                 int threads) {
    check_dims(dim, na, nb);
    if (std::isnan(threshold)) throw InvalidArgument("threshold must be a number, got NaN");
    Pairs out;
    with_threads(threads, [&] {
        if (nb == 0 || na == 0) return;
        const Side A(a, na, dim, metric), B(b, nb, dim, metric);
        const bool lower_better = metric == Metric::L2;
        // In key terms (a.b - |b|^2/2 for l2): l2 distance <= t  <=>  key >= (|a|^2 - t) / 2.
        std::vector<float> cuts(na);
        for (size_t i = 0; i < na; ++i) {
            cuts[i] = lower_better ? 0.5f * (A.norm[i] * A.norm[i] - threshold) : threshold;
            // Slack for the float32 rounding between the key and the exact distance.
            cuts[i] -= 1e-5f * (1.0f + std::fabs(cuts[i]));
        }
        std::vector<std::vector<std::pair<float, int32_t>>> rows(na);
        score_pairs(A, na, B, nb, dim, 0, cuts.data(), lower_better, [&](size_t i, RowSelection& sel) {
            auto& hits = rows[i];
            for (const auto& [key, j] : rescore(metric, A.rows + i * dim, B.rows, dim, sel.candidates)) {
                if (lower_better ? key <= threshold : -key >= threshold) hits.emplace_back(key, j);
            }
            std::sort(hits.begin(), hits.end());
        });
        size_t total = 0;
        for (const auto& r : rows) total += r.size();
        out.left.reserve(total);
        out.right.reserve(total);
        out.scores.reserve(total);
        for (size_t i = 0; i < na; ++i) {
            for (const auto& [s, j] : rows[i]) {
                out.left.push_back(static_cast<int64_t>(i));
                out.right.push_back(j);
                out.scores.push_back(lower_better ? s : -s);
            }
        }
    });
    return out;
}

void index_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric, size_t k,
                const IndexSpec& spec, int threads, int64_t* labels, float* scores) {
    check_dims(dim, na, nb);
    if (k == 0) throw InvalidArgument("k must be >= 1");
    if (spec.type == IndexSpec::Type::IVF) throw InvalidArgument("index_join takes an hnsw or flat index, not ivf");
    spec.validate_for_dim(dim);
    with_threads(threads, [&] {
        std::fill(labels, labels + na * k, -1);
        std::fill(scores, scores + na * k, std::nanf(""));
        if (nb == 0 || na == 0) return;
        VectorIndex index(dim, metric, spec);
        index.append(b, nb);
        index.index_pending(nb);
        const auto prepared = index.prepare_queries(a, na);
        index.search(prepared ? prepared.get() : a, na, k, nullptr, nb, labels, scores);
    });
}

void centroid(const float* x, size_t n, size_t dim, float* out) {
    std::vector<double> acc(dim, 0.0);
    for (size_t i = 0; i < n; ++i) {
        const float* v = x + i * dim;
        for (size_t d = 0; d < dim; ++d) acc[d] += v[d];
    }
    for (size_t d = 0; d < dim; ++d) out[d] = n ? static_cast<float>(acc[d] / static_cast<double>(n)) : 0.0f;
}

}  // namespace sage::flow

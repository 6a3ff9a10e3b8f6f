// An allocator for the large arrays a graph walk reads at random (vectors, codes): blocks of
// 2 MiB and more are mapped on 2 MiB boundaries and marked for transparent huge pages, so a
// query's scattered reads cost far fewer TLB misses. Where the kernel declines (THP off), the
// memory is ordinary pages and nothing else changes.
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace sage {

inline constexpr size_t kHugePage = size_t{2} << 20;

inline void* huge_page_alloc(size_t bytes) {
    if (bytes < kHugePage) {
        void* p = std::malloc(bytes ? bytes : 1);
        if (!p) throw std::bad_alloc();
        return p;
    }
    const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
    void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > base) ::munmap(raw, aligned - base);
    const uintptr_t end = aligned + size;
    const uintptr_t raw_end = base + size + kHugePage;
    if (raw_end > end) ::munmap(reinterpret_cast<void*>(end), raw_end - end);
    ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(aligned);
}

inline void huge_page_free(void* p, size_t bytes) noexcept {
    if (!p) return;
    if (bytes < kHugePage) {
        std::free(p);
        return;
    }
    ::munmap(p, (bytes + kHugePage - 1) / kHugePage * kHugePage);
}

template <class T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
    T* allocate(size_t n) { return static_cast<T*>(huge_page_alloc(n * sizeof(T))); }
    void deallocate(T* p, size_t n) noexcept { huge_page_free(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const HugePageAllocator<U>&) const noexcept { return false; }
};

}  // namespace sage

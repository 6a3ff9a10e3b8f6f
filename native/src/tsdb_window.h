// Window aggregates over time-ordered points: tumbling, sliding and session windows with
// SUM/AVG/MIN/MAX/COUNT/FIRST/LAST/STDDEV (population) and percentiles (linear between ranks,
// as numpy's default), and interpolation of empty tumbling/sliding windows.
//   tumbling: windows [k*size, (k+1)*size) (aligned to the epoch);
//   sliding:  windows [k*slide, k*slide + size), every window holding at least one point;
//   session:  a window per run of points whose gaps are <= gap, [first, last + gap).
// Empty fixed windows between the query bounds (or the data's first and last window when the
// bounds are open) are filled by the interpolation: none (left out), zero, forward (previous
// window's value), backward (next window's value) or linear (between both; left out at the
// edges). A filled window has count 0. Bad parameters throw InvalidArgument naming the field.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sage::tsdb {

enum class Agg { Sum, Avg, Min, Max, Count, First, Last, Stddev, Percentile };
enum class WindowKind { Tumbling, Sliding, Session };
enum class Interp { None, Linear, Forward, Backward, Zero };

Agg parse_agg(const std::string& name);
WindowKind parse_window(const std::string& name);
Interp parse_interp(const std::string& name);

struct WindowSpec {
    WindowKind kind = WindowKind::Tumbling;
    int64_t size = 0;    // tumbling and sliding window length (ms)
    int64_t slide = 0;   // sliding step (ms); 0 = size
    int64_t gap = 0;     // session gap (ms)
    Agg agg = Agg::Avg;
    double percentile = 50.0;  // for Agg::Percentile, 0..100
    Interp interp = Interp::None;
    void validate() const;
};

struct Windows {
    std::vector<int64_t> start, end;
    std::vector<double> value;
    std::vector<int64_t> count;
    size_t size() const { return start.size(); }
};

// A run of sorted points (one chunk's slice); the input is a list of runs in time order.
struct Run {
    const int64_t* ts;
    const double* val;
    size_t n;
};

// Aggregates sorted runs. start/end bound the grid of fixed windows (INT64_MIN / INT64_MAX:
// the data's extent). limit > 0 keeps the first `limit` windows. max_windows bounds the grid.
Windows aggregate(const std::vector<Run>& runs, const WindowSpec& spec, int64_t start, int64_t end,
                  size_t limit, size_t max_windows = 10'000'000);

// One aggregate over values (in time order, for FIRST/LAST).
double aggregate_values(const double* v, size_t n, Agg agg, double percentile);

}  // namespace sage::tsdb

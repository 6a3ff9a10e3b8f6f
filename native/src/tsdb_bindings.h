// Registers the time-series core's classes (TimeSeriesDB, StreamJoin, window_aggregate_arrays)
// into the sage_native module (tsdb_bindings.cpp).
#pragma once
#include <pybind11/pybind11.h>

void register_tsdb(pybind11::module_& m);

// Registers the sage_flow operators as the submodule sage_native.flow (flow_bindings.cpp).
#pragma once
#include <pybind11/pybind11.h>

namespace sage {
void register_flow(pybind11::module_& parent);
}

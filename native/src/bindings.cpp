#include <pybind11/pybind11.h>
PYBIND11_MODULE(sage_native, m) { m.attr("__version__") = "0.0.0"; }

// Error kinds the core raises; the binding maps each to a distinct Python exception
// (ValueError, FileNotFoundError, FileExistsError, OSError) so callers can tell them apart.
#pragma once
#include <stdexcept>
#include <string>

namespace sage {

// Bad input: the caller must change the request. Nothing was modified.
struct InvalidArgument : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The collection directory does not exist (open).
struct NotFound : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The collection directory already exists (create).
struct AlreadyExists : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The file system refused a read or write.
struct IoError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace sage

#pragma once
// The library's version, as the project's CMake declares it ("0.1.0").

#include <string_view>

namespace pgexport {

std::string_view version();

} // namespace pgexport

#pragma once
// Files embedded in the binary at build time from http/web/: the web page and the OpenAPI document.

#include <optional>
#include <string_view>

namespace pgexport::http {

struct static_file {
    std::string_view content_type;
    std::string_view content;
};

// The file served at `path` ("/" is index.html), or nullopt.
std::optional<static_file> find_static_file(std::string_view path);

// The OpenAPI 3 description of the API.
std::string_view openapi_document();

} // namespace pgexport::http

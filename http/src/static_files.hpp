#pragma once
// Files embedded in the binary at build time from http/web/: the web page and the OpenAPI document.

#include <pgexport/engine.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

struct static_file {
    std::string_view content_type;
    std::string_view content;
};

// The file served at `path` ("/" is index.html), or nullopt.
std::optional<static_file> find_static_file(std::string_view path);

// The page's Content-Security-Policy: its own scripts, styles and images only, never framed; fetches to
// this server and to `storage_origin` (a download's redirect to object storage; nullopt: none).
std::string page_content_security_policy(const std::optional<std::string>& storage_origin);

// Where downloads are redirected to with --storage s3:// (its endpoint, or AWS's bucket host); nullopt
// without object storage.
std::optional<std::string> storage_origin(const std::optional<engine::s3_storage_config>& s3);

// The OpenAPI 3 description of the API.
std::string_view openapi_document();

} // namespace pgexport::http

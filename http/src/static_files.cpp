#include "static_files.hpp"

#include <cstddef>

namespace pgexport::http {

namespace detail {
struct embedded_file {
    std::string_view path;
    std::string_view content;
};
extern const embedded_file embedded_files[];
extern const std::size_t embedded_file_count;
} // namespace detail

namespace {

std::string_view content_type_for(std::string_view path) {
    auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
    if (ends(".html"))
        return "text/html; charset=utf-8";
    if (ends(".js"))
        return "text/javascript; charset=utf-8";
    if (ends(".css"))
        return "text/css; charset=utf-8";
    if (ends(".json"))
        return "application/json";
    if (ends(".svg"))
        return "image/svg+xml";
    if (ends(".png"))
        return "image/png";
    return "application/octet-stream";
}

} // namespace

std::optional<static_file> find_static_file(std::string_view path) {
    if (path == "/")
        path = "/index.html";
    for (std::size_t i = 0; i < detail::embedded_file_count; ++i)
        if (detail::embedded_files[i].path == path)
            return static_file{content_type_for(path), detail::embedded_files[i].content};
    return std::nullopt;
}

std::string page_content_security_policy(const std::optional<std::string>& storage_origin) {
    std::string csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                      "form-action 'self'; frame-ancestors 'none'; connect-src 'self'";
    if (storage_origin)
        csp += " " + *storage_origin;
    return csp;
}

std::optional<std::string> storage_origin(const std::optional<engine::s3_storage_config>& s3) {
    if (!s3)
        return std::nullopt;
    if (s3->endpoint.empty())
        return "https://" + s3->bucket + ".s3." + s3->region + ".amazonaws.com";
    const auto scheme_end = s3->endpoint.find("://");
    const auto path = s3->endpoint.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    return s3->endpoint.substr(0, path);
}

std::string_view openapi_document() {
    for (std::size_t i = 0; i < detail::embedded_file_count; ++i)
        if (detail::embedded_files[i].path == "/openapi.json")
            return detail::embedded_files[i].content;
    return "{}";
}

} // namespace pgexport::http

#include "client_view.hpp"

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace pgexport::http {

namespace {

void replace_all(std::string& text, std::string_view what, std::string_view with) {
    if (what.empty())
        return;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
        text.replace(at, what.size(), with);
}

// libpq names the server it could not reach: `connection to server at "db.internal" (10.0.0.5), port 5432
// failed: …` or `connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: …`.
void hide_database_address(std::string& text) {
    constexpr std::string_view start = "connection to server ";
    constexpr std::string_view end = " failed";
    for (auto at = text.find(start); at != std::string::npos; at = text.find(start, at + 1)) {
        const auto stop = text.find(end, at + start.size());
        if (stop == std::string::npos)
            return;
        text.replace(at, stop - at, "connection to the database server");
    }
}

} // namespace

client_view make_client_view(const std::string& data_dir, const std::string& storage_endpoint) {
    client_view v;
    auto add_dir = [&](std::string dir) {
        if (dir.empty())
            return;
        while (dir.size() > 1 && dir.back() == '/')
            dir.pop_back();
        v.replacements.emplace_back(dir + "/", "");
    };
    add_dir(data_dir);
    std::error_code ec;
    if (auto absolute = fs::absolute(data_dir, ec); !ec)
        add_dir(absolute.lexically_normal().string());
    if (!storage_endpoint.empty())
        v.replacements.emplace_back(storage_endpoint, "the object storage");
    // Longest first: the absolute directory before a relative one that is its tail.
    std::sort(v.replacements.begin(), v.replacements.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return v;
}

std::string shown_file_path(std::string_view file_path) {
    if (file_path.starts_with("s3://"))
        return std::string(file_path);
    return fs::path(file_path).filename().string();
}

std::string shown_message(std::string_view text, const client_view& view) {
    std::string out(text);
    for (const auto& [what, with] : view.replacements)
        replace_all(out, what, with);
    hide_database_address(out);
    return out;
}

} // namespace pgexport::http

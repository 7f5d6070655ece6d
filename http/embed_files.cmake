# Writes OUTPUT, a C++ file that embeds FILES (from DIR) for static_files.hpp.
string(REPLACE "|" ";" FILES "${FILES}")
set(entries "")
foreach(file IN LISTS FILES)
    file(RELATIVE_PATH rel "${DIR}" "${file}")
    file(READ "${file}" hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," chars "${hex}")
    string(APPEND entries "    {\"/${rel}\", [] { static constexpr char text[] = {${chars}}; return std::string_view{text, sizeof text}; }()},\n")
endforeach()
file(WRITE "${OUTPUT}" "// Generated from http/web/ by http/embed_files.cmake; do not edit.
#include <string_view>
#include <utility>

namespace pgexport::http::detail {

struct embedded_file {
    std::string_view path;
    std::string_view content;
};

extern const embedded_file embedded_files[] = {
${entries}};
extern const std::size_t embedded_file_count = sizeof embedded_files / sizeof embedded_files[0];

} // namespace pgexport::http::detail
")

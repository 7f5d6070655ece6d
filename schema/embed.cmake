# Writes OUTPUT, a C++ file defining pgexport::engine::detail::embedded_migrations() from FILES.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
foreach(file IN LISTS FILES)
    get_filename_component(name "${file}" NAME_WE)
    string(SUBSTRING "${name}" 0 3 version)
    string(SUBSTRING "${name}" 4 -1 label)
    file(READ "${file}" hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," chars "${hex}")
    math(EXPR version_number "1${version} - 1000")
    string(APPEND body "    {${version_number}, \"${label}\", std::string_view{[] { static constexpr char text[] = {${chars}}; return std::string_view{text, sizeof text}; }()}},\n")
endforeach()
file(WRITE "${OUTPUT}" "// Generated from schema/*.sql by schema/embed.cmake; do not edit.
#include <pgexport/migrations.hpp>

namespace pgexport::engine {

std::span<const migration> embedded_migrations() {
    static const migration all[] = {
${body}    };
    return all;
}

} // namespace pgexport::engine
")

#pragma once
// Small text helpers of header and query values. Pure.

#include <string_view>

namespace pgexport::http {

// `s` without the blanks (spaces, tabs) around it: RFC 9110's optional whitespace.
inline std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace pgexport::http

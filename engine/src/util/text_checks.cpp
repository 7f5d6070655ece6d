#include "util/text_checks.hpp"

#include <pgexport/request.hpp>

#include <cctype>
#include <cstdint>

namespace pgexport::engine {

namespace detail {

problem invalid(std::string message) {
    return {errc::invalid_request, std::move(message)};
}

// PostgreSQL text cannot hold NUL, and everything must be UTF-8.
std::optional<problem> check_text(std::string_view text, std::string_view what) {
    if (text.find('\0') != std::string_view::npos)
        return invalid(std::string(what) + " contains a NUL character, which PostgreSQL text cannot hold");
    if (!is_valid_utf8(text))
        return invalid(std::string(what) + " is not valid UTF-8");
    return std::nullopt;
}

std::optional<std::string> normalize_job_id(std::string_view id) {
    if (id.size() != 36)
        return std::nullopt;
    std::string out(id);
    for (std::size_t i = 0; i < out.size(); ++i) {
        char& c = out[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return std::nullopt;
        } else if (std::isxdigit(static_cast<unsigned char>(c))) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            return std::nullopt;
        }
    }
    return out;
}

} // namespace detail

namespace {

// The length of the well-formed UTF-8 sequence at p, or 0 when there is none.
std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
    unsigned char c = *p;
    if (c < 0x80)
        return 1;
    int extra;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        extra = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        extra = 2;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        extra = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (end - p <= extra)
        return 0;
    for (int i = 1; i <= extra; ++i) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    constexpr std::uint32_t min_for[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return static_cast<std::size_t>(extra) + 1;
}

} // namespace

bool is_valid_utf8(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const std::size_t n = utf8_sequence(p, end);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* p = begin;
    const auto* end = p + text.size();
    while (p < end) {
        const std::size_t n = utf8_sequence(p, end);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++p;
        } else {
            out.append(reinterpret_cast<const char*>(p), n);
            p += n;
        }
    }
    return out;
}

} // namespace pgexport::engine

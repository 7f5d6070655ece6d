#include "sse_parser.hpp"

namespace pgexport::cli {

std::vector<sse_message> sse_parser::feed(std::string_view bytes) {
    std::vector<sse_message> out;
    for (const char c : bytes) {
        if (c == '\n' && after_cr_) {
            after_cr_ = false;
            continue;
        }
        after_cr_ = c == '\r';
        if (c == '\r' || c == '\n')
            end_line(out);
        else
            line_ += c;
    }
    return out;
}

void sse_parser::end_line(std::vector<sse_message>& out) {
    struct clear_line {
        std::string& line;
        ~clear_line() { line.clear(); }
    } clear{line_};
    const std::string_view line = line_;
    if (line.empty()) {
        // A blank line dispatches the event, if it has data (WHATWG: an event without data is dropped).
        if (has_data_)
            out.push_back(std::move(current_));
        current_ = {};
        has_data_ = false;
        return;
    }
    if (line.front() == ':')
        return; // a comment
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (value.starts_with(' '))
        value.remove_prefix(1);
    if (field == "event") {
        current_.name = value.empty() ? "message" : std::string(value);
    } else if (field == "data") {
        if (has_data_)
            current_.data += '\n';
        current_.data += value;
        has_data_ = true;
    }
    // id and retry do not matter to a client that reads one stream once.
}

} // namespace pgexport::cli

#pragma once
// Reading a text/event-stream as its bytes arrive, for the export client. The parts of the WHATWG
// event-stream rules that matter here: "event" and "data" fields, comments, a blank line ends an event,
// lines end in LF, CRLF or CR (also split across reads). Pure: no I/O.

#include <string>
#include <string_view>
#include <vector>

namespace pgexport::cli {

struct sse_message {
    std::string name = "message"; // the event's type
    std::string data;             // its data lines joined with \n
};

class sse_parser {
public:
    // Takes the next bytes of the stream; returns the events they complete, in order.
    std::vector<sse_message> feed(std::string_view bytes);

private:
    void end_line(std::vector<sse_message>& out);

    std::string line_;
    sse_message current_;
    bool has_data_ = false;
    bool after_cr_ = false; // the last byte was CR: a LF right after it ends no second line
};

} // namespace pgexport::cli

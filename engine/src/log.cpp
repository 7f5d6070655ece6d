#include <pgexport/job.hpp>
#include <pgexport/log.hpp>

#include <boost/json/serialize.hpp>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace pgexport {

namespace {

std::atomic<std::shared_ptr<const log_sink>>& current_sink() {
    static std::atomic<std::shared_ptr<const log_sink>> sink;
    return sink;
}

void append_value(std::string& out, const boost::json::value& v) {
    if (!v.is_double()) {
        out += boost::json::serialize(v);
        return;
    }
    const double d = v.get_double();
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.6f", d);
    std::string_view s(text);
    while (s.ends_with('0'))
        s.remove_suffix(1);
    if (s.ends_with('.'))
        s.remove_suffix(1);
    out += s == "-0" ? "0" : s;
}

} // namespace

std::string format_log_line(std::string_view ts, std::string_view level, std::string_view event,
                            const boost::json::object& fields) {
    std::string out = "{\"ts\":";
    out += boost::json::serialize(boost::json::string(ts));
    out += ",\"level\":";
    out += boost::json::serialize(boost::json::string(level));
    out += ",\"event\":";
    out += boost::json::serialize(boost::json::string(event));
    for (const auto& [k, v] : fields) {
        if (k == "ts" || k == "level" || k == "event")
            continue; // the line's own keys win
        out += ',';
        out += boost::json::serialize(boost::json::string(k));
        out += ':';
        append_value(out, v);
    }
    out += '}';
    return out;
}

void set_log_sink(log_sink sink) {
    current_sink().store(sink ? std::make_shared<const log_sink>(std::move(sink)) : nullptr);
}

void log_event(std::string_view level, std::string_view event, boost::json::object fields) {
    if (auto sink = current_sink().load()) {
        (*sink)(level, event, fields);
        return;
    }
    std::string text =
        format_log_line(engine::format_timestamp(std::chrono::system_clock::now()), level, event, fields);
    text += '\n';
    // One write per line, so lines from several threads never interleave.
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, text.data(), text.size());
}

void log_if_failed(const std::exception_ptr& e, std::string_view event, boost::json::object fields) {
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        fields["error"] = x.what();
    } catch (...) {
        fields["error"] = "unknown exception";
    }
    log_event("error", event, std::move(fields));
}

} // namespace pgexport

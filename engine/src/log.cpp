#include <pgexport/job.hpp>
#include <pgexport/log.hpp>

#include <boost/json/serialize.hpp>

#include <unistd.h>

namespace pgexport {

void log_event(std::string_view level, std::string_view event, boost::json::object fields) {
    boost::json::object line;
    line["ts"] = engine::format_timestamp(std::chrono::system_clock::now());
    line["level"] = level;
    line["event"] = event;
    for (auto& [k, v] : fields)
        line[k] = std::move(v);
    std::string text = boost::json::serialize(line);
    text += '\n';
    // One write per line, so lines from several threads never interleave.
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, text.data(), text.size());
}

} // namespace pgexport

#include "export_client.hpp"

#include "download_resume.hpp"
#include "sse_parser.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace pgexport::cli {

namespace {

std::atomic<bool> interrupted{false};
int wake_pipe[2] = {-1, -1}; // the signal handler writes a byte, so a wait wakes at once

extern "C" void on_sigint(int) {
    interrupted = true;
    if (wake_pipe[1] >= 0) {
        const int saved = errno;
        [[maybe_unused]] auto n = ::write(wake_pipe[1], "", 1);
        errno = saved;
    }
}

void install_interrupt_handlers() {
    if (wake_pipe[0] < 0 && ::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        wake_pipe[0] = wake_pipe[1] = -1; // no pipe: waits still end, at their timeout
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; // a blocking socket call goes on; the poll in interruptible_sleep wakes
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

// Sleeps for `duration` or until SIGINT/SIGTERM arrives, whichever comes first.
void interruptible_sleep(std::chrono::milliseconds duration) {
    if (interrupted)
        return;
    if (wake_pipe[0] < 0) {
        std::this_thread::sleep_for(duration);
        return;
    }
    pollfd fd{wake_pipe[0], POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(duration.count()));
}

// A failure the user should read; `code` is the exit code.
struct client_error : std::runtime_error {
    client_error(std::string m, int c = 1) : std::runtime_error(std::move(m)), code(c) {}
    int code;
};

struct server_url {
    std::string host;
    std::string port;
    std::string base; // path prefix without trailing slash
};

server_url parse_server(const std::string& url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme))
        throw client_error("--server must be an http:// URL, not \"" + url + "\"", 2);
    std::string rest = url.substr(scheme.size());
    server_url s;
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    s.base = slash == std::string::npos ? "" : rest.substr(slash);
    while (!s.base.empty() && s.base.back() == '/')
        s.base.pop_back();
    auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') < colon) {
        s.host = authority.substr(0, colon);
        s.port = authority.substr(colon + 1);
    } else if (colon != std::string::npos && authority.find(']') == std::string::npos) {
        s.host = authority.substr(0, colon);
        s.port = authority.substr(colon + 1);
    } else {
        s.host = authority;
        s.port = "80";
    }
    if (s.host.size() >= 2 && s.host.front() == '[')
        s.host = s.host.substr(1, s.host.size() - 2);
    if (s.host.empty())
        throw client_error("--server has no host: \"" + url + "\"", 2);
    return s;
}

std::string with_commas(long long n) {
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string error_message(unsigned status, const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object())
        if (auto* e = v.get_object().if_contains("error"); e && e->is_object())
            if (auto* m = e->get_object().if_contains("message"); m && m->is_string())
                return std::string(m->get_string()) + " (HTTP " + std::to_string(status) + ")";
    return "the server answered HTTP " + std::to_string(status);
}

// A download's partial file and its record (download_resume.hpp).
struct partial_download {
    fs::path part;   // <output>.part
    fs::path record; // <output>.part.json
    std::string job_id;

    // The record, or nullopt when there is none or it cannot be read.
    std::optional<part_record> read_record() const {
        std::ifstream in(record, std::ios::binary);
        if (!in)
            return std::nullopt;
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return parse_part_record(text);
    }

    // Replaces the record whole: a temporary file renamed over it.
    void write_record(const std::optional<std::string>& etag) const {
        const fs::path temp = record.string() + ".tmp";
        {
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            out << format_part_record({job_id, etag});
            out.flush();
            if (!out)
                throw client_error("cannot write " + temp.string());
        }
        std::error_code ec;
        fs::rename(temp, record, ec);
        if (ec)
            throw client_error("cannot write " + record.string() + ": " + ec.message());
    }

    // Forgets the part: the record first, so a part is never left with a record it does not match.
    void discard() const {
        std::error_code ec;
        fs::remove(record, ec);
        fs::remove(part, ec);
    }
};

class http_client {
public:
    http_client(server_url server, std::optional<std::string> key)
        : server_(std::move(server)), key_(std::move(key)) {}

    // One request on a fresh connection; returns status and body. Throws client_error on network failure.
    std::pair<unsigned, std::string> call(bhttp::verb method, const std::string& path,
                                          const std::string& body = "") {
        tcp::socket socket = connect();
        bhttp::request<bhttp::string_body> req(method, server_.base + path, 11);
        prepare(req);
        if (!body.empty()) {
            req.set(bhttp::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        beast::error_code ec;
        bhttp::write(socket, req, ec);
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        if (!ec)
            bhttp::read(socket, buffer, parser, ec);
        if (ec)
            throw client_error("cannot talk to " + server_.host + ":" + server_.port + ": " + ec.message());
        auto res = parser.release();
        return {res.result_int(), res.body()};
    }

    // Downloads `path` into the target's part from byte `offset` (Range when > 0, with If-Range when
    // `etag` is strong), keeping the part's record true to what it holds (download_resume.hpp); a 200
    // answer starts the part over. Throws client_error: a network error mid-way keeps what was written
    // (and its record); a 206 that does not start at `offset` or names another ETag empties the part.
    void download(const std::string& path, const partial_download& target, std::uint64_t offset,
                  const std::optional<std::string>& etag, const std::function<void(const std::string&)>& say,
                  const std::function<void(std::uint64_t)>& progress) {
        tcp::socket socket = connect();
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, server_.base + path, 11);
        prepare(req);
        if (offset > 0) {
            req.set(bhttp::field::range, "bytes=" + std::to_string(offset) + "-");
            // The server sends the whole file instead when it is not the one the part came from.
            if (etag && is_strong_etag(*etag))
                req.set(bhttp::field::if_range, *etag);
        }
        beast::error_code ec;
        bhttp::write(socket, req, ec);
        if (ec)
            throw client_error("cannot talk to the server: " + ec.message());
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(boost::none);
        bhttp::read_header(socket, buffer, parser, ec);
        if (ec)
            throw client_error("download failed: " + ec.message());
        const unsigned status = parser.get().result_int();
        std::optional<std::string> answer_etag;
        if (auto it = parser.get().find(bhttp::field::etag); it != parser.get().end())
            answer_etag = std::string(it->value());
        if (status == 206) {
            const auto header = parser.get()[bhttp::field::content_range];
            const auto range = parse_content_range(std::string_view(header.data(), header.size()));
            std::string wrong;
            if (!range || range->first != offset)
                wrong = "the server's Content-Range \"" + std::string(header) + "\" does not start at byte " +
                        std::to_string(offset) + ", where " + target.part.string() + " ends";
            else if (etag && answer_etag && *etag != *answer_etag)
                wrong = "the server's file changed (ETag " + *answer_etag + ", not " + *etag + ")";
            if (!wrong.empty()) {
                // Never append bytes from elsewhere: the next attempt starts from an empty part.
                target.discard();
                throw client_error(wrong + "; starting over");
            }
        } else if (status == 200) {
            if (offset > 0)
                say("the server sent the whole file instead of the rest (it no longer matches " +
                    target.part.string() + "); starting over");
            offset = 0;
        } else if (status == 416) {
            target.discard();
            throw client_error("the server has no bytes after " + std::to_string(offset) + " for " +
                               target.part.string() + "; starting over");
        } else {
            std::string body;
            if (status >= 400) {
                // An error body is small JSON: read it for the message.
                bhttp::response_parser<bhttp::string_body> error_parser(std::move(parser));
                error_parser.body_limit(64 * 1024);
                bhttp::read(socket, buffer, error_parser, ec);
                if (!ec)
                    body = error_parser.get().body();
            }
            throw client_error("download failed: " + error_message(status, body));
        }
        std::ofstream out(target.part,
                          offset > 0 ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
        if (!out)
            throw client_error("cannot write " + target.part.string() + ": " + std::strerror(errno), 1);
        // Now the part is empty or holds this job's first `offset` bytes: record that, with the ETag.
        if (offset == 0 || (answer_etag && answer_etag != etag))
            target.write_record(answer_etag);
        std::uint64_t have = offset;
        std::vector<char> chunk(1 << 20);
        while (!parser.is_done()) {
            if (interrupted)
                throw client_error("interrupted", 130);
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            bhttp::read(socket, buffer, parser, ec);
            if (ec == bhttp::error::need_buffer)
                ec = {};
            const std::size_t n = chunk.size() - parser.get().body().size;
            out.write(chunk.data(), static_cast<std::streamsize>(n));
            have += n;
            progress(have);
            if (ec)
                throw client_error("download interrupted: " + ec.message());
        }
        out.flush();
        if (!out)
            throw client_error("cannot write " + target.part.string() + " (disk full?)");
    }

    // Follows the text/event-stream at `path`, handing each event to `on_event`, until on_event returns
    // false, the stream ends or breaks, or Ctrl-C. Nothing is read when the server does not answer 200
    // (a server without events: 404 or 405). Exceptions from on_event pass through.
    void follow_events(const std::string& path, const std::function<bool(const sse_message&)>& on_event) {
        tcp::socket socket = connect();
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, server_.base + path, 11);
        prepare(req);
        req.set(bhttp::field::accept, "text/event-stream");
        beast::error_code ec;
        bhttp::write(socket, req, ec);
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(boost::none);
        if (!ec)
            bhttp::read_header(socket, buffer, parser, ec);
        if (ec || parser.get().result_int() != 200)
            return;
        sse_parser sse;
        std::array<char, 16384> chunk{};
        while (!parser.is_done()) {
            if (interrupted)
                return;
            // The server sends a ping at least every 15 s: a longer silence is a stream gone bad.
            if (buffer.size() == 0 && !wait_readable(socket, std::chrono::seconds(30)))
                continue; // Ctrl-C, or the silence: both are looked at above and below
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            bhttp::read_some(socket, buffer, parser, ec);
            if (ec == bhttp::error::need_buffer)
                ec = {};
            const std::size_t n = chunk.size() - parser.get().body().size;
            for (const auto& message : sse.feed(std::string_view(chunk.data(), n)))
                if (!on_event(message))
                    return;
            if (ec)
                return;
        }
    }

private:
    // Waits until `socket` can be read (true) or Ctrl-C (false). After `timeout` the socket is shut down
    // (true: the next read fails at once).
    static bool wait_readable(tcp::socket& socket, std::chrono::seconds timeout) {
        pollfd fds[2] = {{socket.native_handle(), POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        const int n = ::poll(fds, wake_pipe[0] >= 0 ? 2 : 1, static_cast<int>(timeout.count() * 1000));
        if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return true;
        if (n == 0) {
            boost::system::error_code ignored;
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            return true;
        }
        return false;
    }

    template <class Request> void prepare(Request& req) {
        req.set(bhttp::field::host, server_.host);
        req.set(bhttp::field::user_agent, "pgexport-export");
        if (key_)
            req.set(bhttp::field::authorization, "Bearer " + *key_);
    }

    tcp::socket connect() {
        tcp::resolver resolver(io_);
        beast::error_code ec;
        auto endpoints = resolver.resolve(server_.host, server_.port, ec);
        if (ec)
            throw client_error("cannot resolve " + server_.host + ": " + ec.message());
        tcp::socket socket(io_);
        asio::connect(socket, endpoints, ec);
        if (ec)
            throw client_error("cannot connect to " + server_.host + ":" + server_.port + ": " +
                               ec.message());
        // Bounded waits: a silent server must not hang the client.
        timeval tv{30, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        return socket;
    }

    asio::io_context io_;
    server_url server_;
    std::optional<std::string> key_;
};

} // namespace

std::string default_output_name(const std::string& job_id, const std::string& status_json) {
    std::string name = "export-" + job_id;
    boost::system::error_code ec;
    const json::value status = json::parse(status_json, ec);
    const json::object* request = nullptr;
    if (!ec && status.is_object())
        if (const json::value* r = status.as_object().if_contains("request"); r && r->is_object())
            request = &r->as_object();
    auto field_is = [&](std::string_view field, std::string_view value) {
        const json::value* v = request ? request->if_contains(field) : nullptr;
        return v && v->is_string() && v->as_string() == value;
    };
    name += field_is("format", "jsonl") ? ".jsonl" : ".csv";
    if (field_is("compression", "gzip"))
        name += ".gz";
    return name;
}

namespace {

std::string json_request(const export_client_params& p) {
    json::object body;
    if (p.filters_json) {
        boost::system::error_code ec;
        json::value filters = json::parse(*p.filters_json, ec);
        if (ec)
            throw client_error("--filters is not valid JSON (" + ec.message() + "): " + *p.filters_json, 2);
        if (!filters.is_object())
            throw client_error("--filters must be a JSON object, e.g. '{\"category\": \"books\"}'", 2);
        body["filters"] = std::move(filters);
    }
    if (p.columns) {
        json::array columns;
        std::string_view rest = *p.columns;
        for (;;) {
            auto comma = rest.find(',');
            auto name = rest.substr(0, comma);
            while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front())))
                name.remove_prefix(1);
            while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())))
                name.remove_suffix(1);
            if (name.empty())
                throw client_error("--columns has an empty name: \"" + *p.columns + "\"", 2);
            columns.emplace_back(name);
            if (comma == std::string_view::npos)
                break;
            rest = rest.substr(comma + 1);
        }
        body["columns"] = std::move(columns);
    }
    if (p.format)
        body["format"] = *p.format; // the server checks the values, and says what is allowed
    if (p.compression)
        body["compression"] = *p.compression;
    if (p.csv_json) {
        boost::system::error_code ec;
        json::value csv = json::parse(*p.csv_json, ec);
        if (ec)
            throw client_error("--csv is not valid JSON (" + ec.message() + "): " + *p.csv_json, 2);
        if (!csv.is_object())
            throw client_error("--csv must be a JSON object, e.g. '{\"delimiter\": \";\", \"bom\": true}'", 2);
        body["csv"] = std::move(csv);
    }
    return json::serialize(body);
}

// The command that attaches to the job again, with the flags that matter to where it goes.
std::string attach_command(const export_client_params& p, const std::string& job_id) {
    std::string command = "pgexport export --job " + job_id;
    if (p.server != export_client_params{}.server)
        command += " --server " + p.server;
    if (p.output)
        command += " --output " + *p.output;
    return command;
}

// The job's status as the server reports it ("completed", …), or nullopt when it cannot be read.
std::optional<std::string> job_state(http_client& client, const std::string& job_id) {
    auto [status, body] = client.call(bhttp::verb::get, "/api/export/" + job_id + "/status");
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (status == 200 && !ec && v.is_object())
        if (auto* s = v.get_object().if_contains("status"); s && s->is_string())
            return std::string(s->get_string());
    return std::nullopt;
}

// Ctrl-C while the job runs: leave it running, or with --cancel-on-interrupt cancel it and say what
// the server answered (the job may have ended in the meantime). Returns the exit code.
int on_interrupt(http_client& client, const export_client_params& p, const std::string& job_id,
                 const std::string& attach_hint, const std::function<void(const std::string&)>& say) {
    if (!p.cancel_on_interrupt) {
        say("interrupted: job " + job_id + " keeps running; attach again with: " + attach_hint);
        return 130;
    }
    auto already_ended = [&](const std::string& state) {
        std::string text = "interrupted: job " + job_id + " had already " + state + ", nothing was cancelled";
        if (state == "completed")
            text += "; download it with: " + attach_hint;
        say(text);
        return 130;
    };
    // DELETE of an ended job deletes it: look first, so that a job that has just completed keeps its file.
    if (auto state = job_state(client, job_id); state && *state != "queued" && *state != "running")
        return already_ended(*state);
    auto [status, body] = client.call(bhttp::verb::delete_, "/api/export/" + job_id);
    if (status == 200) {
        say("interrupted: job " + job_id + " cancelled");
        return 130;
    }
    if (status == 204) {
        say("interrupted: job " + job_id + " ended just before the cancel arrived, and was deleted");
        return 130;
    }
    if (status == 409) // a server that refuses to delete ended jobs
        return already_ended(job_state(client, job_id).value_or("ended"));
    throw client_error("interrupted, but the job could not be cancelled: " + error_message(status, body) +
                       "; it may still be running (cancel it with DELETE /api/export/" + job_id + ")");
}

} // namespace

std::string progress_line(long long rows, long long estimate, double rows_per_second, int width) {
    std::string line;
    if (estimate > 0) {
        const double fraction = std::min(1.0, static_cast<double>(rows) / static_cast<double>(estimate));
        const int filled = static_cast<int>(fraction * width);
        line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
               std::string(static_cast<std::size_t>(width - filled), '-') + "] ";
        char pct[8];
        std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
        line += pct;
        line += "  " + with_commas(rows) + "/" + with_commas(estimate) + " rows";
    } else {
        line = with_commas(rows) + " rows";
    }
    if (rows_per_second > 0) {
        line += "  " + with_commas(static_cast<long long>(rows_per_second)) + " rows/s";
        if (estimate > rows) {
            const long long eta =
                static_cast<long long>((static_cast<double>(estimate - rows)) / rows_per_second);
            line += "  ETA " + (eta >= 60 ? std::to_string(eta / 60) + "m" + std::to_string(eta % 60) + "s"
                                          : std::to_string(eta) + "s");
        }
    }
    return line;
}

int run_export_client(const export_client_params& p) {
    install_interrupt_handlers();
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    std::string job_id;
    try {
        http_client client(parse_server(p.server), p.api_key);
        auto say = [&](const std::string& text) {
            if (!p.quiet)
                std::cerr << text << "\n";
        };
        // Where the file goes must be writable before the export runs, not found out after it.
        if (p.output) {
            const fs::path dir = fs::path(*p.output).parent_path();
            if (::access(dir.empty() ? "." : dir.c_str(), W_OK | X_OK) != 0)
                throw client_error("cannot write to the directory of --output " + *p.output + ": " +
                                       std::strerror(errno),
                                   2);
        }
        if (p.job_id) {
            job_id = *p.job_id;
        } else {
            auto [status, body] = client.call(bhttp::verb::post, "/api/export", json_request(p));
            if (status != 202)
                throw client_error("the server refused the export: " + error_message(status, body));
            job_id = std::string(json::parse(body).at("jobId").as_string());
            say("export " + job_id + " created");
        }

        // Progress until the job ends.
        json::object job;
        long long last_rows = -1;
        std::string last_state;
        auto last_print = std::chrono::steady_clock::now() - std::chrono::hours(1);
        std::optional<std::pair<std::chrono::steady_clock::time_point, long long>> first_sample;
        const std::string attach_hint = attach_command(p, job_id);
        // Shows one status of the job; true once it has completed. Throws when it ended otherwise.
        auto show = [&](json::object status) {
            job = std::move(status);
            const std::string state(job.at("status").as_string());
            const long long rows = job.at("rowsExported").to_number<long long>();
            const long long estimate = job.at("totalRowsEstimate").is_null()
                                           ? 0
                                           : job.at("totalRowsEstimate").to_number<long long>();
            const auto now = std::chrono::steady_clock::now();
            if (!first_sample && state == "running")
                first_sample = {now, rows};
            double rate = 0;
            if (first_sample) {
                const double seconds = std::chrono::duration<double>(now - first_sample->first).count();
                if (seconds > 0.2)
                    rate = static_cast<double>(rows - first_sample->second) / seconds;
            }
            const long long shown_estimate = state == "completed" ? rows : estimate;
            if (!p.quiet) {
                if (tty) {
                    std::cerr << "\r\033[K" << state << " " << progress_line(rows, shown_estimate, rate, 30)
                              << std::flush;
                } else if (state != last_state ||
                           (rows != last_rows && now - last_print > std::chrono::seconds(2))) {
                    std::cerr << state << " " << progress_line(rows, shown_estimate, rate, 20) << "\n";
                    last_print = now;
                }
            }
            last_rows = rows;
            last_state = state;
            if (state == "completed")
                return true;
            if (state != "queued" && state != "running") { // failed, cancelled, expired, or a later server's end
                if (tty && !p.quiet)
                    std::cerr << "\n";
                std::string why = job.at("error").is_string() ? ": " + std::string(job.at("error").as_string()) : "";
                if (state == "expired")
                    why = ": its file was deleted when the server's retention passed; create a new export";
                throw client_error("export " + job_id + " " + state + why);
            }
            return false;
        };
        // The server's events when it has them: each status as it changes, no polling. A server without
        // them (404, 405) or a stream that breaks: polling, from where the events left off.
        bool done = false;
        const auto on_event = [&](const sse_message& m) {
            boost::system::error_code ec;
            json::value v = json::parse(m.data, ec);
            if (ec || !v.is_object() || !v.get_object().contains("status"))
                return true; // not a status: skip it
            done = show(std::move(v.get_object()));
            return !done;
        };
        client.follow_events("/api/export/" + job_id + "/events", on_event);
        while (!done) {
            if (interrupted) {
                if (tty && !p.quiet)
                    std::cerr << "\n";
                return on_interrupt(client, p, job_id, attach_hint, say);
            }
            auto [status, body] = client.call(bhttp::verb::get, "/api/export/" + job_id + "/status");
            if (status != 200)
                throw client_error("cannot read the job's status: " + error_message(status, body));
            if (interrupted)
                continue; // the answer may be stale by now: the interruption decides
            done = show(json::parse(body).as_object());
            if (!done)
                interruptible_sleep(std::chrono::milliseconds(300));
        }
        if (tty && !p.quiet)
            std::cerr << "\n";

        // Download to a temporary name, resuming after a broken connection, then rename. A part left
        // by an earlier run is resumed only when its record names this job (download_resume.hpp).
        const fs::path output = p.output ? fs::path(*p.output) : fs::path(default_output_name(job_id, json::serialize(job)));
        const partial_download target{output.string() + ".part", output.string() + ".part.json", job_id};
        const std::uint64_t expected = job.at("bytesWritten").to_number<std::uint64_t>();
        int failures = 0;
        for (;;) {
            std::error_code ec;
            const auto size = fs::file_size(target.part, ec);
            const auto record = target.read_record();
            const resume_plan plan =
                plan_resume(record, job_id, ec ? std::nullopt : std::optional<std::uint64_t>(size), expected);
            if (!plan.reason.empty()) {
                say("not resuming " + target.part.string() + ": " + plan.reason + "; starting over");
                target.discard();
            }
            if (plan.offset > 0 && plan.offset == expected)
                break; // an earlier run got every byte and stopped before the rename
            if (plan.offset > 0)
                say("resuming " + target.part.string() + " at byte " +
                    with_commas(static_cast<long long>(plan.offset)));
            try {
                auto last = std::chrono::steady_clock::now();
                auto show_progress = [&](std::uint64_t bytes) {
                    if (p.quiet || !tty)
                        return;
                    auto now = std::chrono::steady_clock::now();
                    if (now - last > std::chrono::milliseconds(200)) {
                        std::cerr << "\r\033[Kdownloading " << with_commas(static_cast<long long>(bytes))
                                  << "/" << with_commas(static_cast<long long>(expected)) << " bytes"
                                  << std::flush;
                        last = now;
                    }
                };
                client.download("/api/export/" + job_id + "/download", target, plan.offset,
                                record ? record->etag : std::nullopt, say, show_progress);
                break;
            } catch (const client_error& e) {
                if (e.code == 130 || ++failures > 5)
                    throw;
                say(std::string(e.what()) + "; retrying");
                std::this_thread::sleep_for(std::chrono::milliseconds(200 << failures));
            }
        }
        if (tty && !p.quiet)
            std::cerr << "\r\033[K";
        const std::uint64_t got = fs::file_size(target.part);
        if (got != expected)
            throw client_error("the download has " + std::to_string(got) + " bytes, the export " +
                               std::to_string(expected) + "; run the command again to resume");
        fs::rename(target.part, output);
        std::error_code ignored;
        fs::remove(target.record, ignored);
        say("saved " + with_commas(static_cast<long long>(got)) + " bytes, " +
            with_commas(job.at("rowsExported").to_number<long long>()) + " rows");
        std::cout << output.string() << "\n";
        return 0;
    } catch (const client_error& e) {
        if (e.code == 130) {
            std::cerr << "\ninterrupted";
            if (!job_id.empty())
                std::cerr << "; the partial download is kept and resumes with: " << attach_command(p, job_id);
            std::cerr << "\n";
        } else {
            std::cerr << "pgexport export: " << e.what() << "\n";
        }
        return e.code;
    } catch (const std::exception& e) {
        std::cerr << "pgexport export: " << e.what() << "\n";
        return 1;
    }
}

} // namespace pgexport::cli

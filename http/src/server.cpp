#include "api_json.hpp"
#include "query.hpp"
#include "range.hpp"
#include "static_files.hpp"

#include <pgexport/http/server.hpp>
#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <fcntl.h>
#include <map>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace pgexport::http {

namespace {

using request_t = bhttp::request<bhttp::string_body>;
using string_response = bhttp::response<bhttp::string_body>;

string_response json_response(unsigned version, bhttp::status status, const json::value& body) {
    string_response res(status, version);
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = json::serialize(body);
    res.body() += '\n';
    res.prepare_payload();
    return res;
}

string_response error_response(unsigned version, bhttp::status status, std::string_view code,
                               std::string_view message) {
    return json_response(version, status, error_json(code, message));
}

// Compares without an early exit, so the time taken does not tell how much of a key was right.
bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

// A file to send after the header (a download), or nothing.
struct file_body {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    ~file_body() {
        if (fd >= 0)
            ::close(fd);
    }
};

struct reply {
    string_response response;
    std::string route = "other";
    std::unique_ptr<file_body> file; // sent after the header when set (the response body is empty then)
};

std::string escape_label(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

} // namespace

struct server::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, engine::export_engine& e, server_config c)
        : io(io), engine(e), config(std::move(c)), acceptor(io) {
        // A job's owner is a name derived from its key, so that keys are never stored.
        boost::uuids::name_generator_sha1 names(
            boost::uuids::uuid{{0x6b, 0x1e, 0x5a, 0x42, 0x8c, 0x3d, 0x4f, 0x10, 0x9a, 0x77, 0x21, 0x0e, 0x5c,
                                0x63, 0x88, 0x01}});
        for (const auto& key : config.api_keys)
            owners.push_back("key:" + boost::uuids::to_string(names(key)));
    }

    // nullopt: no key configured; "": a key was needed and missing or wrong; else the caller's owner id.
    std::optional<std::string> authenticate(const request_t& req) const {
        if (config.api_keys.empty())
            return std::nullopt;
        auto it = req.find(bhttp::field::authorization);
        if (it == req.end())
            return std::string();
        std::string_view value(it->value().data(), it->value().size());
        constexpr std::string_view scheme = "Bearer ";
        if (value.size() <= scheme.size() || !beast::iequals(value.substr(0, scheme.size()), scheme))
            return std::string();
        value.remove_prefix(scheme.size());
        std::string owner;
        for (std::size_t i = 0; i < config.api_keys.size(); ++i)
            if (constant_time_equal(value, config.api_keys[i]))
                owner = owners[i];
        return owner;
    }

    asio::awaitable<reply> handle(const request_t& req) {
        const std::string_view target(req.target().data(), req.target().size());
        const auto qmark = target.find('?');
        const std::string_view path = target.substr(0, qmark);
        const std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
        const unsigned v = req.version();
        const auto method = req.method();
        reply r;

        auto allow = [&](std::initializer_list<bhttp::verb> verbs, std::string_view allowed) {
            for (auto verb : verbs)
                if (method == verb)
                    return true;
            r.response = error_response(v, bhttp::status::method_not_allowed, "method_not_allowed",
                                        std::string(req.method_string()) + " is not allowed here; use " +
                                            std::string(allowed));
            r.response.set(bhttp::field::allow, allowed);
            return false;
        };

        if (path == "/healthz") {
            r.route = "/healthz";
            if (!allow({bhttp::verb::get, bhttp::verb::head}, "GET"))
                co_return r;
            // Ready means the database answers and the engine has started (migrated, jobs resumed).
            const bool reachable = co_await engine.async_ping();
            const bool ready = reachable && engine.started();
            r.response = json_response(v, ready ? bhttp::status::ok : bhttp::status::service_unavailable,
                                       json::object{{"status", ready       ? "ok"
                                                               : reachable ? "starting"
                                                                           : "unavailable"},
                                                    {"database", reachable ? "reachable" : "unreachable"}});
            co_return r;
        }
        if (path == "/metrics") {
            r.route = "/metrics";
            if (!allow({bhttp::verb::get}, "GET"))
                co_return r;
            r.response = string_response(bhttp::status::ok, v);
            r.response.set(bhttp::field::content_type, "text/plain; version=0.0.4");
            r.response.body() = co_await metrics_text();
            r.response.prepare_payload();
            co_return r;
        }
        if (!path.starts_with("/api/")) {
            if (auto file = find_static_file(path)) {
                r.route = "static";
                if (!allow({bhttp::verb::get, bhttp::verb::head}, "GET"))
                    co_return r;
                r.response = string_response(bhttp::status::ok, v);
                r.response.set(bhttp::field::content_type, file->content_type);
                r.response.set(bhttp::field::cache_control, "no-cache");
                r.response.body() = file->content;
                r.response.prepare_payload();
                co_return r;
            }
            r.response = error_response(v, bhttp::status::not_found, "not_found", "no such endpoint");
            co_return r;
        }

        const auto owner = authenticate(req);
        if (owner && owner->empty()) {
            r.route = "unauthorized";
            r.response = error_response(v, bhttp::status::unauthorized, "unauthorized",
                                        "this server needs an API key: send Authorization: Bearer <key>");
            r.response.set(bhttp::field::www_authenticate, "Bearer");
            co_return r;
        }

        if (path == "/api/openapi.json") {
            r.route = "/api/openapi.json";
            if (!allow({bhttp::verb::get}, "GET"))
                co_return r;
            r.response = string_response(bhttp::status::ok, v);
            r.response.set(bhttp::field::content_type, "application/json");
            r.response.body() = std::string(openapi_document());
            r.response.prepare_payload();
            co_return r;
        }
        if (path == "/api/records") {
            r.route = "/api/records";
            if (!allow({bhttp::verb::get}, "GET"))
                co_return r;
            r.response = co_await list_records(v, query);
            co_return r;
        }
        if (path == "/api/export" || path == "/api/export/") {
            r.route = "/api/export";
            if (!allow({bhttp::verb::post, bhttp::verb::get}, "GET, POST"))
                co_return r;
            // Not a ?: with co_await in both arms: GCC 12 miscompiles that (a double free).
            if (method == bhttp::verb::post)
                r.response = co_await create(req, owner);
            else
                r.response = co_await list(v, owner, query);
            co_return r;
        }
        constexpr std::string_view prefix = "/api/export/";
        if (path.starts_with(prefix)) {
            std::string_view rest = path.substr(prefix.size());
            const auto slash = rest.find('/');
            const std::string_view id = rest.substr(0, slash);
            const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
            if (action.empty()) {
                r.route = "/api/export/{id}";
                if (!allow({bhttp::verb::delete_}, "DELETE"))
                    co_return r;
                // A queued or running job is cancelled (200 with the job), an ended one deleted (204).
                auto done = co_await engine.async_delete(std::string(id), owner);
                if (!done) {
                    r.response = problem_response(v, done.error());
                } else if (done->action == engine::delete_action::cancelled) {
                    r.response = json_response(v, bhttp::status::ok, job_json(done->job));
                } else {
                    r.response = string_response(bhttp::status::no_content, v);
                    r.response.set(bhttp::field::cache_control, "no-store");
                }
                co_return r;
            }
            if (action == "status") {
                r.route = "/api/export/{id}/status";
                if (!allow({bhttp::verb::get}, "GET"))
                    co_return r;
                auto job = co_await engine.async_status(std::string(id), owner);
                r.response = job ? json_response(v, bhttp::status::ok, job_json(*job))
                                 : problem_response(v, job.error());
                co_return r;
            }
            if (action == "download") {
                r.route = "/api/export/{id}/download";
                if (!allow({bhttp::verb::get, bhttp::verb::head}, "GET, HEAD"))
                    co_return r;
                co_await download(req, id, owner, r);
                co_return r;
            }
        }
        r.response = error_response(v, bhttp::status::not_found, "not_found", "no such endpoint");
        co_return r;
    }

    static string_response problem_response(unsigned v, const engine::problem& p) {
        return error_response(v, status_for(p.code), engine::to_string(p.code), p.message);
    }

    asio::awaitable<string_response> create(const request_t& req, const std::optional<std::string>& owner) {
        const unsigned v = req.version();
        json::value body = json::object();
        if (!req.body().empty()) {
            boost::system::error_code ec;
            json::parse_options options;
            options.max_depth = 32;
            body = json::parse(req.body(), ec, {}, options);
            if (ec)
                co_return error_response(v, bhttp::status::bad_request, "invalid_json",
                                         "the request body is not valid JSON: " + ec.message());
        }
        auto request = engine::parse_export_request(body);
        if (!request)
            co_return problem_response(v, request.error());
        auto id = co_await engine.async_create(std::move(*request), owner);
        if (!id)
            co_return problem_response(v, id.error());
        auto res = json_response(v, bhttp::status::accepted, json::object{{"jobId", *id}});
        res.set(bhttp::field::location, "/api/export/" + *id + "/status");
        co_return res;
    }

    asio::awaitable<string_response> list(unsigned v, const std::optional<std::string>& owner,
                                          std::string_view query) {
        int limit = 100;
        if (auto p = query.find("limit="); p != std::string_view::npos) {
            limit = std::atoi(std::string(query.substr(p + 6)).c_str());
            if (limit < 1 || limit > 1000)
                co_return error_response(v, bhttp::status::bad_request, "invalid_request",
                                         "limit must be a whole number from 1 to 1000");
        }
        auto jobs = co_await engine.async_list(owner, limit);
        json::array out;
        for (const auto& j : jobs)
            out.push_back(job_json(j));
        co_return json_response(v, bhttp::status::ok, out);
    }

    asio::awaitable<string_response> list_records(unsigned v, std::string_view query) {
        auto q = parse_records_query(query);
        if (!q)
            co_return problem_response(v, q.error());
        auto page = co_await engine.async_list_records(std::move(q->request), q->after, q->limit);
        if (!page)
            co_return problem_response(v, page.error());
        // The rows are JSON already (PostgreSQL's row_to_json): splice them in as they are.
        std::string body = "{\"rows\":[";
        for (std::size_t i = 0; i < page->rows_json.size(); ++i) {
            if (i)
                body += ',';
            body += page->rows_json[i];
        }
        body += "],\"nextCursor\":";
        body += page->next_after ? std::to_string(*page->next_after) : "null";
        body += "}\n";
        string_response res(bhttp::status::ok, v);
        res.set(bhttp::field::content_type, "application/json");
        res.body() = std::move(body);
        res.prepare_payload();
        co_return res;
    }

    asio::awaitable<void> download(const request_t& req, std::string_view id,
                                   const std::optional<std::string>& owner, reply& r) {
        const unsigned v = req.version();
        auto job = co_await engine.async_status(std::string(id), owner);
        if (!job) {
            r.response = problem_response(v, job.error());
            co_return;
        }
        if (job->status == engine::job_status::expired) {
            r.response = error_response(v, bhttp::status::gone, "expired", expired_message(*job));
            co_return;
        }
        if (job->status != engine::job_status::completed) {
            r.response =
                error_response(v, bhttp::status::conflict, "not_ready",
                               "job " + job->id + " is " + std::string(engine::to_string(job->status)) +
                                   "; the file can be downloaded once it is completed");
            co_return;
        }
        // The path comes from the validated id, never from the request's text.
        const auto path = engine.file_for(job->id);
        auto file = std::make_unique<file_body>();
        file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (file->fd < 0 || ::fstat(file->fd, &st) != 0) {
            log_event("error", "download_missing_file", {{"job", job->id}, {"path", path.string()}});
            r.response = error_response(v, bhttp::status::gone, "file_missing",
                                        "the file of job " + job->id + " is no longer on the server");
            co_return;
        }
        const auto size = static_cast<std::uint64_t>(st.st_size);
        std::optional<std::string_view> range_header;
        if (auto it = req.find(bhttp::field::range); it != req.end())
            range_header = std::string_view(it->value().data(), it->value().size());
        const range_decision d = parse_range(range_header, size);
        if (d.kind == range_kind::unsatisfiable) {
            r.response = error_response(v, bhttp::status::range_not_satisfiable, "range_not_satisfiable",
                                        "the requested range is outside the file's " + std::to_string(size) +
                                            " bytes");
            r.response.set(bhttp::field::content_range, "bytes */" + std::to_string(size));
            return_accept_ranges(r.response);
            co_return;
        }
        r.response = string_response(
            d.kind == range_kind::partial ? bhttp::status::partial_content : bhttp::status::ok, v);
        r.response.set(bhttp::field::content_type, "text/csv; charset=utf-8");
        r.response.set(bhttp::field::content_disposition,
                       "attachment; filename=\"export-" + job->id + ".csv\"");
        return_accept_ranges(r.response);
        file->offset = d.kind == range_kind::partial ? d.range.first : 0;
        file->length = d.kind == range_kind::partial ? d.range.length() : size;
        if (d.kind == range_kind::partial)
            r.response.set(bhttp::field::content_range, "bytes " + std::to_string(d.range.first) + "-" +
                                                            std::to_string(d.range.last) + "/" +
                                                            std::to_string(size));
        r.response.content_length(file->length);
        if (req.method() != bhttp::verb::head)
            r.file = std::move(file);
    }

    static void return_accept_ranges(string_response& res) { res.set(bhttp::field::accept_ranges, "bytes"); }

    asio::awaitable<std::string> metrics_text() {
        std::string out;
        auto counts = co_await engine.async_count_jobs();
        out += "# HELP pgexport_jobs Export jobs in the job store by status.\n# TYPE pgexport_jobs gauge\n";
        for (auto s : {engine::job_status::queued, engine::job_status::running, engine::job_status::completed,
                       engine::job_status::failed, engine::job_status::cancelled, engine::job_status::expired})
            out += "pgexport_jobs{status=\"" + std::string(engine::to_string(s)) + "\"} " +
                   std::to_string(counts.contains(s) ? counts[s] : 0) + "\n";
        const auto& st = engine.stats();
        out += "# HELP pgexport_jobs_running_here Jobs this process is running.\n# TYPE "
               "pgexport_jobs_running_here gauge\n";
        out += "pgexport_jobs_running_here " + std::to_string(engine.running_count()) + "\n";
        out += "# HELP pgexport_rows_exported_total Rows written by this process.\n# TYPE "
               "pgexport_rows_exported_total counter\n";
        out += "pgexport_rows_exported_total " + std::to_string(st.rows_exported) + "\n";
        out += "# HELP pgexport_bytes_written_total CSV bytes written by this process.\n# TYPE "
               "pgexport_bytes_written_total counter\n";
        out += "pgexport_bytes_written_total " + std::to_string(st.bytes_written) + "\n";
        out += "# HELP pgexport_retries_total Export attempts retried after a transient failure.\n# TYPE "
               "pgexport_retries_total counter\n";
        out += "pgexport_retries_total " + std::to_string(st.retries) + "\n";
        out += "# HELP pgexport_chunk_duration_seconds Time to stream one chunk's COPY.\n# TYPE "
               "pgexport_chunk_duration_seconds histogram\n";
        for (std::size_t i = 0; i < engine::engine_stats::chunk_buckets.size(); ++i) {
            char le[32];
            std::snprintf(le, sizeof le, "%g", engine::engine_stats::chunk_buckets[i]);
            out += "pgexport_chunk_duration_seconds_bucket{le=\"" + std::string(le) + "\"} " +
                   std::to_string(st.chunk_seconds_le[i]) + "\n";
        }
        out += "pgexport_chunk_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(st.chunks) + "\n";
        out += "pgexport_chunk_duration_seconds_sum " + std::to_string(st.chunk_seconds_sum) + "\n";
        out += "pgexport_chunk_duration_seconds_count " + std::to_string(st.chunks) + "\n";
        out += "# HELP pgexport_http_requests_total HTTP requests by route and status code.\n# TYPE "
               "pgexport_http_requests_total counter\n";
        for (const auto& [key, n] : requests)
            out += "pgexport_http_requests_total{route=\"" + escape_label(key.first) + "\",code=\"" +
                   std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
        co_return out;
    }

    // Sends the file with sendfile(2): no copy through user space, memory independent of its size.
    asio::awaitable<void> send_file(beast::tcp_stream& stream, file_body& file) {
        auto& socket = stream.socket();
        socket.native_non_blocking(true);
        off_t offset = static_cast<off_t>(file.offset);
        std::uint64_t left = file.length;
        asio::steady_timer timer(io);
        while (left > 0) {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1u << 30));
            ssize_t n = ::sendfile(socket.native_handle(), file.fd, &offset, want);
            if (n > 0) {
                left -= static_cast<std::uint64_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                timer.expires_after(config.read_timeout);
                auto which = co_await (socket.async_wait(tcp::socket::wait_write, asio::use_awaitable) ||
                                       timer.async_wait(asio::use_awaitable));
                if (which.index() == 1)
                    throw boost::system::system_error(beast::error::timeout);
                continue;
            }
            throw boost::system::system_error(
                n == 0 ? asio::error::eof
                       : boost::system::error_code(errno, boost::system::system_category()));
        }
    }

    asio::awaitable<void> write_reply(beast::tcp_stream& stream, reply& r) {
        stream.expires_after(std::chrono::seconds(60));
        if (!r.file) {
            co_await bhttp::async_write(stream, r.response, asio::use_awaitable);
            co_return;
        }
        // The header from Beast, the body straight from the file.
        bhttp::response<bhttp::empty_body> header(r.response.base());
        header.content_length(r.file->length);
        bhttp::response_serializer<bhttp::empty_body> serializer(header);
        co_await bhttp::async_write_header(stream, serializer, asio::use_awaitable);
        stream.expires_never();
        co_await send_file(stream, *r.file);
    }

    void count(const std::string& route, unsigned code) { ++requests[{route, code}]; }

    asio::awaitable<void> session(tcp::socket socket) {
        auto self = shared_from_this(); // the session may outlive the server object
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        ++connections;
        struct release {
            std::size_t& n;
            ~release() { --n; }
        } guard{connections};
        std::string peer;
        {
            boost::system::error_code ec;
            auto ep = stream.socket().remote_endpoint(ec);
            if (!ec)
                peer = ep.address().to_string() + ":" + std::to_string(ep.port());
        }
        try {
            if (connections > config.max_connections) {
                auto res = error_response(11, bhttp::status::service_unavailable, "too_many_connections",
                                          "the server has too many open connections; try again shortly");
                res.keep_alive(false);
                stream.expires_after(std::chrono::seconds(5));
                count("overload", 503);
                co_await bhttp::async_write(stream, res, asio::use_awaitable);
                co_return;
            }
            for (;;) {
                bhttp::request_parser<bhttp::string_body> parser;
                parser.body_limit(config.max_body_bytes);
                parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
                stream.expires_after(config.read_timeout);
                boost::system::error_code ec;
                co_await bhttp::async_read(stream, buffer, parser,
                                           asio::redirect_error(asio::use_awaitable, ec));
                // A Transfer-Encoding that does not end in chunked leaves the body's length unknown (RFC 9112
                // 6.3: answer 400 and close). Beast reads such a request as bodiless: it would be served, and
                // its body taken for the next request.
                if (!ec && parser.get().find(bhttp::field::transfer_encoding) != parser.get().end() &&
                    !parser.chunked())
                    ec = bhttp::error::bad_transfer_encoding;
                if (ec) {
                    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                        ec == beast::error::timeout || ec == asio::error::connection_reset ||
                        ec == asio::error::operation_aborted)
                        break;
                    bhttp::status status = bhttp::status::bad_request;
                    std::string code = "bad_request";
                    std::string message = "malformed HTTP request: " + ec.message();
                    if (ec == bhttp::error::body_limit) {
                        status = bhttp::status::payload_too_large;
                        code = "payload_too_large";
                        message = "the request body is larger than " + std::to_string(config.max_body_bytes) +
                                  " bytes";
                    } else if (ec == bhttp::error::header_limit) {
                        status = bhttp::status::request_header_fields_too_large;
                        code = "header_too_large";
                        message = "the request headers are larger than " +
                                  std::to_string(config.max_header_bytes) + " bytes";
                    }
                    auto res = error_response(11, status, code, message);
                    res.keep_alive(false);
                    count("malformed", static_cast<unsigned>(status));
                    log_event(
                        "info", "http_request",
                        {{"peer", peer}, {"status", static_cast<unsigned>(status)}, {"error", ec.message()}});
                    stream.expires_after(std::chrono::seconds(5));
                    co_await bhttp::async_write(stream, res, asio::use_awaitable);
                    break;
                }
                stream.expires_never();
                const auto start = std::chrono::steady_clock::now();
                auto req = parser.release();
                reply r;
                try {
                    r = co_await handle(req);
                } catch (const engine::unavailable_error& e) {
                    log_event("warning", "http_database_unavailable",
                              {{"target", req.target()}, {"error", e.what()}});
                    r.response =
                        error_response(req.version(), bhttp::status::service_unavailable, "unavailable",
                                       "the database is unavailable right now; try again shortly");
                    r.response.set(bhttp::field::retry_after, "5");
                } catch (const std::exception& e) {
                    log_event(
                        "error", "http_handler_failed",
                        {{"method", req.method_string()}, {"target", req.target()}, {"error", e.what()}});
                    r.response =
                        error_response(req.version(), bhttp::status::internal_server_error, "internal_error",
                                       "the server met an unexpected error; it has been logged");
                }
                r.response.keep_alive(req.keep_alive());
                const unsigned status = r.response.result_int();
                count(r.route, status);
                co_await write_reply(stream, r);
                log_event("info", "http_request",
                          {{"peer", peer},
                           {"method", req.method_string()},
                           {"target", req.target()},
                           {"status", status},
                           {"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                            start)
                                      .count()}});
                if (!r.response.keep_alive())
                    break;
            }
        } catch (const boost::system::system_error&) {
            // The client went away or timed out: nothing to answer.
        }
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    asio::io_context& io;
    engine::export_engine& engine;
    server_config config;
    tcp::acceptor acceptor;
    std::vector<std::string> owners;
    std::size_t connections = 0;
    std::map<std::pair<std::string, unsigned>, std::int64_t> requests;
};

server::server(asio::io_context& io, engine::export_engine& engine, server_config config)
    : impl_(std::make_shared<impl>(io, engine, std::move(config))) {}

server::~server() = default;

void server::listen() {
    auto& a = impl_->acceptor;
    try {
        tcp::endpoint ep(asio::ip::make_address(impl_->config.host), impl_->config.port);
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        a.bind(ep);
        a.listen(asio::socket_base::max_listen_connections);
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + impl_->config.host + ":" +
                                 std::to_string(impl_->config.port) + ": " + e.code().message());
    }
}

unsigned short server::port() const {
    return impl_->acceptor.local_endpoint().port();
}

asio::awaitable<void> server::async_run() {
    auto self = impl_;
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket =
            co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open())
            co_return;
        if (ec)
            continue;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(self->io, self->session(std::move(socket)), asio::detached);
    }
}

void server::stop() {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
}

} // namespace pgexport::http

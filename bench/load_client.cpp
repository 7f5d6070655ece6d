// load_client: an open-loop HTTP load generator for the API-under-load figures of bench/run.
//
//   load_client --port P --path /api/export/<id>/status [--path ...] [--rate 1000] [--duration 10]
//               [--connections 16] [--timeout 5] [--host 127.0.0.1] [--api-key KEY]
//
// Requests are paced open-loop: request i is due at start + i/rate whatever happened to the ones before,
// and its latency is measured from that due time to the end of its response. A slow server therefore
// shows as latency (the requests wait for a free connection) instead of silently lowering the rate
// ("coordinated omission"). Up to --connections keep-alive connections carry one request each at a time
// (no pipelining); the paths are used round-robin. A response counts when its status is 200.
//
// It stops by itself: no request is due after --duration seconds, and whatever has not been answered
// --timeout seconds after that is abandoned (counted in "errors" when sent, in "unsent" when never sent).
// It only talks to a loopback address.
//
// Prints one line of JSON on stdout: count, errors, unsent, rps (answered per second of the run),
// target_rps, connections, seconds, and p50, p90, p99, max in milliseconds.
// Exit 0 when the run happened (whatever its errors), 2 on bad usage.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct load_options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::vector<std::string> paths;
    double rate = 1000;
    double duration = 10;
    int connections = 16;
    double timeout = 5;
    std::string api_key;
};

class load_run;

// One keep-alive connection carrying one request at a time. Owned by load_run, which outlives every
// handler (io_context::run returns only when none is left).
class connection {
public:
    connection(asio::io_context& io, load_run& owner) : stream_(io), owner_(owner) {}

    // Sends a GET for path; latency is counted from due. Reconnects first when needed.
    void send(std::string path, clock_type::time_point due);

    // Abandons the request in flight, if any (its handlers then report an error).
    void abort() {
        beast::error_code ec;
        stream_.socket().close(ec);
    }

    void close_gracefully() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

private:
    void write_request();
    void on_read(beast::error_code ec);
    void finish(bool ok);

    beast::tcp_stream stream_;
    load_run& owner_;
    beast::flat_buffer buffer_;
    bhttp::request<bhttp::empty_body> request_;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
    clock_type::time_point due_;
    bool connected_ = false;
};

class load_run {
public:
    load_run(asio::io_context& io, load_options opt)
        : io_(io), opt_(std::move(opt)), pacer_(io), drain_(io),
          interval_(std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(1.0 / opt_.rate))) {
        endpoint_ = tcp::endpoint(asio::ip::make_address(opt_.host), opt_.port);
        for (int i = 0; i < opt_.connections; ++i) {
            connections_.push_back(std::make_unique<connection>(io_, *this));
            idle_.push_back(connections_.back().get());
        }
    }

    void start() {
        start_ = clock_type::now();
        end_ = start_ +
               std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(opt_.duration));
        tick();
    }

    const tcp::endpoint& endpoint() const { return endpoint_; }
    const load_options& options() const { return opt_; }
    std::chrono::duration<double> timeout() const { return std::chrono::duration<double>(opt_.timeout); }

    // A connection's request ended: ok is a 200 answer.
    void completed(connection& c, clock_type::time_point due, bool ok) {
        const auto now = clock_type::now();
        if (ok) {
            latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - due).count());
            last_answer_ = now;
        } else {
            ++errors_;
        }
        idle_.push_back(&c);
        dispatch();
        maybe_finish();
    }

    void print_report() const {
        std::vector<double> sorted = latencies_ms_;
        std::sort(sorted.begin(), sorted.end());
        // Nearest rank: the smallest value with at least q of the samples at or below it.
        auto percentile = [&](double q) {
            if (sorted.empty())
                return 0.0;
            auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
            return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
        };
        const double seconds = std::chrono::duration<double>(std::max(last_answer_, end_) - start_).count();
        std::printf(
            "{\"count\": %zu, \"errors\": %lld, \"unsent\": %lld, \"rps\": %.1f, \"target_rps\": %.1f, "
            "\"connections\": %d, \"seconds\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
            "\"max\": %.3f}\n",
            sorted.size(), static_cast<long long>(errors_), static_cast<long long>(unsent_),
            seconds > 0 ? static_cast<double>(sorted.size()) / seconds : 0.0, opt_.rate, opt_.connections,
            seconds, percentile(0.50), percentile(0.90), percentile(0.99),
            sorted.empty() ? 0.0 : sorted.back());
    }

private:
    // Queues every request that is due, hands them to idle connections, and sleeps until the next one.
    void tick() {
        const auto now = clock_type::now();
        while (generating_) {
            const auto due = start_ + interval_ * scheduled_;
            if (due >= end_) {
                generating_ = false;
                break;
            }
            if (due > now) {
                pacer_.expires_at(due);
                pacer_.async_wait([this](beast::error_code ec) {
                    if (!ec)
                        tick();
                });
                break;
            }
            pending_.push_back(due);
            ++scheduled_;
        }
        dispatch();
        if (!generating_ && !draining_) {
            // Whatever is still unanswered a timeout after the end is abandoned, so the run always ends.
            draining_ = true;
            drain_.expires_at(end_ + std::chrono::duration_cast<clock_type::duration>(timeout()));
            drain_.async_wait([this](beast::error_code ec) {
                if (ec)
                    return;
                unsent_ += static_cast<std::int64_t>(pending_.size());
                pending_.clear();
                for (auto& c : connections_)
                    c->abort();
            });
        }
        maybe_finish();
    }

    void dispatch() {
        while (!pending_.empty() && !idle_.empty()) {
            connection* c = idle_.back();
            idle_.pop_back();
            const auto due = pending_.front();
            pending_.pop_front();
            const std::string& path = opt_.paths[next_path_++ % opt_.paths.size()];
            c->send(path, due);
        }
    }

    // Ends the run once nothing is due, queued or in flight: closes the connections and the drain timer.
    void maybe_finish() {
        if (generating_ || finished_ || !pending_.empty() || idle_.size() != connections_.size())
            return;
        finished_ = true;
        drain_.cancel();
        for (auto& c : connections_)
            c->close_gracefully();
    }

    asio::io_context& io_;
    load_options opt_;
    tcp::endpoint endpoint_;
    asio::steady_timer pacer_;
    asio::steady_timer drain_;
    clock_type::duration interval_;
    clock_type::time_point start_;
    clock_type::time_point end_;
    clock_type::time_point last_answer_;
    std::int64_t scheduled_ = 0;
    bool generating_ = true;
    bool draining_ = false;
    bool finished_ = false;
    std::deque<clock_type::time_point> pending_;
    std::vector<std::unique_ptr<connection>> connections_;
    std::vector<connection*> idle_;
    std::size_t next_path_ = 0;
    std::vector<double> latencies_ms_;
    std::int64_t errors_ = 0;
    std::int64_t unsent_ = 0;
};

void connection::send(std::string path, clock_type::time_point due) {
    due_ = due;
    request_ = {};
    request_.method(bhttp::verb::get);
    request_.target(path);
    request_.version(11);
    request_.set(bhttp::field::host, owner_.options().host + ":" + std::to_string(owner_.options().port));
    request_.set(bhttp::field::user_agent, "pgexport-bench-load-client");
    if (!owner_.options().api_key.empty())
        request_.set(bhttp::field::authorization, "Bearer " + owner_.options().api_key);
    request_.keep_alive(true);
    stream_.expires_after(std::chrono::duration_cast<clock_type::duration>(owner_.timeout()));
    if (connected_) {
        write_request();
        return;
    }
    stream_.async_connect(owner_.endpoint(), [this](beast::error_code ec) {
        if (ec)
            return finish(false);
        connected_ = true;
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        write_request();
    });
}

void connection::write_request() {
    bhttp::async_write(stream_, request_, [this](beast::error_code ec, std::size_t) {
        if (ec)
            return finish(false);
        parser_.emplace();
        parser_->body_limit(64 << 20);
        bhttp::async_read(stream_, buffer_, *parser_,
                          [this](beast::error_code ec, std::size_t) { on_read(ec); });
    });
}

void connection::on_read(beast::error_code ec) {
    if (ec)
        return finish(false);
    const auto& res = parser_->get();
    const bool ok = res.result() == bhttp::status::ok;
    if (!res.keep_alive()) {
        close_gracefully();
        connected_ = false;
    }
    finish(ok);
}

void connection::finish(bool ok) {
    if (!ok) {
        // The connection's state is unknown after a failure: start the next request on a fresh one.
        abort();
        connected_ = false;
        buffer_.clear();
    }
    owner_.completed(*this, due_, ok);
}

namespace {

int usage(const char* why) {
    if (why)
        std::fprintf(stderr, "load_client: %s\n", why);
    std::fprintf(stderr,
                 "usage: load_client --port P --path PATH [--path PATH ...] [--rate 1000] [--duration 10]\n"
                 "                   [--connections 16] [--timeout 5] [--host 127.0.0.1] [--api-key KEY]\n");
    return 2;
}

double parse_number(const char* text, const char* name, double min, double max) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (!*text || *end || !(v >= min && v <= max))
        throw std::invalid_argument(std::string(name) + " must be a number from " + std::to_string(min) +
                                    " to " + std::to_string(max));
    return v;
}

} // namespace

int run(int argc, char** argv) {
    load_options opt;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string_view a = argv[i];
            if (a == "--help" || a == "-h") {
                usage(nullptr);
                return 0;
            }
            if (i + 1 >= argc)
                return usage("every option takes a value");
            const char* v = argv[++i];
            if (a == "--host")
                opt.host = v;
            else if (a == "--port")
                opt.port = static_cast<unsigned short>(parse_number(v, "--port", 1, 65535));
            else if (a == "--path")
                opt.paths.emplace_back(v);
            else if (a == "--rate")
                opt.rate = parse_number(v, "--rate", 1, 1e6);
            else if (a == "--duration")
                opt.duration = parse_number(v, "--duration", 0.1, 3600);
            else if (a == "--connections")
                opt.connections = static_cast<int>(parse_number(v, "--connections", 1, 1000));
            else if (a == "--timeout")
                opt.timeout = parse_number(v, "--timeout", 0.1, 600);
            else if (a == "--api-key")
                opt.api_key = v;
            else
                return usage(("unknown option " + std::string(a)).c_str());
        }
        if (opt.port == 0 || opt.paths.empty())
            return usage("--port and --path are required");
        for (const auto& p : opt.paths)
            if (p.empty() || p.front() != '/')
                return usage("a path starts with /");
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(opt.host, ec);
        if (ec || !address.is_loopback())
            return usage(
                "--host must be a loopback address such as 127.0.0.1: this tool only loads this machine");
    } catch (const std::invalid_argument& e) {
        return usage(e.what());
    }

    asio::io_context io(1);
    load_run run(io, opt);
    run.start();
    io.run();
    run.print_report();
    return 0;
}

} // namespace pgexport::bench

int main(int argc, char** argv) {
    return pgexport::bench::run(argc, argv);
}

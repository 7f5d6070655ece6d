#pragma once
// The HTTP server: an Asio acceptor and one coroutine per connection, serving the API over the engine.

#include <pgexport/engine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pgexport::http {

struct server_config {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::vector<std::string> api_keys;        // none: the API is open (to loopback clients unless no_auth)
    // No keys on purpose (--no-auth): something in front authenticates. Without it and without keys, a
    // request that a proxy forwarded (X-Forwarded-For, Forwarded) is refused with 401.
    bool no_auth = false;
    std::vector<std::string> allowed_hosts;   // Host names served besides the listen address and loopback
    std::vector<std::string> allowed_origins; // origins besides the server's own that may change state
    std::vector<std::string> trusted_proxies; // CIDRs whose X-Forwarded-For names the client
    std::string secret;                       // HMAC key of owners and signed links; needed with api_keys
    std::chrono::seconds link_ttl{3600};      // how long status's signed downloadUrl works
    std::size_t max_body_bytes = 1 << 20;     // larger request bodies get 413
    std::size_t max_header_bytes = 16 * 1024; // larger headers get 431
    std::chrono::seconds read_timeout{30};    // per request, headers and body
    std::size_t max_connections = 1000;       // more: the longest-waiting idle connection is closed, else 503
    std::size_t max_connections_per_address = 256; // the same, per client IP address
    std::uint64_t min_download_rate = 4096;   // bytes/s a download reader must keep up after read_timeout
    std::size_t max_streams_per_client = 16;  // event streams open at once per API key (or client address)
    // A job list shows a job's request only up to this many bytes of JSON (?requests=full: all of them).
    std::size_t list_request_bytes = 4096;
    // /healthz reads the database and the object storage at most this often; callers in between share.
    std::chrono::milliseconds health_cache{1000};
};

// The owner names that earlier versions recorded for `config.api_keys`, each with today's.
std::vector<std::pair<std::string, std::string>> owner_renames(const server_config& config);

// Renames the owners of jobs created by earlier versions (owner_renames) in `engine`, which must have
// started, so that those jobs stay visible to their keys. Idempotent: every instance may run it at start.
// Logs how many jobs it renamed; the database being away is logged too (the next start tries again).
boost::asio::awaitable<void> async_rename_legacy_owners(engine::export_engine& engine, const server_config& config);

class server {
public:
    server(boost::asio::io_context& io, engine::export_engine& engine, server_config config);
    ~server();

    // Binds and listens; throws std::runtime_error when the address cannot be bound.
    void listen();
    // The port actually bound (useful with port 0).
    unsigned short port() const;
    // Accepts connections until stop().
    boost::asio::awaitable<void> async_run();
    // Stops accepting new connections.
    void stop();
    // After stop(): closes the connections that wait for a request, lets the requests in flight finish
    // (a download to its last byte, an event stream to its end) and closes each connection after its
    // answer; at `deadline` closes whatever is still open. Returns once no connection is left.
    boost::asio::awaitable<void> async_drain(std::chrono::steady_clock::duration deadline);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace pgexport::http

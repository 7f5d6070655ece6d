#pragma once
// What every part of the server shares: the engine, the configuration, the keys and the counters.
// Used on the server's single-threaded io_context only.

#include "api_json.hpp"
#include "auth.hpp"
#include "client_address.hpp"
#include "client_view.hpp"
#include "guards.hpp"
#include "link_signing.hpp"
#include "metrics.hpp"
#include "response.hpp"
#include "static_files.hpp"

#include <pgexport/http/server.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::http {

// The open connections, so that one waiting for a request can be closed to make room for a new client:
// idle connections must not starve new ones (a slow or idle client holds a slot only while nobody else
// needs it).
class connection_registry {
public:
    struct slot {
        std::string address;                 // the client's IP address
        bool waiting = true;                 // reading a request: may be closed to make room
        std::chrono::steady_clock::time_point since{}; // when it began waiting
        std::function<void()> close;         // cancels its I/O
    };
    using id = std::uint64_t;

    id add(std::string address, std::function<void()> close);
    void remove(id which);
    void set_waiting(id which, bool waiting);
    std::size_t size() const { return slots_.size(); }
    std::size_t count(std::string_view address) const;
    // Closes the connection that has waited longest (of `address` only, when given). False when none waits.
    bool evict_oldest_waiting(std::optional<std::string_view> address = std::nullopt);

    // Shutting down: every connection waiting for a request is closed now, and a connection that answers
    // one closes after its answer (no keep-alive). Requests in flight run to their end.
    void begin_drain();
    bool draining() const { return draining_; }
    // Closes every connection still open (the drain's deadline passed).
    void close_all();

private:
    std::map<id, slot> slots_;
    id next_ = 1;
    bool draining_ = false;
};

// Bodies made once for every caller that shares what they show: a job list that the engine gave several
// callers at once (export_engine::async_list) is serialized once, not once per caller. An entry lives as
// long as the list it was made from.
class shared_bodies {
public:
    template <class Make>
    std::shared_ptr<const std::string> get(const std::shared_ptr<const void>& source, Make make) {
        std::erase_if(entries_, [](const auto& e) { return e.first.expired(); });
        for (const auto& [from, body] : entries_)
            if (!from.owner_before(source) && !source.owner_before(from))
                return body;
        auto body = std::make_shared<const std::string>(make());
        entries_.emplace_back(source, body);
        return body;
    }

private:
    std::vector<std::pair<std::weak_ptr<const void>, std::shared_ptr<const std::string>>> entries_;
};

// The event streams open per client (--max-streams-per-client): a stream holds a slot for its life.
class stream_slots {
public:
    class slot {
    public:
        slot(stream_slots& owner, std::string client) : owner_(owner), client_(std::move(client)) {}
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        ~slot() {
            if (auto it = owner_.open_.find(client_); it != owner_.open_.end() && --it->second == 0)
                owner_.open_.erase(it);
        }

    private:
        stream_slots& owner_;
        std::string client_;
    };

    // A slot for `client`, or nullptr when it holds `max` already. The slot goes back when the last copy
    // of the pointer goes (with the stream).
    std::shared_ptr<slot> try_open(const std::string& client, std::size_t max) {
        auto& n = open_[client];
        if (n >= max) {
            if (n == 0)
                open_.erase(client);
            return nullptr;
        }
        ++n;
        return std::make_shared<slot>(*this, client);
    }
    std::size_t open(const std::string& client) const {
        auto it = open_.find(client);
        return it == open_.end() ? 0 : it->second;
    }

private:
    std::map<std::string, std::size_t> open_;
};

// What /healthz last found, shared by the probes of the next health_cache (a probe must not make the
// server ping its database or its object storage at the prober's rate).
struct health_snapshot {
    bool reachable = false;
    bool started = false;
    std::optional<std::string> storage_problem;
    std::chrono::steady_clock::time_point at{};
};

struct server_context {
    server_context(boost::asio::io_context& io, engine::export_engine& engine, server_config config)
        : io(io), engine(engine), config(std::move(config)), auth(this->config.api_keys, this->config.secret),
          origins(host_allow_list(this->config.host, this->config.allowed_hosts), this->config.allowed_origins),
          proxies(this->config.trusted_proxies),
          page_csp(page_content_security_policy(storage_origin(engine.config().s3))),
          view(make_client_view(engine.config().data_dir.string(), storage_origin(engine.config().s3).value_or(""))) {}

    boost::asio::io_context& io;
    engine::export_engine& engine;
    const server_config config;
    const authenticator auth;
    const origin_policy origins; // and the Host names served (origins.hosts())
    const trusted_proxies proxies;
    const std::string page_csp; // the page's Content-Security-Policy
    const client_view view;     // what clients see of paths and endpoints in a job's fields
    unsigned short listen_port = 0; // once bound
    request_counts requests;
    connection_registry connections;
    stream_slots streams;
    std::optional<health_snapshot> health;
    bool health_refreshing = false;
    shared_bodies list_bodies; // GET /api/export
    request_texts job_requests; // jobs' requests, serialized once
};

// Who sent a request.
struct client_info {
    std::string address;         // the client's IP address (through --trusted-proxy: the one it names)
    std::string scheme = "http"; // what the client used: "https" when a trusted proxy says so
    bool proxied = false;        // the request names a proxy hop (X-Forwarded-For or Forwarded), trusted or not
};

// One request as the handlers see it.
struct request_context {
    const request_t& req;
    std::string_view path;                // the target before '?'
    std::string_view query;               // after '?', without it
    std::vector<std::string_view> params; // the route's {name} values
    auth_result auth;
    client_info client;
    std::optional<download_link> link; // a signed link's parameters, on a download with keys configured
};

// Whose quotas and caps a request counts against (--max-jobs-per-key, --max-streams-per-client): its API
// key's owner; without keys, its client's address.
inline std::string quota_key(const request_context& rc) {
    return rc.auth.kind == auth_result::outcome::owner ? rc.auth.owner : "addr:" + rc.client.address;
}

} // namespace pgexport::http

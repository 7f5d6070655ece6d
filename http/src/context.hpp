#pragma once
// What every part of the server shares: the engine, the configuration, the keys and the counters.
// Used on the server's single-threaded io_context only.

#include "api_json.hpp"
#include "auth.hpp"
#include "guards.hpp"
#include "link_signing.hpp"
#include "metrics.hpp"
#include "response.hpp"

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

struct server_context {
    server_context(boost::asio::io_context& io, engine::export_engine& engine, server_config config)
        : io(io), engine(engine), config(std::move(config)), auth(this->config.api_keys, this->config.secret),
          hosts(this->config.host, this->config.allowed_hosts) {}

    boost::asio::io_context& io;
    engine::export_engine& engine;
    const server_config config;
    const authenticator auth;
    const host_allow_list hosts;
    request_counts requests;
    connection_registry connections;
    shared_bodies list_bodies; // GET /api/export
    request_texts job_requests; // jobs' requests, serialized once
};

// One request as the handlers see it.
struct request_context {
    const request_t& req;
    std::string_view path;                // the target before '?'
    std::string_view query;               // after '?', without it
    std::vector<std::string_view> params; // the route's {name} values
    auth_result auth;
    std::string peer_address;          // the client's IP address
    std::optional<download_link> link; // a signed link's parameters, on a download with keys configured
};

} // namespace pgexport::http

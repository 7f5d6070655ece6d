#include "events.hpp"

#include "handlers.hpp"
#include "sse.hpp"

#include <pgexport/log.hpp>

#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace pgexport::http::handlers {

namespace {

// The job as its owner may see it; nullopt when it cannot be read now (the database is away); a problem
// when the stream must end (the job was deleted, or an unexpected failure, which is logged).
asio::awaitable<std::optional<engine::result<engine::job_info>>> read_job(server_context& ctx, const std::string& id,
                                                                          const engine::owner_filter& owner) {
    try {
        auto status = co_await ctx.engine.async_status(id, owner);
        if (!status && status.error().code == engine::errc::unavailable)
            co_return std::nullopt; // looked at again shortly; pings keep the stream open meanwhile
        co_return status;
    } catch (const boost::system::system_error&) {
        throw; // cancelled: the client is gone
    } catch (const std::exception& e) {
        log_event("error", "events_status_failed", {{"job", id}, {"error", e.what()}});
    }
    co_return engine::problem{engine::errc::unavailable, "the job's status could not be read"};
}

asio::awaitable<void> stream_events(server_context& ctx, std::string id, engine::owner_filter owner,
                                    body_writer& out) {
    using clock = event_pacer::clock;
    engine::job_watch watch = ctx.engine.watch(id); // before the first look: no change falls between
    event_pacer pacer(clock::now());
    for (;;) {
        auto job = co_await read_job(ctx, id, owner);
        if (job && !*job)
            co_return; // deleted meanwhile (or unreadable): nothing more will be said of it
        std::optional<engine::job_status> status;
        std::string data;
        if (job) {
            status = (*job)->status;
            data = status_json(ctx, **job);
        }
        const auto now = clock::now();
        switch (pacer.step(now, status, data)) {
        case event_pacer::send::progress:
            co_await out.async_write(sse_event("progress", data));
            break;
        case event_pacer::send::final_event:
            co_await out.async_write(sse_event(engine::to_string(*status), data));
            co_return;
        case event_pacer::send::ping:
            co_await out.async_write(sse_comment("ping"));
            break;
        case event_pacer::send::nothing:
            break;
        }
        const engine::watch_outcome woke = co_await watch.async_wait(pacer.next_look(now));
        if (woke == engine::watch_outcome::stopping)
            co_return; // the server shuts down: the client reconnects, or polls, elsewhere
    }
}

} // namespace

asio::awaitable<reply> export_events(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    // A stream holds a connection for as long as its job runs, and is never idle: each client may hold a
    // few (--max-streams-per-client), so that one client cannot take every connection of the server.
    const std::string client = quota_key(rc);
    auto slot = ctx.streams.try_open(client, ctx.config.max_streams_per_client);
    if (!slot)
        co_return reply{error_response(v, http_errc::too_many_streams,
                                       "this client has " + std::to_string(ctx.config.max_streams_per_client) +
                                           " event streams open already, as many as the server allows "
                                           "(--max-streams-per-client); close one, or poll the job's status"),
                        "other", nullptr};
    auto job = co_await ctx.engine.async_status(std::string(rc.params.at(0)), rc.auth.owner_filter());
    if (!job)
        co_return reply{problem_response(v, job.error()), "other", nullptr};
    reply r;
    r.response = string_response(bhttp::status::ok, v);
    r.response.set(bhttp::field::content_type, "text/event-stream");
    r.response.set(bhttp::field::cache_control, "no-store");
    r.response.set("X-Accel-Buffering", "no"); // a proxy in front (nginx) must not hold events back
    r.stream = [&ctx, id = job->id, owner = rc.auth.owner_filter(), slot = std::move(slot)](body_writer& out) {
        return stream_events(ctx, id, owner, out);
    };
    co_return r;
}

} // namespace pgexport::http::handlers

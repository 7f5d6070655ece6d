#include "handlers.hpp"

#include "api_json.hpp"
#include "download.hpp"
#include "query.hpp"
#include "static_files.hpp"

#include <pgexport/log.hpp>
#include <pgexport/version.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <limits>
#include <sys/stat.h>

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace pgexport::http::handlers {

namespace {

string_response text_response(unsigned version, std::string_view content_type, std::string body) {
    string_response res(bhttp::status::ok, version);
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

reply of(string_response res) {
    reply r;
    r.response = std::move(res);
    return r;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Status's downloadUrl: with keys a signed link, which works without one; else nullopt (the plain path).
std::optional<std::string> download_url(const server_context& ctx, const engine::job_info& job) {
    if (!ctx.auth.keys_configured() || job.status != engine::job_status::completed)
        return std::nullopt;
    return signed_download_url(ctx.config.secret, job.id, unix_now() + ctx.config.link_ttl.count());
}

// nullopt when `link` is good for job `id` now; else the 403 to answer.
std::optional<reply> refuse_link(const server_context& ctx, unsigned v, std::string_view id, const download_link& link) {
    const link_check check = verify_download(ctx.config.secret, id, link.expires, link.signature, unix_now());
    if (check == link_check::ok)
        return std::nullopt;
    return of(error_response(v, http_errc::invalid_signature,
                             check == link_check::expired
                                 ? "this download link has expired; the job's status gives a new one (downloadUrl)"
                                 : "this download link's signature is not valid for this job and expiry (altered or "
                                   "incomplete?); the job's status gives a valid one (downloadUrl)"));
}

// The job a route's {id} names, as its owner may see it.
asio::awaitable<engine::result<engine::job_info>> job_of(server_context& ctx, const request_context& rc) {
    co_return co_await ctx.engine.async_status(std::string(rc.params.at(0)), rc.auth.owner_filter());
}

// The database and the object storage as /healthz last found them. A healthy finding is reused for
// health_cache, so that probes at any rate cost one ping and one HEAD a second; an unhealthy one is checked
// again at the next probe (an operator wants to see the way back at once). Probes that come while a check
// runs get the last finding.
asio::awaitable<health_snapshot> current_health(server_context& ctx) {
    const auto now = std::chrono::steady_clock::now();
    if (ctx.health && (ctx.health_refreshing || (ctx.health->reachable && !ctx.health->storage_problem &&
                                                  now - ctx.health->at < ctx.config.health_cache)))
        co_return *ctx.health;
    ctx.health_refreshing = true;
    struct done {
        bool& flag;
        ~done() { flag = false; }
    } guard{ctx.health_refreshing};
    health_snapshot h;
    h.reachable = co_await ctx.engine.async_ping();
    // Object storage out of reach degrades the service (downloads and publishing wait), it does not stop it.
    h.storage_problem = co_await ctx.engine.async_storage_problem();
    h.at = std::chrono::steady_clock::now();
    // Why the storage is out of reach names its endpoint: the log's, not a client's.
    const std::optional<std::string> before = ctx.health ? ctx.health->storage_problem : std::nullopt;
    if (h.storage_problem && h.storage_problem != before)
        log_event("warning", "storage_unreachable", {{"error", *h.storage_problem}});
    else if (!h.storage_problem && before)
        log_event("info", "storage_reachable", {});
    ctx.health = h;
    co_return h;
}

} // namespace

awaitable<reply> healthz(server_context& ctx, const request_context& rc) {
    // Ready means the database answers and the engine has started (migrated, jobs resumed).
    const health_snapshot h = co_await current_health(ctx);
    const bool ready = h.reachable && ctx.engine.started();
    const char* status = !ready ? (h.reachable ? "starting" : "unavailable") : h.storage_problem ? "degraded" : "ok";
    json::object body{{"status", status}};
    // The parts and the version for those who may use the API; a probe without a key learns the status.
    const bool detailed = !ctx.auth.keys_configured() ||
                          ctx.auth.check(header_value(rc.req, bhttp::field::authorization)).kind ==
                              auth_result::outcome::owner;
    if (detailed) {
        body["database"] = h.reachable ? "reachable" : "unreachable";
        body["version"] = pgexport::version();
        if (ctx.engine.config().s3)
            body["storage"] = h.storage_problem ? "unreachable" : "reachable";
    }
    co_return of(json_response(rc.req.version(), ready ? bhttp::status::ok : bhttp::status::service_unavailable,
                               body));
}

awaitable<reply> metrics(server_context& ctx, const request_context& rc) {
    metrics_input in;
    auto counts = co_await ctx.engine.async_count_jobs();
    if (!counts)
        co_return of(problem_response(rc.req.version(), counts.error()));
    in.jobs_by_status = std::move(*counts);
    in.engine = ctx.engine.stats();
    in.running_here = ctx.engine.running_count();
    in.snapshots = ctx.engine.snapshots_held();
    in.open_connections = ctx.connections.size();
    in.requests = ctx.requests;
    co_return of(text_response(rc.req.version(), "text/plain; version=0.0.4", format_metrics(in)));
}

awaitable<reply> openapi(server_context&, const request_context& rc) {
    co_return of(text_response(rc.req.version(), "application/json", std::string(openapi_document())));
}

awaitable<reply> records(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    auto q = parse_records_query(rc.query);
    if (!q)
        co_return of(problem_response(v, q.error()));
    auto page = co_await ctx.engine.async_list_records(std::move(q->request), q->after, q->limit);
    if (!page)
        co_return of(problem_response(v, page.error()));
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
    co_return of(text_response(v, "application/json", std::move(body)));
}

awaitable<reply> table_schema(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    auto name = parse_schema_query(rc.query);
    if (!name)
        co_return of(problem_response(v, name.error()));
    if (!ctx.engine.started())
        co_return of(problem_response(
            v, {engine::errc::unavailable, "the server is starting: the database has not been reached yet"}));
    std::vector<std::string> tables;
    for (const auto& s : ctx.engine.schemas())
        tables.push_back(s.table);
    const engine::table_schema* schema = *name ? ctx.engine.find_schema(**name) : &ctx.engine.schema();
    if (!schema) {
        std::string list;
        for (const auto& t : tables)
            list += (list.empty() ? "" : ", ") + t;
        co_return of(problem_response(
            v, {engine::errc::not_found, "this server exports no table \"" + **name + "\"; its tables: " + list}));
    }
    co_return of(json_response(v, bhttp::status::ok, schema_json(*schema, tables, ctx.engine.config().max_parallelism)));
}

awaitable<reply> create_export(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    json::value body = json::object();
    if (!rc.req.body().empty()) {
        boost::system::error_code ec;
        json::parse_options options;
        options.max_depth = 32;
        body = json::parse(rc.req.body(), ec, {}, options);
        if (ec)
            co_return of(error_response(v, http_errc::invalid_json,
                                        "the request body is not valid JSON: " + ec.message()));
    }
    auto request = engine::parse_export_request(body);
    if (!request)
        co_return of(problem_response(v, request.error()));
    auto id = co_await ctx.engine.async_create(std::move(*request), rc.auth.owner_filter(), quota_key(rc));
    if (!id)
        co_return of(problem_response(v, id.error()));
    auto res = json_response(v, bhttp::status::accepted, json::object{{"jobId", *id}});
    res.set(bhttp::field::location, "/api/export/" + *id + "/status");
    co_return of(std::move(res));
}

awaitable<reply> list_exports(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    auto q = parse_list_query(rc.query);
    if (!q)
        co_return of(problem_response(v, q.error()));
    auto listed = co_await ctx.engine.async_list(rc.auth.owner_filter(), q->limit);
    if (!listed)
        co_return of(problem_response(v, listed.error()));
    const engine::job_list jobs = std::move(*listed);
    // A list shows small requests whole and large ones by their size, unless asked for all of them: the
    // page polls it, and a thousand jobs of a megabyte of filter values each would be a gigabyte.
    const std::optional<std::size_t> max_request =
        q->full_requests ? std::nullopt : std::optional<std::size_t>(ctx.config.list_request_bytes);
    auto make = [&ctx, &jobs, max_request] {
        std::string text = "[";
        for (const auto& j : *jobs) {
            if (text.size() > 1)
                text += ',';
            text += job_json_text(j, ctx.job_requests, std::nullopt, &ctx.view, max_request);
        }
        text += "]\n";
        return text;
    };
    auto body = q->full_requests ? std::make_shared<const std::string>(make()) : ctx.list_bodies.get(jobs, make);
    co_return of(json_text_response(v, bhttp::status::ok, *body));
}

awaitable<reply> delete_export(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    auto done = co_await ctx.engine.async_delete(std::string(rc.params.at(0)), rc.auth.owner_filter());
    if (!done)
        co_return of(problem_response(v, done.error()));
    if (done->action == engine::delete_action::cancelled) {
        std::string text = job_json_text(done->job, ctx.job_requests, std::nullopt, &ctx.view);
        text += '\n';
        co_return of(json_text_response(v, bhttp::status::ok, std::move(text)));
    }
    // An ended job: its file and its record are gone.
    string_response res(bhttp::status::no_content, v);
    res.set(bhttp::field::cache_control, "no-store");
    co_return of(std::move(res));
}

std::string status_json(server_context& ctx, const engine::job_info& job) {
    return job_json_text(job, ctx.job_requests, download_url(ctx, job), &ctx.view);
}

awaitable<reply> export_status(server_context& ctx, const request_context& rc) {
    auto job = co_await job_of(ctx, rc);
    if (!job)
        co_return of(problem_response(rc.req.version(), job.error()));
    std::string text = status_json(ctx, *job);
    text += '\n';
    co_return of(json_text_response(rc.req.version(), bhttp::status::ok, std::move(text)));
}

awaitable<reply> download_export(server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    const std::string_view id = rc.params.at(0);
    if (rc.link) {
        // The signature names the job: whoever holds the link may fetch it, key or not.
        if (auto refused = refuse_link(ctx, v, id, *rc.link))
            co_return std::move(*refused);
    }
    // Named before the co_await: GCC 12 frees a ?: temporary inside a co_await expression twice.
    engine::owner_filter owner = rc.link ? std::nullopt : rc.auth.owner_filter();
    auto job = co_await ctx.engine.async_status(std::string(id), std::move(owner));
    if (!job)
        co_return of(problem_response(v, job.error()));
    if (job->status == engine::job_status::expired)
        co_return of(error_response(v, http_errc::expired, expired_message(*job)));
    if (job->status != engine::job_status::completed)
        co_return of(error_response(v, http_errc::not_ready,
                                    "job " + job->id + " is " + std::string(engine::to_string(job->status)) +
                                        "; the file can be downloaded once it is completed"));
    // In object storage: a presigned URL of the object, for as long as a signed link lives, and never
    // longer than the link it was asked with (a link that expires in a minute buys a minute).
    std::chrono::seconds ttl = ctx.config.link_ttl;
    if (rc.link)
        if (auto expires = parse_whole(rc.link->expires, 0, std::numeric_limits<std::int64_t>::max()))
            ttl = std::min(ttl, std::chrono::seconds(std::max<std::int64_t>(1, *expires - unix_now())));
    auto opened = co_await ctx.engine.async_open_download(*job, ttl);
    if (!opened)
        co_return of(problem_response(v, opened.error()));
    if (opened->redirect) {
        string_response res(bhttp::status::found, v);
        res.set(bhttp::field::location, *opened->redirect);
        res.set(bhttp::field::cache_control, "no-store");
        res.prepare_payload();
        co_return of(std::move(res));
    }
    co_return download_reply(rc.req, job->id, unique_fd(opened->fd), opened->size,
                             engine::download_file_name(job->id, job->request), engine::download_content_type(job->request));
}

} // namespace pgexport::http::handlers

#include "queue/job_intake.hpp"

#include "files/data_dir.hpp"
#include "format/request_fields.hpp"
#include "format/sql.hpp"
#include "policy/webhook_target.hpp"
#include "util/offload.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

result<const table_schema*> schema_for(const engine_state& state, const export_request& request) {
    if (const table_schema* schema = state.find_schema(request.table))
        return schema;
    std::string names;
    for (const auto& t : state.tables()) {
        if (!names.empty())
            names += ", ";
        names += t;
    }
    std::string message = "this server exports no table \"";
    message += request.table.value_or("");
    message += "\"; its tables: ";
    message += names;
    return problem{errc::invalid_request, std::move(message)};
}

std::optional<problem> canonicalize(table_catalog& catalog, const table_schema& schema, export_request& request) {
    for (filter& f : request.filters) {
        std::vector<std::string> texts;
        for (const auto& v : f.values)
            if (v)
                texts.push_back(*v);
        if (texts.empty())
            continue;
        auto canonical = catalog.canonical_values(f.column, schema.find(f.column)->cast_type(), texts);
        if (!canonical)
            return canonical.error();
        std::size_t next = 0;
        for (auto& v : f.values)
            if (v)
                *v = std::move((*canonical)[next++]);
    }
    return std::nullopt;
}

asio::awaitable<std::optional<problem>> async_check_free_space(engine_state& state) {
    const std::uint64_t min = state.config.min_free_disk;
    if (min == 0)
        co_return std::nullopt;
    auto ask = [dir = state.config.data_dir] { return free_space(dir); };
    const auto free = co_await async_offload(state.file_pool, std::move(ask));
    if (!free || *free >= min)
        co_return std::nullopt;
    co_return problem{errc::insufficient_storage,
                      "the server's data directory has " + format_size(*free) + " free, less than the " +
                          format_size(min) +
                          " it keeps free (--min-free-disk); new exports are refused until space is freed"
                          " (download and delete finished exports, or ask the operator)"};
}

asio::awaitable<std::optional<problem>> async_check_notify(engine_state& state, const notify_request& notify) {
    if (state.config.notify.key.empty())
        co_return problem{errc::invalid_request,
                          "this server sends no notifications (it has no webhook secret): leave \"notify\" out"};
    auto url = parse_webhook_url(notify.url);
    if (!url)
        co_return url.error();
    asio::ip::tcp::resolver resolver(state.executor);
    boost::system::error_code ec;
    const auto found = co_await resolver.async_resolve(url->host, std::to_string(url->port),
                                                       asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
        co_return problem{errc::invalid_request, "\"notify\": \"url\": the host " + url->host +
                                                     " cannot be resolved (" + ec.message() + ")"};
    std::vector<asio::ip::address> addresses;
    for (const auto& entry : found)
        addresses.push_back(entry.endpoint().address());
    if (auto why = refuse_addresses(url->host, addresses, state.config.notify.allowed_hosts))
        co_return problem{errc::invalid_request, "\"notify\": \"url\": " + *why};
    co_return std::nullopt;
}

asio::awaitable<result<std::optional<std::int64_t>>>
async_resolve_since(engine_state& state, export_request& request, const std::optional<std::string>& owner) {
    if (!request.since)
        co_return std::optional<std::int64_t>{};
    // The earlier job as its record stands (not memory: its fixed end is there); another client's is as
    // unknown here as it is to status.
    auto get = [id = request.since->job, tables = state.tables()](job_repository& r) {
        return r.get(id, tables);
    };
    std::optional<stored_job> earlier;
    try {
        earlier = co_await state.on_reads(std::move(get));
    } catch (const unavailable_error& e) {
        co_return problem{errc::unavailable, e.what()};
    }
    if (!earlier || (owner && earlier->info.owner != owner))
        co_return problem{
            errc::invalid_request,
            "\"since\": there is no export job " + request.since->job +
                " (an incremental export continues a completed job of yours whose record is still"
                " kept: completed or expired, not deleted)"};
    if (auto p = check_since_job(earlier->info, earlier->table, request.table))
        co_return *p;
    request = inherit_request(std::move(request), earlier->info.request);
    request.table = earlier->table;
    co_return earlier->key_upper_bound;
}

result<stored_job> prepare_job(table_catalog& catalog, const table_schema& schema, stored_job job,
                               export_request request, std::int64_t min_slice_rows) {
    if (auto p = canonicalize(catalog, schema, request))
        return *p;
    job.info.request = std::move(request);
    // With the primary's WAL position, for --replica: a standby reads no chunk before it has replayed it.
    auto end = catalog.fixed_end_of(schema);
    job.key_upper_bound = end.max_key;
    // An incremental job's end is never below its start, so that the next one, since this, never goes
    // back over keys that were taken (the highest rows may have been deleted since).
    const std::optional<std::int64_t> from = job.info.from_key;
    if (from && (!job.key_upper_bound || *job.key_upper_bound < *from))
        job.key_upper_bound = from;
    job.wal_lsn = std::move(end.wal_lsn);
    // Planned even on an empty table: that is what proves every filter's operator exists for its
    // column's type (json has no "=", for one) before the job is accepted.
    try {
        job.info.total_rows_estimate = catalog.estimate_rows(
            estimate_sql(schema, job.info.request, from, job.key_upper_bound.value_or(0)));
    } catch (const pg_error& e) {
        if (!e.sqlstate().starts_with("42"))
            throw;
        return problem{errc::invalid_value, std::string("a filter does not fit its column's type: ") + e.what()};
    }
    if (!job.key_upper_bound)
        job.info.total_rows_estimate = 0;
    // Fixed now, with the end: every attempt and every instance walks the same slices. Decided from the
    // planner's estimate before any sample is taken, so a small selection costs no sample either.
    const int wanted =
        slice_count(job.info.request.parallelism, job.info.total_rows_estimate, min_slice_rows);
    if (job.key_upper_bound && wanted > 1) {
        const auto bounds = catalog.plan_slices(schema, job.info.request, from, *job.key_upper_bound, wanted);
        if (bounds.size() > 1)
            job.slices = initial_states(bounds);
    }
    // What the job runs with, which its status reports: lower than asked for a small selection.
    job.info.request.parallelism = std::max<int>(1, static_cast<int>(job.slices.size()));
    return job;
}

asio::awaitable<result<records_page>> async_records_page(engine_state& state, export_request request,
                                                       std::optional<std::int64_t> after, int limit) {
    if (!state.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    auto schema = schema_for(state, request);
    if (!schema)
        co_return schema.error();
    if (auto p = check_columns(**schema, request))
        co_return *p;
    using page_rows = std::vector<std::pair<std::int64_t, std::string>>;
    auto query = [&schema = **schema, request = std::move(request), after,
                  limit](table_catalog& c) mutable -> result<page_rows> {
        if (auto p = canonicalize(c, schema, request))
            return *p;
        return c.records(records_page_sql(schema, request, after, limit));
    };
    // On the listing's own connections (store/listing_pool): busy, or too slow, is a problem to answer.
    result<page_rows> rows = problem{errc::unavailable, ""};
    try {
        rows = co_await state.listings.async_run<page_rows>(std::move(query));
    } catch (const unavailable_error& e) {
        rows = problem{errc::unavailable, e.what()};
    }
    if (!rows)
        co_return rows.error();
    records_page page;
    for (auto& [key, json] : *rows)
        page.rows_json.push_back(std::move(json));
    if (static_cast<int>(rows->size()) == limit && !rows->empty())
        page.next_after = rows->back().first;
    co_return page;
}

} // namespace pgexport::engine::detail

#pragma once
// A request on its way to becoming a job (or a records page): the table it names, its filter values as
// PostgreSQL reads them, room on disk, and the job's fixed end and estimate from the catalog.

#include "runtime/engine_state.hpp"
#include "store/job_repository.hpp"
#include "store/table_catalog.hpp"

#include <pgexport/error.hpp>
#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>

namespace pgexport::engine::detail {

// The schema a request names, or the problem: a table this instance does not serve.
result<const table_schema*> schema_for(const engine_state& state, const export_request& request);

// Fixes every filter value as PostgreSQL reads it now ('now' or 'today' must not move between chunks);
// the problem when one does not parse as its column's type. On the catalog thread.
std::optional<problem> canonicalize(table_catalog& catalog, const table_schema& schema, export_request& request);

// The guard of new exports: insufficient_storage while the data directory's file system has less free
// space than min_free_disk. A file system that cannot be asked is not a reason to refuse.
boost::asio::awaitable<std::optional<problem>> async_check_free_space(engine_state& state);

// The check of a request's "notify" at creation: the server must have a webhook key, and the URL's host
// must resolve (now, asynchronously) to addresses the rule of policy/webhook_target allows;
// invalid_request saying why not. The rule is applied again at every try.
boost::asio::awaitable<std::optional<problem>> async_check_notify(engine_state& state, const notify_request& notify);

// A request's "since": the earlier job read from the job store, checked (check_since_job), and `request`
// completed from its request (inherit_request; the table named as the earlier job's). Answers the key the
// new job's rows are above: the earlier job's fixed end (nullopt without "since", or when that job found
// the table empty). invalid_request when there is no such job (or it is another owner's, `owner` given) or
// it may not be continued; unavailable while the database is away.
boost::asio::awaitable<result<std::optional<std::int64_t>>>
async_resolve_since(engine_state& state, export_request& request, const std::optional<std::string>& owner);

// The job to insert: its request canonicalized, its fixed end (the highest key now; with "since", at least
// job.info.from_key, which the rows are above), its estimate and its slices (slice_count of the request's
// parallelism, the estimate and `min_slice_rows`), with the request's parallelism set to the number of slices
// it runs; invalid_value when a filter does not fit its column's type. On the catalog thread.
result<stored_job> prepare_job(table_catalog& catalog, const table_schema& schema, stored_job job,
                               export_request request, std::int64_t min_slice_rows);

// One page of /api/records (see export_engine::async_list_records), on the listings' own connections.
boost::asio::awaitable<result<records_page>> async_records_page(engine_state& state, export_request request,
                                                               std::optional<std::int64_t> after, int limit);

} // namespace pgexport::engine::detail

// job_repository's statement for a snapshot job ("consistency": "snapshot", docs/consistency.md): its
// snapshot recorded with the checkpoint the file is of under it.

#include "store/job_repository.hpp"

namespace pgexport::engine::detail {

lease_state job_repository::record_snapshot(const std::string& id, const std::string& owner, std::int64_t token,
                                            const recorded_snapshot& snapshot, int restarts,
                                            std::optional<std::int64_t> key_upper_bound, const slice_state& progress,
                                            const std::vector<slice_state>& slices, int attempts) {
    const bool parallel = !slices.empty();
    const slice_totals totals = parallel ? totals_of(slices) : slice_totals{progress.rows, progress.bytes};
    const std::optional<std::int64_t> last = parallel ? watermark(slices) : progress.last;
    const std::string sql = fenced_sql(
        "snapshot = $5::jsonb, snapshot_restarts = $6, key_upper_bound = $7, last_processed_id = $8,"
        " rows_exported = $9, bytes_written = $10, slices = coalesce($11::jsonb, slices), attempts = $12",
        "running",
        // Starting over (no rows vouched for): a Parquet job's row groups of the snapshot before go too.
        ", rg AS (DELETE FROM export_row_groups WHERE job_id = $1::uuid AND $9::bigint = 0"
        " AND EXISTS (SELECT FROM upd))");
    const sql_params params{id, owner, std::to_string(token), std::to_string(lease_.count()),
                            snapshot_to_json(snapshot), std::to_string(restarts), opt_int(key_upper_bound),
                            opt_int(last), std::to_string(totals.rows), std::to_string(totals.bytes),
                            parallel ? std::optional<std::string>(slices_to_json(slices)) : std::nullopt,
                            std::to_string(attempts)};
    // Safe to repeat whole: the same values again.
    auto write = [&] {
        session_.run_once("SET LOCAL synchronous_commit = on");
        return session_.run_once(sql, params);
    };
    result_ptr r = session_.transaction(write);
    return lease_answer(r.get());
}

} // namespace pgexport::engine::detail

#include "store/row_group_records.hpp"

namespace pgexport::engine::detail {

std::string record_row_groups(const std::vector<row_group_batch>& batches, sql_params& params) {
    std::string rows = "[";
    for (const auto& batch : batches)
        for (std::size_t i = 0; i < batch.groups.size(); ++i) {
            if (rows.size() > 1)
                rows += ',';
            rows += "{\"file\":" + std::to_string(batch.file) +
                    ",\"ordinal\":" + std::to_string(batch.first + static_cast<std::int64_t>(i)) +
                    ",\"info\":" + batch.groups[i] + "}";
        }
    if (rows.size() == 1)
        return {};
    rows += ']';
    params.push_back(std::move(rows));
    return ", rg AS (INSERT INTO export_row_groups (job_id, file, ordinal, info)"
           " SELECT $1::uuid, (g->>'file')::integer, (g->>'ordinal')::integer, g->'info'"
           " FROM upd, jsonb_array_elements($" + std::to_string(params.size()) + "::jsonb) AS g"
           " ON CONFLICT (job_id, file, ordinal) DO UPDATE SET info = EXCLUDED.info)";
}

std::string drop_row_groups(std::string_view ended) {
    return " dropped AS (DELETE FROM export_row_groups g USING " + std::string(ended) + " e WHERE g.job_id = e.id)";
}

} // namespace pgexport::engine::detail

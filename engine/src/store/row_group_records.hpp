#pragma once
// Parquet's row-group records (export_row_groups) as part of a fenced checkpoint statement.

#include "store/job_repository.hpp"

#include <string>
#include <vector>

namespace pgexport::engine::detail {

// The part of a checkpoint's statement that records `batches` (a CTE `rg` after `upd`), its parameter
// appended to `params`; nothing when there are none. A repeat of the statement, or of a batch, writes the
// same rows again.
std::string record_row_groups(const std::vector<row_group_batch>& batches, sql_params& params);

} // namespace pgexport::engine::detail

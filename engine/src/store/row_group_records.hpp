#pragma once
// Parquet's row-group records (export_row_groups) as part of a fenced checkpoint statement, and their
// removal by the statement that ends the job.

#include "store/job_repository.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// The part of a checkpoint's statement that records `batches` (a CTE `rg` after `upd`), its parameter
// appended to `params`; nothing when there are none. A repeat of the statement, or of a batch, writes the
// same rows again.
std::string record_row_groups(const std::vector<row_group_batch>& batches, sql_params& params);

// A CTE `dropped` (for a WITH list, without commas) deleting the row-group records of the jobs that the
// CTE `ended` returns (their export_jobs rows): the statement that completes, fails or cancels a job
// removes them, since only a later attempt of a running job reads them.
std::string drop_row_groups(std::string_view ended);

} // namespace pgexport::engine::detail

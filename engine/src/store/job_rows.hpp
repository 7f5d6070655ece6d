#pragma once
// How a job is read from export_jobs: the columns every statement that returns jobs selects
// (`job_columns`, with the latest notification's delivery) and their reading into a stored_job.

#include "store/job_repository.hpp"

#include <optional>
#include <vector>

namespace pgexport::engine::detail {

extern const char* const job_columns;

// A bigint of microseconds since the epoch (as job_columns selects times), or nullopt for NULL.
std::optional<timestamp> micros(const PGresult* r, int row, int column);

// A job read from job_columns, which start at column `at` of the result; a large request is parsed once
// (`parsed`).
stored_job read_job_at(const PGresult* r, int row, int at, fifo_cache<export_request>& parsed);
stored_job read_job(const PGresult* r, int row, fifo_cache<export_request>& parsed);
std::vector<stored_job> read_jobs(const PGresult* r, fifo_cache<export_request>& parsed);

} // namespace pgexport::engine::detail

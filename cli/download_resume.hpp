#pragma once
// When the `export` client may resume a partial download, and how it checks the server's answer. Pure:
// no I/O, for tests.
//
// The client downloads to <output>.part and keeps beside it <output>.part.json, the part's record:
// {"jobId": "<id>", "etag": "<the download's ETag>"} (etag only when the server sent one). The record
// is written after the part was emptied and before any byte of the job goes in, so whenever it names a
// job, every byte of the part is that job's, from the start of its file. A part is resumed only when its
// record names the same job; the Range request then carries If-Range with the ETag when one is known.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::cli {

struct part_record {
    std::string job_id;
    std::optional<std::string> etag;
};

// The record's JSON text, and back; nullopt for anything that is not a record (then the part is not
// resumed).
std::string format_part_record(const part_record& record);
std::optional<part_record> parse_part_record(std::string_view text);

struct resume_plan {
    std::uint64_t offset = 0; // where the download starts: 0, or the part's size when it is resumed
    std::string reason;       // why an existing part is not resumed; empty otherwise
};

// What to do with a part of `part_size` bytes (nullopt: none) and its record (nullopt: none or
// unreadable), for job `job_id` whose file has `expected` bytes. offset == expected means the part is
// already whole.
resume_plan plan_resume(const std::optional<part_record>& record, std::string_view job_id,
                        std::optional<std::uint64_t> part_size, std::uint64_t expected);

// "bytes <first>-<last>/<total>" of a 206 answer; nullopt for anything else (a "*" total included).
struct content_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t total = 0;
};
std::optional<content_range> parse_content_range(std::string_view header);

// An ETag that If-Range may carry: a strong one ("…", not W/"…").
bool is_strong_etag(std::string_view etag);

} // namespace pgexport::cli

#pragma once
// Publishing a finished export, in fenced steps, as pure decisions. A lease publishes in this order:
//   1. its partial file holds the whole export, fdatasync'd;
//   2. a fenced write records `publishing` {its token, the file's length}: from then on that file's bytes
//      *are* the export, whichever lease finishes the job (no lease exports another chunk);
//   3. the bytes are made the finished export: link(2) of the partial file to <job>.csv, which never
//      replaces a file (in object storage: the recorded multipart upload completed);
//   4. a fenced write records `completed`;
//   5. the job's partial files are removed (the job no longer runs: nobody else writes them).
// A crash (or a lost lease) between any two steps leaves a state that plan_publish() takes up again to the
// same bytes: before step 2 the export goes on from its checkpoint; after it, the recorded file is
// published as it is. Only a holder of the lease (step 2 is fenced) ever starts publishing, so every lease
// that links or completes an upload publishes the same bytes, and a link that finds <job>.csv there found
// those bytes. tests/unit/engine/policy/publish_plan.cpp runs every crash point and the interleavings of a
// stale holder with the lease that took the job over.

#include <cstdint>
#include <optional>
#include <string>

namespace pgexport::engine::detail {

// Step 2's record: lease `token`'s partial file, `bytes` long, is the export.
struct publish_record {
    std::int64_t token = 0;
    std::int64_t bytes = 0;
    bool operator==(const publish_record&) const = default;
};

std::string to_json(const publish_record& r);
std::optional<publish_record> publish_record_from_json(const std::string& text);

// What an attempt finds before it writes, for a job whose record says `publishing`.
struct publish_facts {
    publish_record recorded;
    std::int64_t published_bytes = -1; // the finished export (<job>.csv, or the object): its length, -1 absent
    std::int64_t recorded_part_bytes = -1; // the recorded lease's partial file: its length, -1 absent
    bool upload_recorded = false;      // object storage: the multipart upload of every byte is recorded
};

enum class publish_action {
    complete,      // the finished export is there with the recorded length: record the completion (step 4)
    publish,       // publish the recorded bytes (step 3), then complete
    start_over,    // the recorded bytes are gone (the data directory was changed behind our back): export again
    refuse,        // a finished export of another length is there: changed behind our back; never replaced
};

struct publish_decision {
    publish_action action;
    std::string reason; // for start_over, and when a finished export of another length is found
};

// For a job whose record says `publishing`: what the attempt does instead of exporting.
publish_decision plan_publish(const publish_facts& facts);

// Step 3 in the data directory, when link(2) finds <job>.csv there already: another lease published it,
// and by the protocol it holds the same bytes. True when that is plausible (the same length); false means
// the data directory was changed behind our back: the finished file is left alone and the job fails loudly
// rather than replace it.
bool published_file_matches(std::int64_t existing_bytes, std::int64_t our_bytes);

} // namespace pgexport::engine::detail

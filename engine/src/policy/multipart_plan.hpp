#pragma once
// The bookkeeping of one S3 multipart upload, pure: which byte ranges of the export file are parts, what a
// checkpoint records of them, and what a resumed job keeps after a crash. No I/O; the S3 client and the
// job runner do the uploading and the recording.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// A part S3 has acknowledged: its number (from 1), the ETag it answered and how many bytes it holds.
struct uploaded_part {
    int number = 0;
    std::string etag{};
    std::int64_t bytes = 0;
    bool operator==(const uploaded_part&) const = default;
};

// What a checkpoint records of an upload (export_jobs.upload, JSON): the object's key, the upload's id
// and its acknowledged parts in order.
struct multipart_state {
    std::string key{};
    std::string upload_id{};
    std::vector<uploaded_part> parts{};
    bool operator==(const multipart_state&) const = default;
};

// {"key":…,"uploadId":…,"parts":[{"number":1,"etag":"…","bytes":5242880},…]}
std::string to_json(const multipart_state& state);
// nullopt when `text` is not such an object.
std::optional<multipart_state> multipart_state_from_json(std::string_view text);

// One part to upload: bytes [offset, offset + bytes) of the file.
struct part_range {
    int number = 0;
    std::int64_t offset = 0;
    std::int64_t bytes = 0;
    bool operator==(const part_range&) const = default;
};

class multipart_plan {
public:
    // S3 refuses parts under 5 MiB but the last (and more than 10,000 parts: 16 MiB parts make 160 GiB).
    static constexpr std::int64_t min_part_size = std::int64_t{5} << 20;
    static constexpr int max_parts = 10000;

    // Parts of `part_size` bytes (the last one shorter), after the parts `done` (what a checkpoint
    // recorded; kept only as far as they are numbered 1, 2, 3… without a gap).
    explicit multipart_plan(std::int64_t part_size, std::vector<uploaded_part> done = {});

    // The next part when the file holds `available` bytes: a full part as soon as there are enough bytes
    // for one; with `final` (the file is whole) also the short last part, or an empty one for an empty
    // file. nullopt: nothing to upload now (wait for bytes, or every byte is in a part). Throws
    // std::length_error, saying which --s3-part-size would do, when the part would be number 10,001.
    std::optional<part_range> next(std::int64_t available, bool final) const;

    // Records the part just uploaded; it must be the one next() named. Throws std::logic_error otherwise.
    void record(uploaded_part part);

    // Bytes in the recorded parts: where the next part starts.
    std::int64_t uploaded_bytes() const noexcept { return uploaded_; }
    const std::vector<uploaded_part>& parts() const noexcept { return parts_; }
    // True when the recorded parts hold exactly `total` bytes (and at least one part: S3 needs one).
    bool covers(std::int64_t total) const noexcept { return !parts_.empty() && uploaded_ == total; }

    // After a crash: the recorded parts that S3 still lists with the same ETag and size, up to the first
    // that it does not (a part recorded but lost, or overwritten, is uploaded again with what follows).
    static std::vector<uploaded_part> reconcile(const std::vector<uploaded_part>& recorded,
                                                const std::vector<uploaded_part>& listed);

private:
    std::int64_t part_size_;
    std::vector<uploaded_part> parts_;
    std::int64_t uploaded_ = 0;
};

// What an attempt does with the upload its checkpoint recorded, before it writes.
enum class upload_action {
    resume,    // go on after the parts kept
    completed, // the upload was completed already: the job completes
    start_new, // a new upload (and abort the old one if `abort_old`)
};
struct upload_decision {
    upload_action action = upload_action::start_new;
    bool abort_old = false;      // the old upload is still open in the store
    bool restart_export = false; // the local file may have given up bytes the store no longer has
    bool operator==(const upload_decision&) const = default;
};

// `recorded`: bytes of the parts the checkpoint recorded (0 without an upload); `kept`: of those, the ones
// the store still lists as recorded (all of them for a store without ListParts); `gone`: the store does not
// know the upload (or there is none); `object`: the size of the object under the job's key, if any;
// `checkpoint`: the bytes the attempt goes on from (-1: not known); `streaming`: a single stream, whose
// local file frees each part's bytes once the part is recorded.
upload_decision decide_upload(std::int64_t recorded, std::int64_t kept, bool gone, std::optional<std::int64_t> object,
                              std::int64_t checkpoint, bool streaming);

} // namespace pgexport::engine::detail

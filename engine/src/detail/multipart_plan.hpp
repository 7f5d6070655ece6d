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

    // Parts of `part_size` bytes (the last one shorter), after the parts `done` (what a checkpoint
    // recorded; kept only as far as they are numbered 1, 2, 3… without a gap).
    explicit multipart_plan(std::int64_t part_size, std::vector<uploaded_part> done = {});

    // The next part when the file holds `available` bytes: a full part as soon as there are enough bytes
    // for one; with `final` (the file is whole) also the short last part, or an empty one for an empty
    // file. nullopt: nothing to upload now (wait for bytes, or every byte is in a part).
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

} // namespace pgexport::engine::detail

#pragma once
// A job's files in the data directory, by name, and who may remove which. Each lease of a job writes
// partial files of its own (<job>.<lease token>.csv.part; a parallel job's slice k
// <job>.<lease token>.s<k>.csv.part); the finished export is <job>.csv. The rules that keep instances
// sharing the directory from harming each other:
// - an attempt writes, truncates and removes only its own lease's files, and reads (copies) the file the
//   checkpoint names;
// - the files of older leases are removed only by the holder of a newer lease, after the database has
//   confirmed a checkpoint (or the publishing record) of its own: they are vouched for no more, and
//   their holders can never write a record again;
// - every partial file of a job is removed only once its record says it ended (completed, failed,
//   cancelled), or by a cancel, which makes the record final first;
// - <job>.csv is created only by link(2), which never replaces a file (see policy/publish_plan.hpp).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace pgexport::engine::detail {

class export_files {
public:
    explicit export_files(std::filesystem::path dir) : dir_(std::move(dir)) {}

    const std::filesystem::path& dir() const { return dir_; }
    // <job>.<token>.csv.part; <job>.csv.part (version 1's) without a token.
    std::filesystem::path part(const std::string& id, std::optional<std::int64_t> token) const;
    std::filesystem::path slice(const std::string& id, std::int64_t token, std::size_t slice) const;
    std::filesystem::path final(const std::string& id) const;

    // Removes the job's partial files of leases older than `token` (version 1's too): for the holder of
    // lease `token`, once the job store confirmed a write of its own. Blocking; returns how many went.
    int remove_older_leases(const std::string& id, std::int64_t token) const;
    // Removes the job's partial files of leases up to `token` but lease `token`'s whole-file part: for its
    // holder once the job store confirmed its publishing record, which names that part as the only bytes a
    // resume may need (a parallel job's slices are in it). A newer lease's files stay: the holder may have
    // lost the job since. Blocking; returns how many went.
    int remove_all_but_part(const std::string& id, std::int64_t token) const;
    // Removes every partial file of the job, whichever lease wrote it: for a job whose record says it
    // ended, or was cancelled. Blocking; returns how many went.
    int remove_partials(const std::string& id) const;

private:
    int remove_partials_if(const std::string& id, std::optional<std::int64_t> older_than,
                           const std::filesystem::path& keep = {}) const;

    std::filesystem::path dir_;
};

} // namespace pgexport::engine::detail

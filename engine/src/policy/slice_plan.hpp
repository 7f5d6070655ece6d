#pragma once
// A parallel export's slices, pure (no I/O): the key range (lowest, or an incremental export's start ..
// fixed end] cut into ranges of about
// equal rows from a sorted sample of keys, the state of each slice as its checkpoints record it, and what
// the job's progress is made of (rows, bytes, lastProcessedId) while several slices run at once.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

// after < key <= upper; no lower bound when `after` is nullopt (the first slice).
struct slice_bounds {
    std::optional<std::int64_t> after;
    std::int64_t upper = 0;

    friend bool operator==(const slice_bounds&, const slice_bounds&) = default;
};

// How many slices a selection of about `estimated_rows` rows gets when `requested` were asked for: as many
// as leave each at least `min_rows_per_slice` rows, at most `requested`, at least one. A slice costs a
// connection, a part file and a join however few rows it holds, so a small selection runs best as one.
// `min_rows_per_slice` of 0 or 1, or no estimate at all, slices as requested.
int slice_count(int requested, std::optional<std::int64_t> estimated_rows, std::int64_t min_rows_per_slice);

// At most `n` slices over (after .. fixed_end] (no lower bound when `after` is nullopt), cut at the
// `sample`'s quantiles: `sample` is sorted keys that stand for the selected rows in proportion (every key,
// a TABLESAMPLE of them, or pg_stats' histogram bounds, which are equal-frequency by construction). Keys
// above fixed_end are ignored, and cuts at or below `after` dropped. Cuts that would repeat are dropped, so
// a sample with fewer distinct keys than `n` gives fewer slices; an empty sample, or n <= 1, gives one
// slice. The slices are contiguous, in key order: the first starts after `after`, the last ends at fixed_end.
std::vector<slice_bounds> slices_from_sample(std::span<const std::int64_t> sample,
                                             std::optional<std::int64_t> after, std::int64_t fixed_end,
                                             int n);

// `n` slices of about equal key width over (lowest - 1 .. fixed_end], the first starting after `after`
// (the keys at or below it are not in the range; `lowest` is the lowest key above it): the fallback when
// nothing tells where the rows are. Fewer when the range holds fewer keys than `n`.
std::vector<slice_bounds> even_slices(std::optional<std::int64_t> after, std::int64_t lowest,
                                      std::int64_t fixed_end, int n);

// One slice as its last checkpoint left it.
struct slice_state {
    slice_bounds bounds;
    std::optional<std::int64_t> last; // the last key written; nullopt before its first chunk
    std::int64_t rows = 0;
    std::int64_t bytes = 0; // of its own part file
    bool done = false;      // its last chunk came back short: nothing is left in its range

    // Where its next chunk starts: after the last key written, else after its lower bound.
    std::optional<std::int64_t> cursor() const { return last ? last : bounds.after; }

    friend bool operator==(const slice_state&, const slice_state&) = default;
};

std::vector<slice_state> initial_states(const std::vector<slice_bounds>& bounds);

struct slice_totals {
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
};

slice_totals totals_of(std::span<const slice_state> slices);

// The highest key below which every selected row is written (lastProcessedId of a parallel job): the
// progress of the first slice that is not done (nullopt when it has none and no lower bound); the last
// slice's upper bound once every slice is done. nullopt for no slices.
std::optional<std::int64_t> watermark(std::span<const slice_state> slices);

bool all_done(std::span<const slice_state> slices);

// The slices as stored with the job (export_jobs.slices, jsonb): [{"after", "upper", "last", "rows",
// "bytes", "done"}...]. Reading returns nullopt for anything that is not such an array.
std::string slices_to_json(std::span<const slice_state> slices);
std::optional<std::vector<slice_state>> slices_from_json(std::string_view text);

} // namespace pgexport::engine::detail

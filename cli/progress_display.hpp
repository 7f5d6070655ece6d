#pragma once
// What the `export` client shows on stderr while a job runs and while its file downloads: a bar redrawn
// in place on a terminal, a plain line every few seconds (and at each change of state) otherwise, nothing
// with --quiet.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace pgexport::cli {

// "1,234,567". Pure.
std::string with_commas(long long n);

// The progress line, e.g. "[########------------]  40%  400,000/1,000,000 rows  98,000 rows/s  ETA 6s".
// Pure, for tests. `estimate` <= 0 means unknown (no percent, no ETA).
std::string progress_line(long long rows, long long estimate, double rows_per_second, int width);

class progress_display {
public:
    progress_display(bool quiet, bool terminal) : quiet_(quiet), terminal_(terminal) {}

    // A message line of its own (ends a bar being drawn first).
    void say(const std::string& text);
    // The job is `state` with `rows` of about `estimate` exported.
    void job(const std::string& state, long long rows, long long estimate);
    // `bytes` of `expected` downloaded (drawn on a terminal only, at most five times a second).
    void download(std::uint64_t bytes, std::uint64_t expected);
    // Ends what is drawn in place, so that the next output starts on a line of its own: a job's bar stays,
    // a download's line goes.
    void end_line();

private:
    using clock = std::chrono::steady_clock;
    bool quiet_;
    bool terminal_;
    enum class drawn { nothing, bar, download };
    drawn drawn_ = drawn::nothing; // what is on the terminal's current line
    long long last_rows_ = -1;
    std::string last_state_;
    clock::time_point last_print_ = clock::now() - std::chrono::hours(1);
    std::optional<std::pair<clock::time_point, long long>> first_sample_; // for the rate
};

} // namespace pgexport::cli

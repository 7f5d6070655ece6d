#include "progress_display.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace pgexport::cli {

std::string with_commas(long long n) {
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string progress_line(long long rows, long long estimate, double rows_per_second, int width) {
    std::string line;
    if (estimate > 0) {
        const double fraction = std::min(1.0, static_cast<double>(rows) / static_cast<double>(estimate));
        const int filled = static_cast<int>(fraction * width);
        // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "[" + std::string.
        line.push_back('[');
        line.append(static_cast<std::size_t>(filled), '#');
        line.append(static_cast<std::size_t>(width - filled), '-');
        line += "] ";
        char pct[8];
        std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
        line += pct;
        line.append("  ").append(with_commas(rows)).append("/").append(with_commas(estimate)).append(" rows");
    } else {
        line.append(with_commas(rows)).append(" rows");
    }
    if (rows_per_second > 0) {
        line += "  " + with_commas(static_cast<long long>(rows_per_second)) + " rows/s";
        if (estimate > rows) {
            const long long eta =
                static_cast<long long>((static_cast<double>(estimate - rows)) / rows_per_second);
            line += "  ETA " + (eta >= 60 ? std::to_string(eta / 60) + "m" + std::to_string(eta % 60) + "s"
                                          : std::to_string(eta) + "s");
        }
    }
    return line;
}

void progress_display::say(const std::string& text) {
    if (quiet_)
        return;
    end_line();
    std::cerr << text << "\n";
}

void progress_display::job(const std::string& state, long long rows, long long estimate) {
    const auto now = clock::now();
    if (!first_sample_ && state == "running")
        first_sample_ = {now, rows};
    double rate = 0;
    if (first_sample_) {
        const double seconds = std::chrono::duration<double>(now - first_sample_->first).count();
        if (seconds > 0.2)
            rate = static_cast<double>(rows - first_sample_->second) / seconds;
    }
    const long long shown_estimate = state == "completed" ? rows : estimate;
    if (!quiet_) {
        if (terminal_) {
            std::cerr << "\r\033[K" << state << " " << progress_line(rows, shown_estimate, rate, 30) << std::flush;
            drawn_ = drawn::bar;
        } else if (state != last_state_ || (rows != last_rows_ && now - last_print_ > std::chrono::seconds(2))) {
            std::cerr << state << " " << progress_line(rows, shown_estimate, rate, 20) << "\n";
            last_print_ = now;
        }
    }
    last_rows_ = rows;
    last_state_ = state;
}

void progress_display::download(std::uint64_t bytes, std::uint64_t expected) {
    if (quiet_ || !terminal_)
        return;
    const auto now = clock::now();
    if (now - last_print_ < std::chrono::milliseconds(200))
        return;
    std::cerr << "\r\033[Kdownloading " << with_commas(static_cast<long long>(bytes)) << "/"
              << with_commas(static_cast<long long>(expected)) << " bytes" << std::flush;
    drawn_ = drawn::download;
    last_print_ = now;
}

void progress_display::end_line() {
    if (quiet_ || drawn_ == drawn::nothing)
        return;
    std::cerr << (drawn_ == drawn::bar ? "\n" : "\r\033[K");
    drawn_ = drawn::nothing;
}

} // namespace pgexport::cli

#pragma once
// Command-line options: --name value, --name=value and --flag, with fallbacks to the environment.
// Pure: the environment is passed in, so it can be tested.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::cli {

struct option_spec {
    std::string name;       // without the leading dashes
    std::string value_name; // empty for a flag
    std::string help;
    std::string default_value; // shown in --help; empty for none
    std::string env;           // environment variable consulted when the flag is absent
    bool repeatable = false;
};

class options {
public:
    // Parses args (after the command). Throws std::invalid_argument with a message for a person.
    options(const std::vector<option_spec>& specs, const std::vector<std::string>& args,
            const std::function<std::optional<std::string>(const std::string&)>& getenv);

    bool help() const { return help_; }
    bool flag(const std::string& name) const;
    // True when the option was given on the command line (not from the environment or its default).
    bool given(const std::string& name) const { return values_.contains(name); }
    // The flag's value, else the environment's, else the default; nullopt when none.
    std::optional<std::string> get(const std::string& name) const;
    std::vector<std::string> all(const std::string& name) const;
    // get() as an integer in [min, max]; throws std::invalid_argument naming the option.
    long long get_int(const std::string& name, long long min, long long max) const;
    // get() as a duration (parse_duration) in [min, max]; throws std::invalid_argument naming the option.
    std::chrono::milliseconds get_duration(const std::string& name, std::chrono::milliseconds min,
                                           std::chrono::milliseconds max) const;
    // get() as a size (parse_size) in [min, max] bytes; throws std::invalid_argument naming the option.
    std::uint64_t get_size(const std::string& name, std::uint64_t min, std::uint64_t max) const;

private:
    const option_spec& spec(const std::string& name) const;
    std::vector<option_spec> specs_;
    std::map<std::string, std::vector<std::string>> values_;
    std::function<std::optional<std::string>(const std::string&)> getenv_;
    bool help_ = false;
};

// "500ms", "15s", "10m", "2h", "7d" (a whole number and a unit); nullopt for anything else.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A size in bytes: a whole number and a binary unit, "512KiB", "64MiB", "1GiB", "2TiB", or bytes ("4096",
// "4096B"); nullopt for anything else (decimal units like "1GB" too, and sizes past 2^64 - 1).
std::optional<std::uint64_t> parse_size(std::string_view text);

// --storage s3://BUCKET[/PREFIX]: the bucket and the prefix (no leading or trailing '/'); nullopt when
// `text` is not such a URL (an empty bucket, a bucket with characters S3 refuses).
struct s3_location {
    std::string bucket;
    std::string prefix;
};
std::optional<s3_location> parse_s3_url(std::string_view text);

// True when `host` (an address as --listen takes it, or "localhost") reaches this machine only: 127.0.0.0/8,
// ::1, an IPv4-mapped loopback address. Pure.
bool is_loopback(std::string_view host);

// `s` without the blanks (space, tab, CR) around it. Pure.
std::string_view trim_blanks(std::string_view s);

// The lines of a settings file's text (a key file, the AWS credentials), each without the blanks (space,
// tab, CR) around it; blank lines and those starting with one of `comment` left out. Pure.
std::vector<std::string_view> setting_lines(std::string_view text, std::string_view comment = "#");

// The --help text of a command.
std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<option_spec>& specs);

} // namespace pgexport::cli

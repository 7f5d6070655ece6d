#include "options.hpp"

#include <boost/asio/ip/address.hpp>

#include <limits>

#include <charconv>
#include <stdexcept>

namespace pgexport::cli {

options::options(const std::vector<option_spec>& specs, const std::vector<std::string>& args,
                 const std::function<std::optional<std::string>(const std::string&)>& getenv)
    : specs_(specs), getenv_(getenv) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            help_ = true;
            continue;
        }
        if (!arg.starts_with("--"))
            throw std::invalid_argument("unexpected argument \"" + arg + "\" (options start with --)");
        std::string name = arg.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        const option_spec& s = spec(name);
        if (s.value_name.empty()) {
            if (value)
                throw std::invalid_argument("--" + name + " takes no value");
            value = "true";
        } else if (!value) {
            if (i + 1 >= args.size())
                throw std::invalid_argument("--" + name + " needs a value (" + s.value_name + ")");
            value = args[++i];
        }
        auto& slot = values_[name];
        if (!slot.empty() && !s.repeatable)
            throw std::invalid_argument("--" + name + " given twice");
        slot.push_back(*value);
    }
}

const option_spec& options::spec(const std::string& name) const {
    for (const auto& s : specs_)
        if (s.name == name)
            return s;
    throw std::invalid_argument("unknown option --" + name + " (see --help)");
}

bool options::flag(const std::string& name) const {
    auto v = get(name);
    return v && (*v == "true" || *v == "1" || *v == "yes");
}

std::optional<std::string> options::get(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end() && !it->second.empty())
        return it->second.back();
    const option_spec& s = spec(name);
    if (!s.env.empty())
        if (auto v = getenv_(s.env); v && !v->empty())
            return v;
    if (!s.default_value.empty())
        return s.default_value;
    return std::nullopt;
}

std::vector<std::string> options::all(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end())
        return it->second;
    const option_spec& s = spec(name);
    std::vector<std::string> out;
    if (!s.env.empty())
        if (auto v = getenv_(s.env); v && !v->empty()) {
            // A list in the environment is comma-separated.
            std::size_t start = 0;
            while (start <= v->size()) {
                auto end = v->find(',', start);
                if (end == std::string::npos)
                    end = v->size();
                if (end > start)
                    out.push_back(v->substr(start, end - start));
                start = end + 1;
            }
        }
    return out;
}

long long options::get_int(const std::string& name, long long min, long long max) const {
    auto v = get(name);
    if (!v)
        throw std::invalid_argument("--" + name + " is required");
    long long n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max)
        throw std::invalid_argument("--" + name + " must be a whole number from " + std::to_string(min) +
                                    " to " + std::to_string(max) + ", not \"" + *v + "\"");
    return n;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    long long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data() || n < 0)
        return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    long long ms_per_unit = 0;
    if (unit == "ms")
        ms_per_unit = 1;
    else if (unit == "s")
        ms_per_unit = 1000;
    else if (unit == "m")
        ms_per_unit = 60'000;
    else if (unit == "h")
        ms_per_unit = 3'600'000;
    else if (unit == "d")
        ms_per_unit = 86'400'000;
    else
        return std::nullopt;
    if (n > std::numeric_limits<long long>::max() / ms_per_unit)
        return std::nullopt;
    return std::chrono::milliseconds(n * ms_per_unit);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data())
        return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    int shift = 0;
    if (unit.empty() || unit == "B")
        shift = 0;
    else if (unit == "KiB")
        shift = 10;
    else if (unit == "MiB")
        shift = 20;
    else if (unit == "GiB")
        shift = 30;
    else if (unit == "TiB")
        shift = 40;
    else
        return std::nullopt;
    if (n > (std::numeric_limits<std::uint64_t>::max() >> shift))
        return std::nullopt;
    return n << shift;
}

std::uint64_t options::get_size(const std::string& name, std::uint64_t min, std::uint64_t max) const {
    auto v = get(name);
    if (!v)
        throw std::invalid_argument("--" + name + " is required");
    auto n = parse_size(*v);
    if (!n || *n < min || *n > max)
        throw std::invalid_argument("--" + name + " must be a size such as 512KiB, 64MiB or 1GiB, from " +
                                    std::to_string(min) + " to " + std::to_string(max) + " bytes, not \"" + *v +
                                    "\"");
    return *n;
}

std::chrono::milliseconds options::get_duration(const std::string& name, std::chrono::milliseconds min,
                                                std::chrono::milliseconds max) const {
    auto v = get(name);
    if (!v)
        throw std::invalid_argument("--" + name + " is required");
    auto d = parse_duration(*v);
    if (!d || *d < min || *d > max)
        throw std::invalid_argument("--" + name + " must be a duration such as 500ms, 15s, 10m or 7d, from " +
                                    std::to_string(min.count()) + "ms to " + std::to_string(max.count()) +
                                    "ms, not \"" + *v + "\"");
    return *d;
}

std::string usage(const std::string& command, const std::string& summary,
                  const std::vector<option_spec>& specs) {
    std::string text = "usage: pgexport " + command + " [options]\n\n" + summary + "\n\noptions:\n";
    for (const auto& s : specs) {
        std::string left = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
        if (left.size() < 30)
            left.resize(30, ' ');
        else
            left += "\n" + std::string(30, ' ');
        text += left + s.help;
        if (!s.default_value.empty())
            text += " [" + s.default_value + "]";
        if (!s.env.empty())
            text += " (env " + s.env + ")";
        if (s.repeatable)
            text += " (repeatable)";
        text += "\n";
    }
    text += "  --help                      this text\n";
    return text;
}

std::string_view trim_blanks(std::string_view s) {
    constexpr std::string_view blanks = " \t\r";
    const auto first = s.find_first_not_of(blanks);
    if (first == std::string_view::npos)
        return {};
    return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

std::vector<std::string_view> setting_lines(std::string_view text, std::string_view comment) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        const std::string_view line = trim_blanks(text.substr(0, newline));
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        if (!line.empty() && comment.find(line.front()) == std::string_view::npos)
            lines.push_back(line);
    }
    return lines;
}

bool is_loopback(std::string_view host) {
    if (host == "localhost")
        return true;
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(std::string(host), ec);
    if (ec)
        return false;
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
}

std::optional<s3_location> parse_s3_url(std::string_view text) {
    constexpr std::string_view scheme = "s3://";
    if (!text.starts_with(scheme))
        return std::nullopt;
    text.remove_prefix(scheme.size());
    const auto slash = text.find('/');
    const std::string_view bucket = text.substr(0, slash);
    // S3's bucket names: 3 to 63 of lowercase letters, digits, '.' and '-'.
    if (bucket.size() < 3 || bucket.size() > 63)
        return std::nullopt;
    for (char c : bucket)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return std::nullopt;
    std::string_view prefix = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/')
        prefix.remove_suffix(1);
    if (prefix.starts_with('/') || prefix.find("//") != std::string_view::npos)
        return std::nullopt;
    return s3_location{std::string(bucket), std::string(prefix)};
}

} // namespace pgexport::cli

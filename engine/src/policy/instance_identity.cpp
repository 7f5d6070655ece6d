#include "policy/instance_identity.hpp"

#include <charconv>

namespace pgexport::engine::detail {

namespace {

std::string boot_tag(const process_facts& p) {
    std::string tag;
    for (char c : p.boot_id) {
        if (tag.size() == 8)
            break;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
            tag += c;
    }
    return tag;
}

template <class T> std::optional<T> number(std::string_view text) {
    T value{};
    if (text.empty() || text.size() > 20)
        return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

std::string default_instance_id(const process_facts& self, std::string_view nonce) {
    std::string id = self.host;
    id += ':';
    id += std::to_string(self.pid);
    id += ':';
    id += boot_tag(self).empty() ? std::string("nobootid") : boot_tag(self);
    id += '-';
    id += std::to_string(self.pid_namespace);
    id += '-';
    id += nonce;
    return id;
}

std::optional<std::int64_t> pid_to_probe(std::string_view owner, const process_facts& self) {
    const std::string boot = boot_tag(self);
    if (boot.size() != 8 || self.pid_namespace == 0 || self.host.empty())
        return std::nullopt;
    // <host>:<pid>:<boot>-<pidns>-<nonce>; a host name has no ':' (gethostname), but read from the end.
    const auto last = owner.rfind(':');
    if (last == std::string_view::npos)
        return std::nullopt;
    const auto middle = owner.rfind(':', last == 0 ? 0 : last - 1);
    if (middle == std::string_view::npos || middle == 0)
        return std::nullopt;
    if (owner.substr(0, middle) != self.host)
        return std::nullopt;
    const auto pid = number<std::int64_t>(owner.substr(middle + 1, last - middle - 1));
    const std::string_view tag = owner.substr(last + 1);
    const auto dash1 = tag.find('-');
    const auto dash2 = dash1 == std::string_view::npos ? dash1 : tag.find('-', dash1 + 1);
    if (!pid || *pid <= 0 || dash2 == std::string_view::npos)
        return std::nullopt;
    if (tag.substr(0, dash1) != boot)
        return std::nullopt;
    const auto ns = number<std::uint64_t>(tag.substr(dash1 + 1, dash2 - dash1 - 1));
    if (!ns || *ns != self.pid_namespace)
        return std::nullopt;
    return pid;
}

} // namespace pgexport::engine::detail

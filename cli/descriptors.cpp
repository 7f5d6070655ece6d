#include "descriptors.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sys/resource.h>

namespace pgexport::cli {

namespace {

// The kernel's ceiling on a process's descriptors (fs.nr_open), which an unlimited hard limit stands for.
std::uint64_t kernel_ceiling() {
    std::ifstream in("/proc/sys/fs/nr_open");
    std::uint64_t n = 0;
    if (in >> n && n > 0)
        return n;
    return 1 << 20;
}

} // namespace

descriptor_limit raise_descriptor_limit() {
    descriptor_limit out;
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        out.error = errno;
        return out;
    }
    const std::uint64_t hard = limit.rlim_max == RLIM_INFINITY ? kernel_ceiling() : limit.rlim_max;
    out.before = out.soft = limit.rlim_cur == RLIM_INFINITY ? hard : limit.rlim_cur;
    out.hard = hard;
    if (out.soft >= hard)
        return out;
    limit.rlim_cur = static_cast<rlim_t>(hard);
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        out.error = errno;
        return out;
    }
    out.soft = hard;
    return out;
}

std::size_t connection_cap(std::uint64_t descriptors, int max_concurrent) {
    const std::uint64_t reserve = 64 + 8 * static_cast<std::uint64_t>(std::max(max_concurrent, 0));
    if (descriptors <= reserve + 2)
        return 1;
    return static_cast<std::size_t>(std::min<std::uint64_t>((descriptors - reserve) / 2, 100'000));
}

} // namespace pgexport::cli

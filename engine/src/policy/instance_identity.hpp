#pragma once
// Who an instance is, as pure functions. The default name of an instance says which process it is, on
// which boot of which host, in which PID namespace, plus a random nonce:
//     <host>:<pid>:<boot id, 8 hex>-<pid namespace inode>-<nonce, 6 hex>
// so that no two process starts share a name (a restarted container with the same host name and pid, a
// process of another container of the same host name), and so that an instance can tell whether a lease
// holder of its own host has died: only when the holder's boot and PID namespace are its own does
// kill(pid, 0) speak of the same process. Names given with --instance-id, and the older host:pid form,
// are never taken for dead: their leases run out by themselves.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// What the process knows of itself (gathered at start: gethostname, getpid, /proc).
struct process_facts {
    std::string host;
    std::int64_t pid = 0;
    std::string boot_id;            // /proc/sys/kernel/random/boot_id ("" when unknown)
    std::uint64_t pid_namespace = 0; // the inode of /proc/self/ns/pid (0 when unknown)
};

// The default instance name for `self` with `nonce` (any short text of [0-9a-z]).
std::string default_instance_id(const process_facts& self, std::string_view nonce);

// The pid of `owner` when it is a default name of a process that `self` can ask about with kill(pid, 0):
// the same host, the same boot and the same PID namespace (all known). nullopt otherwise.
std::optional<std::int64_t> pid_to_probe(std::string_view owner, const process_facts& self);

} // namespace pgexport::engine::detail

#pragma once
// Sends notifications: one POST a notification, signed as Standard Webhooks say at the moment of the try,
// all of a batch at once (libcurl's multi interface) on the caller's thread, which blocks until every try
// has ended. Each try: at most `timeout` in all (the name's resolution included), no redirect followed, no
// proxy, http and https only, and every address it connects to checked against the rule of
// policy/webhook_target (the name is resolved again at every try, and the connection goes only where the
// rule allows: a DNS answer that changed since the job was created cannot steer it inside).

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct webhook_sender_config {
    std::string key; // the HMAC key (the whsec_ secret's bytes)
    std::vector<std::string> allowed_hosts; // --webhook-allow
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

struct webhook_message {
    std::string url;
    std::string id;   // webhook-id
    std::string body; // JSON
};

struct webhook_outcome {
    std::optional<long> http_status; // nullopt: no answer
    std::optional<std::string> error; // why it was not delivered (nullopt on a 2xx)
    bool aborted = false;             // cut short by `abort`: not a try (it may or may not have arrived)
};

// One try of each message, in the same order. Never throws for a message's failure: that is its outcome.
// `abort` (set from another thread) ends the tries still in flight within about 100 ms.
std::vector<webhook_outcome> send_webhooks(const webhook_sender_config& config,
                                           const std::vector<webhook_message>& messages,
                                           const std::atomic<bool>& abort);

} // namespace pgexport::engine::detail

#include "notify/webhook_sender.hpp"

#include "format/webhook_signature.hpp"
#include "policy/webhook_target.hpp"
#include "util/curl.hpp"

#include <pgexport/version.hpp>

#include <boost/asio/ip/address.hpp>

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

// One try in flight: its handle, its headers, and what the socket callback found.
struct pending_try {
    std::size_t index = 0;
    webhook_url url;
    const std::vector<std::string>* allowed = nullptr;
    curl_easy_ptr easy;
    curl_slist_ptr headers;
    std::optional<std::string> refused; // an address the rule refused, and why
    bool added = false;
};

std::optional<asio::ip::address> address_of(const curl_sockaddr& a) {
    if (a.family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &a.addr, sizeof in);
        return asio::ip::address_v4(ntohl(in.sin_addr.s_addr));
    }
    if (a.family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &a.addr, sizeof in6);
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
        return asio::ip::address_v6(bytes);
    }
    return std::nullopt;
}

// Every connection a try makes goes through here: the address it is about to connect to, checked.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto* t = static_cast<pending_try*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    const auto a = address_of(*address);
    if (!a) {
        t->refused = "the host " + t->url.host + " resolves to an address that is neither IPv4 nor IPv6";
        return CURL_SOCKET_BAD;
    }
    if (auto why = refuse_address(t->url.host, *a, *t->allowed)) {
        t->refused = std::move(why);
        return CURL_SOCKET_BAD;
    }
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

void add_header(curl_slist_ptr& headers, const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next)
        throw std::bad_alloc();
    static_cast<void>(headers.release());
    headers.reset(next);
}

std::int64_t unix_seconds_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

webhook_outcome finished(const pending_try& t, CURLcode code) {
    webhook_outcome out;
    if (t.refused) {
        out.error = "not sent: " + *t.refused;
        return out;
    }
    if (code != CURLE_OK) {
        out.error = std::string("no answer from ") + t.url.scheme + "://" + t.url.authority_host() + ":" +
                    std::to_string(t.url.port) + ": " + curl_easy_strerror(code);
        return out;
    }
    long status = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    out.http_status = status;
    if (status < 200 || status >= 300) {
        out.error = "the receiver answered HTTP " + std::to_string(status);
        if (status >= 300 && status < 400)
            out.error->append(" (redirects are not followed)");
    }
    return out;
}

} // namespace

std::vector<webhook_outcome> send_webhooks(const webhook_sender_config& config,
                                           const std::vector<webhook_message>& messages,
                                           const std::atomic<bool>& abort) {
    curl_global_once();
    std::vector<webhook_outcome> outcomes(messages.size());
    curl_multi_ptr multi(curl_multi_init());
    if (!multi) {
        for (auto& o : outcomes)
            o.error = "cannot create a curl handle";
        return outcomes;
    }
    std::vector<std::unique_ptr<pending_try>> tries;
    const std::string agent = "User-Agent: pgexport/" + std::string(version());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const webhook_message& m = messages[i];
        auto url = parse_webhook_url(m.url);
        if (!url) {
            outcomes[i].error = "not sent: " + url.error().message; // checked at creation: never, but told
            continue;
        }
        auto t = std::make_unique<pending_try>();
        t->index = i;
        t->url = std::move(*url);
        t->allowed = &config.allowed_hosts;
        t->easy.reset(curl_easy_init());
        if (!t->easy) {
            outcomes[i].error = "cannot create a curl handle";
            continue;
        }
        // Signed now: the receiver checks the timestamp against its clock (Standard Webhooks: 5 minutes).
        const std::int64_t now = unix_seconds_now();
        add_header(t->headers, "Content-Type: application/json");
        add_header(t->headers, "webhook-id: " + m.id);
        add_header(t->headers, "webhook-timestamp: " + std::to_string(now));
        add_header(t->headers, "webhook-signature: " + webhook_signature(config.key, m.id, now, m.body));
        add_header(t->headers, agent);
        add_header(t->headers, "Expect:");
        CURL* c = t->easy.get();
        curl_easy_setopt(c, CURLOPT_URL, m.url.c_str());
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); // never through a proxy of the environment: the rule sees
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); // the address connected to
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout.count()));
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, t.get());
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, m.body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(m.body.size()));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers.get());
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_PRIVATE, t.get());
        if (curl_multi_add_handle(multi.get(), c) != CURLM_OK) {
            outcomes[i].error = "cannot start the request";
            continue;
        }
        t->added = true;
        tries.push_back(std::move(t));
    }
    int running = 0;
    std::vector<bool> done(messages.size(), false);
    do {
        if (abort.load()) {
            for (const auto& t : tries)
                if (!done[t->index])
                    outcomes[t->index] = {std::nullopt, "cut short: the server is stopping", true};
            break;
        }
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK)
            break;
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            pending_try* t = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            outcomes[t->index] = finished(*t, msg->data.result);
            done[t->index] = true;
        }
        if (running > 0)
            curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
    } while (running > 0);
    for (auto& t : tries)
        if (t->added)
            curl_multi_remove_handle(multi.get(), t->easy.get());
    for (std::size_t i = 0; i < outcomes.size(); ++i)
        if (!outcomes[i].http_status && !outcomes[i].error)
            outcomes[i].error = "the try did not finish";
    return outcomes;
}

} // namespace pgexport::engine::detail

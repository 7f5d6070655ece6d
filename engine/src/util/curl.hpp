#pragma once
// libcurl's common parts for the object storage's client and the webhook sender: the global set-up, once
// per process before the first handle (curl_global_init is not thread-safe in every build), and owners of
// its handles.

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace pgexport::engine::detail {

inline void curl_global_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct curl_easy_deleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct curl_slist_deleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct curl_multi_deleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};

using curl_easy_ptr = std::unique_ptr<CURL, curl_easy_deleter>;
using curl_slist_ptr = std::unique_ptr<curl_slist, curl_slist_deleter>;
using curl_multi_ptr = std::unique_ptr<CURLM, curl_multi_deleter>;

} // namespace pgexport::engine::detail
